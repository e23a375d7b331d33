#include "spec/flow_schema.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "spec/flow_spec.h"
#include "spec/loader.h"

namespace drone::spec {
namespace {

constexpr const char* kBogusKey = "zz_not_a_key";

std::set<std::string> PropertyNames(const nlohmann::json& object_schema) {
  std::set<std::string> names;
  for (const auto& [name, value] : object_schema.at("properties").items()) names.insert(name);
  return names;
}

// The fields the loader reported as unknown keys, by dotted path.
std::set<std::string> UnknownKeys(const LoadResult& r) {
  std::set<std::string> out;
  for (const Diagnostic& d : r.errors) {
    if (d.message.rfind("unknown key", 0) == 0) out.insert(d.field);
  }
  return out;
}

// A YAML block map with every key in `keys` (set to null) and the bogus key, indented by `indent`.
std::string KeysBlock(const std::set<std::string>& keys, const std::string& indent) {
  std::string out;
  for (const std::string& k : keys) out += indent + "\"" + k + "\": ~\n";
  out += indent + kBogusKey + ": 1\n";
  return out;
}

// The loader accepts every key the schema lists for a section and rejects one it does not: run
// for each section, this makes the loader's accepted keys equal to the schema's properties.
void ExpectLoaderAcceptsExactly(const std::string& text, const std::string& bogus_path) {
  const LoadResult r = LoadFlowText(text, "f.yaml", {});
  EXPECT_EQ(UnknownKeys(r), std::set<std::string>{bogus_path}) << text;
}

TEST(FlowSchemaTest, KindsAreInStepKindOrder) {
  const std::vector<StepKindSchema>& kinds = StepKinds();
  for (size_t i = 0; i < kinds.size(); ++i) {
    EXPECT_EQ(kinds[i].name, StepKindName(static_cast<StepKind>(i)));
  }
  // One past the table is not a kind: the table covers every StepKind.
  EXPECT_STREQ(StepKindName(static_cast<StepKind>(kinds.size())), "unknown");
}

TEST(FlowSchemaTest, LoaderAcceptsExactlyTheSchemaPropertiesOfEveryKind) {
  const nlohmann::json schema = FlowJsonSchema();
  for (const StepKindSchema& kind : StepKinds()) {
    SCOPED_TRACE(kind.name);
    const nlohmann::json& with = schema.at("$defs").at("with." + kind.name);
    const std::set<std::string> keys = PropertyNames(with);
    EXPECT_EQ(keys.size(), kind.with.size());
    const std::string text = "name: t\nsteps:\n  s:\n    kind: " + kind.name + "\n    with:\n" +
                             KeysBlock(keys, "      ");
    ExpectLoaderAcceptsExactly(text, std::string("steps.s.with.") + kBogusKey);
  }
}

TEST(FlowSchemaTest, LoaderAcceptsExactlyTheSchemaPropertiesOfStepsAndTopLevel) {
  const nlohmann::json schema = FlowJsonSchema();
  ExpectLoaderAcceptsExactly(
      "name: t\nsteps:\n  s:\n" + KeysBlock(PropertyNames(schema.at("$defs").at("step")), "    "),
      std::string("steps.s.") + kBogusKey);
  ExpectLoaderAcceptsExactly(KeysBlock(PropertyNames(schema), ""), kBogusKey);
}

TEST(FlowSchemaTest, LoaderAcceptsExactlyTheSchemaPropertiesOfSizeAndKeys) {
  const nlohmann::json schema = FlowJsonSchema();
  for (const char* section : {"size", "keys"}) {
    SCOPED_TRACE(section);
    const std::string def = std::string(section) == "size" ? "size_distribution" : "keys";
    const std::string text = "name: t\nsteps:\n  s:\n    kind: workload\n    with:\n      " +
                             std::string(section) + ":\n" +
                             KeysBlock(PropertyNames(schema.at("$defs").at(def)), "        ");
    ExpectLoaderAcceptsExactly(text, "steps.s.with." + std::string(section) + "." + kBogusKey);
  }
}

TEST(FlowSchemaTest, StepsAreDiscriminatedByKind) {
  const nlohmann::json schema = FlowJsonSchema();
  const nlohmann::json& step = schema.at("$defs").at("step");
  EXPECT_EQ(step.at("additionalProperties"), false);
  std::set<std::string> discriminated;
  for (const nlohmann::json& branch : step.at("allOf")) {
    const std::string kind = branch.at("if").at("properties").at("kind").at("const");
    EXPECT_EQ(branch.at("then").at("properties").at("with").at("$ref"), "#/$defs/with." + kind);
    discriminated.insert(kind);
  }
  const std::vector<std::string> names = StepKindNames();
  EXPECT_EQ(discriminated, std::set<std::string>(names.begin(), names.end()));
}

TEST(FlowSchemaTest, RequiredFieldsAndDefaultsComeFromTheTable) {
  const nlohmann::json schema = FlowJsonSchema();
  EXPECT_EQ(schema.at("required"), nlohmann::json({"name", "steps"}));
  const nlohmann::json& exec = schema.at("$defs").at("with.exec");
  EXPECT_EQ(exec.at("required"), nlohmann::json({"argv"}));
  EXPECT_EQ(exec.at("additionalProperties"), false);
  const nlohmann::json& cluster = schema.at("$defs").at("with.cluster");
  EXPECT_EQ(cluster.at("properties").at("nodes").at("default"), 3);
  EXPECT_EQ(cluster.at("properties").at("nodes").at("anyOf").at(0).at("maximum"), 16);
}

}  // namespace
}  // namespace drone::spec
