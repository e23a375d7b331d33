#include "spec/expression.h"

#include <gtest/gtest.h>

#include "core/testutil.h"

namespace drone::spec {
namespace {

nlohmann::json Context() {
  return nlohmann::json::parse(R"({
    "params": {"rate": 5000, "ratio": 0.5, "name": "orders", "on": true},
    "steps": {
      "cluster": {"outputs": {"nodes": ["broker-1", "broker-2", "broker-3"],
                              "bootstrap": "127.0.0.1:9092", "count": 3}},
      "my-topic": {"outputs": {"name": "t1", "meta": {"a": 1}}}
    }
  })");
}

TEST(InterpolateTest, InsertsStringsRaw) {
  auto r = Interpolate("topic-${{ params.name }}", Context());
  ASSERT_OK(r.status());
  EXPECT_EQ(*r, "topic-orders");
}

TEST(InterpolateTest, InsertsNumbersAndBoolsAsJson) {
  auto r = Interpolate("${{ params.rate }}/${{params.ratio}}/${{ params.on }}", Context());
  ASSERT_OK(r.status());
  EXPECT_EQ(*r, "5000/0.5/true");
}

TEST(InterpolateTest, IndexesLists) {
  auto r = Interpolate("kill ${{ steps.cluster.outputs.nodes[1] }} now", Context());
  ASSERT_OK(r.status());
  EXPECT_EQ(*r, "kill broker-2 now");
}

TEST(InterpolateTest, StepIdsMayContainDashes) {
  auto r = Interpolate("${{ steps.my-topic.outputs.name }}", Context());
  ASSERT_OK(r.status());
  EXPECT_EQ(*r, "t1");
}

TEST(InterpolateTest, ObjectsAreInsertedAsCompactJson) {
  auto r = Interpolate("${{ steps.my-topic.outputs.meta }}", Context());
  ASSERT_OK(r.status());
  EXPECT_EQ(*r, R"({"a":1})");
}

TEST(InterpolateTest, TextWithoutExpressionsIsUnchanged) {
  auto r = Interpolate("plain $ text ${ not } {{ either }}", Context());
  ASSERT_OK(r.status());
  EXPECT_EQ(*r, "plain $ text ${ not } {{ either }}");
}

TEST(InterpolateTest, MissingFieldIsNotFoundNamingThePath) {
  auto r = Interpolate("${{ steps.cluster.outputs.leader }}", Context());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("steps.cluster.outputs.leader"), std::string::npos);
  EXPECT_NE(r.status().message().find("'leader'"), std::string::npos);
}

TEST(InterpolateTest, IndexOutOfRangeIsNotFound) {
  auto r = Interpolate("${{ steps.cluster.outputs.nodes[3] }}", Context());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("has 3 elements"), std::string::npos);
}

TEST(InterpolateTest, IndexIntoNonListIsNotFound) {
  auto r = Interpolate("${{ params.rate[0] }}", Context());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(InterpolateTest, MalformedExpressionsAreInvalidArgument) {
  for (const char* text :
       {"${{ params.rate", "${{ }}", "${{ params..rate }}", "${{ params. }}", "${{ 1abc }}",
        "${{ nodes[x] }}", "${{ nodes[1 }}", "${{ a b }}", "${{ a ${{ b }} }}", "${{ .a }}"}) {
    auto r = Interpolate(text, Context());
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(SplitTemplateTest, SplitsLiteralsAndReferences) {
  auto r = SplitTemplate("a-${{ params.x }}-b");
  ASSERT_OK(r.status());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].kind, TemplatePiece::Kind::kLiteral);
  EXPECT_EQ((*r)[0].text, "a-");
  EXPECT_EQ((*r)[1].kind, TemplatePiece::Kind::kReference);
  EXPECT_EQ((*r)[1].text, "params.x");
  EXPECT_EQ((*r)[1].offset, 2u);
  EXPECT_EQ((*r)[1].length, 15u);  // "${{ params.x }}"
  EXPECT_EQ((*r)[2].text, "-b");
}

TEST(ParsePathTest, ParsesNamesAndIndices) {
  auto r = ParsePath("steps.cluster.outputs.nodes[1][22]");
  ASSERT_OK(r.status());
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ(std::get<std::string>((*r)[3]), "nodes");
  EXPECT_EQ(std::get<size_t>((*r)[4]), 1u);
  EXPECT_EQ(std::get<size_t>((*r)[5]), 22u);
}

TEST(FindReferencesTest, ReturnsWellFormedPathsInOrder) {
  EXPECT_EQ(FindReferences("${{ params.a }} x ${{steps.c.outputs.n[0]}} ${{ bad. }} ${{ open"),
            (std::vector<std::string>{"params.a", "steps.c.outputs.n[0]"}));
  EXPECT_TRUE(FindReferences("no expressions").empty());
}

}  // namespace
}  // namespace drone::spec
