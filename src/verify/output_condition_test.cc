#include "verify/output_condition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace drone::verify {
namespace {

using ::testing::HasSubstr;

OutputCondition Parse(std::string_view text) {
  Result<OutputCondition> c = ParseOutputCondition(text);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : OutputCondition{};
}

TEST(OutputConditionTest, TextEqualityComparesStrings) {
  const nlohmann::json ready = "ready";
  const nlohmann::json starting = "starting";
  EXPECT_TRUE(EvaluateOutput(&ready, "steps.a.outputs.s", Parse("== ready")).passed);
  EXPECT_FALSE(EvaluateOutput(&starting, "steps.a.outputs.s", Parse("== ready")).passed);
  EXPECT_TRUE(EvaluateOutput(&starting, "steps.a.outputs.s", Parse("!= ready")).passed);
  EXPECT_TRUE(EvaluateOutput(&ready, "steps.a.outputs.s", Parse("== \"ready\"")).passed);
}

TEST(OutputConditionTest, TextConditionShowsWhatWasObserved) {
  const nlohmann::json starting = "starting";
  const CheckOutcome o = EvaluateOutput(&starting, "steps.a.outputs.s", Parse("==ready"));
  EXPECT_EQ(o.expect, "steps.a.outputs.s == ready");
  EXPECT_THAT(o.message, HasSubstr("'starting'"));
  EXPECT_EQ(o.observed, starting);
}

TEST(OutputConditionTest, NumbersCompareWithNumbersAndNumericText) {
  const nlohmann::json seven = 7;
  const nlohmann::json seven_text = " 7";
  const nlohmann::json word = "seven";
  EXPECT_TRUE(EvaluateOutput(&seven, "steps.a.outputs.n", Parse(">= 5")).passed);
  EXPECT_FALSE(EvaluateOutput(&seven, "steps.a.outputs.n", Parse("< 5")).passed);
  EXPECT_TRUE(EvaluateOutput(&seven_text, "steps.a.outputs.stdout", Parse("7")).passed);
  const CheckOutcome o = EvaluateOutput(&word, "steps.a.outputs.stdout", Parse("> 1"));
  EXPECT_FALSE(o.passed);
  EXPECT_THAT(o.message, HasSubstr("not a number"));
}

TEST(OutputConditionTest, DurationsFollowTheUnitOfTheName) {
  const nlohmann::json ms = 1500;
  const nlohmann::json s = 1.5;
  EXPECT_TRUE(EvaluateOutput(&ms, "steps.a.outputs.elapsed_ms", Parse("< 2s")).passed);
  EXPECT_FALSE(EvaluateOutput(&ms, "steps.a.outputs.elapsed_ms", Parse("< 1s")).passed);
  EXPECT_TRUE(EvaluateOutput(&s, "steps.a.outputs.took_s", Parse("> 1200ms")).passed);
  const CheckOutcome o = EvaluateOutput(&ms, "steps.a.outputs.count", Parse("< 2s"));
  EXPECT_FALSE(o.passed);
  EXPECT_THAT(o.message, HasSubstr("not a time"));
}

TEST(OutputConditionTest, AMissingOutputHoldsForNothing) {
  const CheckOutcome eq = EvaluateOutput(nullptr, "steps.a.outputs.s", Parse("!= ready"));
  EXPECT_FALSE(eq.passed);
  EXPECT_THAT(eq.message, HasSubstr("not set"));
  EXPECT_FALSE(EvaluateOutput(nullptr, "steps.a.outputs.n", Parse("0")).passed);
}

TEST(OutputConditionTest, RejectsWhatIsNeitherNumericNorTextEquality) {
  EXPECT_FALSE(ParseOutputCondition("< ready").ok());
  EXPECT_FALSE(ParseOutputCondition("ready").ok());
  EXPECT_FALSE(ParseOutputCondition("== ").ok());
  EXPECT_FALSE(ParseOutputCondition("").ok());
}

}  // namespace
}  // namespace drone::verify
