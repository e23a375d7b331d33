#include "verify/expectation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testutil.h"
#include "verify/delivery_ledger.h"

namespace drone::verify {
namespace {

using ::testing::HasSubstr;

nlohmann::json Percentiles(double p50, double p99) {
  return {{"p50", p50}, {"p90", p50}, {"p99", p99}, {"p999", p99}, {"max", p99}};
}

nlohmann::json Window(double e2e_p50) {
  return {{"seconds", 5},
          {"throughput", {{"sent_per_s", 500}, {"acked_per_s", 500}, {"received_per_s", 480}}},
          {"latency_ms",
           {{"publish", Percentiles(e2e_p50 / 2, e2e_p50)},
            {"end_to_end", Percentiles(e2e_p50, e2e_p50 * 2)}}}};
}

// One fault window of workload/phases.h.
nlohmann::json PhaseSample(double before_p50, double during_p50) {
  return {{"fault", "slow"},
          {"before", Window(before_p50)},
          {"during", Window(during_p50)},
          {"after", Window(before_p50)},
          {"recovery_s", 1.5}};
}

// A workload result as in DESIGN.md's result contract, plus one extension field.
nlohmann::json SampleResult() {
  nlohmann::json delivery = DeliveryReport{}.ToJson();
  delivery["lost"] = 3;
  delivery["failed"] = 4;
  return {
      {"sent", 1000},
      {"acked", 990},
      {"failed", 7},
      {"indeterminate", 3},
      {"received", 985},
      {"delivery", delivery},
      {"latency_ms",
       {{"publish", Percentiles(2.5, 150)},
        {"service", Percentiles(2, 140)},
        {"end_to_end", Percentiles(12, 1834.25)}}},
      {"throughput", {{"sent_per_s", 4990.5}, {"received_per_s", 4980}, {"mb_per_s", 2.4}}},
      {"recovery_s", 4.2},
      {"label", "eu-west"},
      {"phases", nlohmann::json::array({PhaseSample(5, 105), PhaseSample(6, 7)})},
  };
}

struct GoodCondition {
  const char* text;
  CompareOp op;
  double value;
  bool is_duration;
  const char* normalised;
};

TEST(ParseConditionTest, AcceptsNumbersDurationsAndOperators) {
  const GoodCondition cases[] = {
      {"0", CompareOp::kEq, 0, false, "== 0"},
      {"12.5", CompareOp::kEq, 12.5, false, "== 12.5"},
      {"< 2s", CompareOp::kLt, 2e9, true, "< 2s"},
      {"<= 150ms", CompareOp::kLe, 150e6, true, "<= 150ms"},
      {"> 1000", CompareOp::kGt, 1000, false, "> 1000"},
      {">= 0.5", CompareOp::kGe, 0.5, false, ">= 0.5"},
      {"== 0", CompareOp::kEq, 0, false, "== 0"},
      {"!= 0", CompareOp::kNe, 0, false, "!= 0"},
      {"<2s", CompareOp::kLt, 2e9, true, "< 2s"},
      {"  >=  3  ", CompareOp::kGe, 3, false, ">= 3"},
      {"> -1", CompareOp::kGt, -1, false, "> -1"},
      {"1.5s", CompareOp::kEq, 1.5e9, true, "== 1.5s"},
      {"< 250us", CompareOp::kLt, 250e3, true, "< 250us"},
  };
  for (const GoodCondition& c : cases) {
    Result<Condition> condition = ParseCondition(c.text);
    ASSERT_OK(condition.status());
    EXPECT_EQ(condition->op, c.op) << c.text;
    EXPECT_DOUBLE_EQ(condition->value, c.value) << c.text;
    EXPECT_EQ(condition->is_duration, c.is_duration) << c.text;
    EXPECT_EQ(condition->ToString(), c.normalised) << c.text;
  }
}

TEST(ParseConditionTest, RejectsOtherFormsAndSaysWhatIsAccepted) {
  for (const char* text : {"", "  ", "<", "= 0", "=< 3", "abc", "< fast", "2 sec", "<< 2", "1.2.3",
                           "inf", "nan", "0x10", "< 2s tomorrow"}) {
    Result<Condition> condition = ParseCondition(text);
    ASSERT_FALSE(condition.ok()) << "'" << text << "' was accepted";
    EXPECT_EQ(condition.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(condition.status().message(), HasSubstr("'< 2s'")) << text;
  }
  EXPECT_THAT(ParseCondition("< 2 sec").status().message(), HasSubstr("unknown unit 'sec'"));
}

TEST(ResolveFieldTest, DottedPathsAndShorthands) {
  const nlohmann::json result = SampleResult();
  const std::pair<const char*, nlohmann::json> cases[] = {
      {"delivery.lost", 3},
      {"lost", 3},             // a delivery category alone
      {"duplicated", 0},       //
      {"failed", 7},           // top-level wins over the category...
      {"delivery.failed", 4},  // ...which stays reachable by its path
      {"sent", 1000},
      {"latency.end_to_end.p99", 1834.25},
      {"latency_ms.end_to_end.p99", 1834.25},
      {"latency.publish.max", 150},
      {"throughput.mb_per_s", 2.4},
      {"recovery_s", 4.2},  // fields beyond the contract resolve too
      {" lost ", 3},
  };
  for (const auto& [field, expected] : cases) {
    Result<const nlohmann::json*> value = ResolveField(result, field);
    ASSERT_OK(value.status());
    EXPECT_EQ(*value.value(), expected) << field;
  }
}

TEST(ResolveFieldTest, UnknownFieldsAreNotFoundWithTheValidNames) {
  const nlohmann::json result = SampleResult();
  Result<const nlohmann::json*> value = ResolveField(result, "lots");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(value.status().message(), HasSubstr("acked, delivery, failed"));
  EXPECT_THAT(value.status().message(), HasSubstr("latency_ms"));
  EXPECT_THAT(value.status().message(), HasSubstr("Did you mean 'lost'?"));

  value = ResolveField(result, "latency.end_to_end.p98");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(value.status().message(), HasSubstr("'latency_ms.end_to_end' has no field 'p98'"));
  EXPECT_THAT(value.status().message(), HasSubstr("p99"));

  value = ResolveField(result, "lost.count");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), StatusCode::kNotFound);

  for (const char* malformed : {"", "a..b", ".lost", "lost."}) {
    value = ResolveField(result, malformed);
    ASSERT_FALSE(value.ok()) << malformed;
    EXPECT_EQ(value.status().code(), StatusCode::kInvalidArgument) << malformed;
  }
}

CheckOutcome MustEvaluate(const nlohmann::json& result, const char* field, const char* condition) {
  Result<Condition> parsed = ParseCondition(condition);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  Result<CheckOutcome> outcome = Evaluate(result, field, parsed.value());
  EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
  return outcome.ok() ? outcome.value() : CheckOutcome{};
}

TEST(EvaluateTest, DurationsCompareInTheFieldsUnit) {
  nlohmann::json result = SampleResult();
  CheckOutcome outcome = MustEvaluate(result, "latency.end_to_end.p99", "< 2s");
  EXPECT_TRUE(outcome.passed);
  EXPECT_EQ(outcome.expect, "latency.end_to_end.p99 < 2s");
  EXPECT_EQ(outcome.observed, 1834.25);
  EXPECT_EQ(outcome.message, "latency.end_to_end.p99 is 1834.25 ms (< 2s)");

  EXPECT_FALSE(MustEvaluate(result, "latency.end_to_end.p99", "< 1s").passed);
  EXPECT_TRUE(MustEvaluate(result, "latency.publish.p99", "<= 150ms").passed);
  EXPECT_FALSE(MustEvaluate(result, "latency.publish.p99", "< 150ms").passed);
  EXPECT_TRUE(MustEvaluate(result, "latency.publish.p50", "> 2000us").passed);

  outcome = MustEvaluate(result, "recovery_s", "< 4s");  // "_s": seconds
  EXPECT_FALSE(outcome.passed);
  EXPECT_EQ(outcome.message, "recovery_s is 4.2 s, expected < 4s");
  EXPECT_TRUE(MustEvaluate(result, "recovery_s", "< 4500ms").passed);
}

TEST(EvaluateTest, CountsCompareAsNumbers) {
  const nlohmann::json result = SampleResult();
  CheckOutcome outcome = MustEvaluate(result, "lost", "0");
  EXPECT_FALSE(outcome.passed);
  EXPECT_EQ(outcome.expect, "lost == 0");
  EXPECT_EQ(outcome.observed, 3);
  EXPECT_EQ(outcome.message, "lost is 3, expected == 0");
  EXPECT_TRUE(MustEvaluate(result, "duplicated", "== 0").passed);
  EXPECT_TRUE(MustEvaluate(result, "throughput.sent_per_s", ">= 4990.5").passed);
  EXPECT_FALSE(MustEvaluate(result, "throughput.sent_per_s", "> 4990.5").passed);
  EXPECT_TRUE(MustEvaluate(result, "acked", "!= 0").passed);
}

TEST(EvaluateTest, DurationAgainstANonTimeFieldIsAnError) {
  const nlohmann::json result = SampleResult();
  Result<Condition> condition = ParseCondition("< 2s");
  ASSERT_OK(condition.status());
  for (const char* field : {"lost", "throughput.sent_per_s", "sent"}) {
    Result<CheckOutcome> outcome = Evaluate(result, field, condition.value());
    ASSERT_FALSE(outcome.ok()) << field;
    EXPECT_EQ(outcome.status().code(), StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(outcome.status().message(), HasSubstr("not a time")) << field;
  }
}

TEST(EvaluateTest, NonNumericFieldIsAnErrorAndNullFails) {
  nlohmann::json result = SampleResult();
  Result<Condition> condition = ParseCondition("0");
  ASSERT_OK(condition.status());
  for (const char* field : {"label", "latency.end_to_end", "delivery"}) {
    Result<CheckOutcome> outcome = Evaluate(result, field, condition.value());
    ASSERT_FALSE(outcome.ok()) << field;
    EXPECT_EQ(outcome.status().code(), StatusCode::kInvalidArgument) << field;
  }
  Result<CheckOutcome> missing = Evaluate(result, "lots", condition.value());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  result["latency_ms"]["end_to_end"]["p99"] = nullptr;  // nothing was received
  CheckOutcome outcome = MustEvaluate(result, "latency.end_to_end.p99", "< 2s");
  EXPECT_FALSE(outcome.passed);
  EXPECT_TRUE(outcome.observed.is_null());
  EXPECT_THAT(outcome.message, HasSubstr("no value"));
}

TEST(ValidateExpectationTest, AcceptsKnownFields) {
  EXPECT_OK(ValidateExpectation("lost", "0"));
  EXPECT_OK(ValidateExpectation("delivery.duplicated", "== 0"));
  EXPECT_OK(ValidateExpectation("latency.end_to_end.p99", "< 2s"));
  EXPECT_OK(ValidateExpectation("latency_ms.service.p999", "<= 300ms"));
  EXPECT_OK(ValidateExpectation("throughput.received_per_s", ">= 1000"));
  EXPECT_OK(ValidateExpectation("received", "> 0"));
}

TEST(ValidateExpectationTest, RejectsTyposGroupsAndMismatchedUnits) {
  struct Bad {
    const char* field;
    const char* condition;
    const char* message;
  };
  const Bad cases[] = {
      {"lots", "0", "Did you mean 'lost'?"},
      {"latency.end_to_end.99", "< 2s", "Did you mean 'latency.end_to_end.p99'?"},
      {"latency.endtoend.p99", "< 2s", "Did you mean 'latency.end_to_end.p99'?"},
      {"latency.end_to_end", "< 2s", "p50, p90, p99, p999, max"},
      {"delivery", "0", "group of fields"},
      {"lost", "< 2s", "not a time"},
      {"throughput.sent_per_s", "> 1s", "not a time"},
      {"lost", "<>", "is not understood"},
      {"a..b", "0", "not a field name"},
      {"recovery_s", "< 5s", "no such field"},  // not in the contract (yet)
  };
  for (const Bad& c : cases) {
    const Status status = ValidateExpectation(c.field, c.condition);
    ASSERT_FALSE(status.ok()) << c.field << " " << c.condition;
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(status.message(), HasSubstr(c.message)) << c.field;
  }
}

TEST(KnownResultFieldsTest, EveryKnownFieldResolvesInAContractResult) {
  const nlohmann::json result = SampleResult();
  for (const std::string& field : KnownResultFields()) {
    Result<const nlohmann::json*> value = ResolveField(result, field);
    ASSERT_OK(value.status());
    EXPECT_TRUE(value.value()->is_number()) << field;
    EXPECT_OK(ValidateExpectation(field, "0"));
  }
}

TEST(PhasesTest, IndexedFaultWindowsResolveWithTheLatencyShorthand) {
  const nlohmann::json result = SampleResult();
  Result<const nlohmann::json*> v = ResolveField(result, "phases[0].during.latency.end_to_end.p50");
  ASSERT_OK(v.status());
  EXPECT_EQ(**v, 105);
  v = ResolveField(result, "phases[1].during.latency_ms.end_to_end.p50");
  ASSERT_OK(v.status());
  EXPECT_EQ(**v, 7);
  Result<Condition> c = ParseCondition("> 80ms");
  ASSERT_OK(c.status());
  Result<CheckOutcome> o = Evaluate(result, "phases[0].during.latency.end_to_end.p50", *c);
  ASSERT_OK(o.status());
  EXPECT_TRUE(o->passed) << o->message;
  o = Evaluate(result, "phases[1].during.latency.end_to_end.p50", *c);
  ASSERT_OK(o.status());
  EXPECT_FALSE(o->passed);
  c = ParseCondition("< 1s");
  ASSERT_OK(c.status());
  o = Evaluate(result, "phases[0].recovery_s", *c);
  ASSERT_OK(o.status());
  EXPECT_FALSE(o->passed) << "recovery_s is in seconds: 1.5 s is not < 1 s";
}

TEST(PhasesTest, AMissingWindowSaysHowManyThereAre) {
  Result<const nlohmann::json*> v = ResolveField(SampleResult(), "phases[2].during.seconds");
  EXPECT_EQ(v.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(v.status().message(), HasSubstr("2 fault windows"));
}

TEST(PhasesTest, ValidationKnowsTheWindowFieldsForAnyIndex) {
  EXPECT_OK(ValidateExpectation("phases[3].after.throughput.received_per_s", "> 100"));
  EXPECT_OK(ValidateExpectation("phases[0].during.latency.end_to_end.p99", "< 2s"));
  EXPECT_OK(ValidateExpectation("phases[0].recovery_s", "< 5s"));
  EXPECT_FALSE(ValidateExpectation("phases[0].durring.seconds", "0").ok());
  EXPECT_FALSE(ValidateExpectation("phases[0].during.throughput.received_per_s", "< 5s").ok());
  EXPECT_FALSE(ValidateExpectation("phases[x].during.seconds", "0").ok());
}

TEST(KnownResultFieldsTest, CoversEveryDeliveryCategoryOfTheReport) {
  const std::vector<std::string>& known = KnownResultFields();
  const nlohmann::json delivery = DeliveryReport{}.ToJson();
  for (const auto& [key, value] : delivery.items()) {
    if (!value.is_number()) continue;
    EXPECT_NE(std::find(known.begin(), known.end(), "delivery." + key), known.end()) << key;
  }
}

}  // namespace
}  // namespace drone::verify
