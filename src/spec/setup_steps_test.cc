// Which steps `drone up` runs: spec/setup_steps.h, over flows read by the loader.
#include "spec/setup_steps.h"

#include <gtest/gtest.h>

#include "spec/loader.h"

namespace drone::spec {
namespace {

using Ids = std::vector<std::string>;

FlowSpec Load(const std::string& steps) {
  LoadResult r = LoadFlowText("name: t\nsteps:\n" + steps + "finally:\n"
                              "  bye: { kind: sleep, with: { duration: 1s } }\n",
                              "f.yaml", {});
  std::string errors;
  for (const Diagnostic& d : r.errors) errors += d.ToString() + "\n";
  EXPECT_TRUE(r.flow) << errors;
  return r.flow ? *r.flow : FlowSpec{};
}

constexpr const char* kClusterTopicLoad =
    "  kafka: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 1 } }\n"
    "  orders: { kind: topic, needs: [kafka], with: { name: orders } }\n"
    "  load: { kind: workload, needs: [orders], with: { topic: orders, messages: 10 } }\n"
    "  verify: { kind: check, needs: [load], with: { expect: { lost: 0 } } }\n";

TEST(SetupStepsTest, ClusterAndTopicStepsAreSetUpByDefault) {
  const FlowSpec flow = Load(kClusterTopicLoad);
  EXPECT_EQ(SetupStepIds(flow), (Ids{"kafka", "orders"}));
  const FlowSpec setup = SetupFlow(flow);
  ASSERT_EQ(setup.steps.size(), 2u);
  EXPECT_EQ(setup.steps[0].id, "kafka");
  EXPECT_EQ(setup.steps[1].id, "orders");
  EXPECT_TRUE(setup.finally.empty()) << "a standing environment has nothing to finish";
  EXPECT_EQ(setup.name, "t");
}

TEST(SetupStepsTest, MarkedStepsComeWithWhatTheyNeed) {
  const FlowSpec flow = Load(
      "  prepare: { kind: sleep, with: { duration: 1s } }\n"
      "  kafka: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 1 } }\n"
      "  seed: { kind: exec, needs: [prepare, kafka], setup: true, with: { argv: [/bin/true] } }\n"
      "  other: { kind: sleep, with: { duration: 1s } }\n");
  EXPECT_EQ(SetupStepIds(flow), (Ids{"prepare", "kafka", "seed"}));
}

TEST(SetupStepsTest, SetupFalseLeavesAClusterOut) {
  const FlowSpec flow = Load(
      "  kafka: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 1 } }\n"
      "  scratch: { kind: cluster, setup: false, with: { broker: kafka, platform: embedded, nodes: 1 } }\n");
  EXPECT_EQ(SetupStepIds(flow), (Ids{"kafka"}));
}

TEST(SetupStepsTest, AFlowWithoutSetUpStepsHasNone) {
  const FlowSpec flow = Load("  nap: { kind: sleep, with: { duration: 1s } }\n");
  EXPECT_TRUE(SetupStepIds(flow).empty());
  EXPECT_TRUE(SetupFlow(flow).steps.empty());
}

}  // namespace
}  // namespace drone::spec
