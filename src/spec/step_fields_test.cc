// Fields every step has that the engine interprets: retry (and when).
#include <gtest/gtest.h>

#include "spec/loader.h"

namespace drone::spec {
namespace {

constexpr int64_t kSec = 1'000'000'000;

LoadResult Load(const std::string& step_fields) {
  return LoadFlowText("name: t\nparams: { acks: all }\nsteps:\n  a: { kind: sleep, with: { duration: 1s } }\n"
                      "  s: { kind: sleep, needs: [a], with: { duration: 1s }, " + step_fields + " }\n",
                      "f.yaml", {});
}

std::string Errors(const LoadResult& r) {
  std::string out;
  for (const Diagnostic& d : r.errors) out += d.ToString() + "\n";
  return out;
}

const Step& StepS(const LoadResult& r) { return r.flow->steps.at(1); }

TEST(StepFieldsTest, RetryShorthandSetsTheLimitWithDefaultBackoff) {
  LoadResult r = Load("retry: 3");
  ASSERT_TRUE(r.flow) << Errors(r);
  EXPECT_EQ(StepS(r).retry.limit, 3);
  EXPECT_EQ(StepS(r).retry.backoff_ns, 1 * kSec);
  EXPECT_EQ(StepS(r).retry.max_backoff_ns, 30 * kSec);
  EXPECT_EQ(StepS(r).retry.jitter, 0);
  LoadResult none = Load("on_error: stop");
  ASSERT_TRUE(none.flow) << Errors(none);
  EXPECT_EQ(StepS(none).retry.limit, 0) << "no retry unless asked";
}

TEST(StepFieldsTest, RetryMapReadsEveryField) {
  LoadResult r = Load("retry: { limit: 2, backoff: 250ms, max_backoff: 4s, jitter: 0.2 }");
  ASSERT_TRUE(r.flow) << Errors(r);
  EXPECT_EQ(StepS(r).retry.limit, 2);
  EXPECT_EQ(StepS(r).retry.backoff_ns, kSec / 4);
  EXPECT_EQ(StepS(r).retry.max_backoff_ns, 4 * kSec);
  EXPECT_DOUBLE_EQ(StepS(r).retry.jitter, 0.2);
  // A backoff longer than the default cap raises the cap.
  LoadResult longer = Load("retry: { limit: 1, backoff: 1m }");
  ASSERT_TRUE(longer.flow) << Errors(longer);
  EXPECT_EQ(StepS(longer).retry.max_backoff_ns, 60 * kSec);
}

TEST(StepFieldsTest, BadRetriesAreReportedWithTheirField) {
  struct Case {
    const char* fields;
    const char* field;
    const char* message;
  } cases[] = {
      {"retry: -1", "steps.s.retry", "between 0 and 100"},
      {"retry: lots", "steps.s.retry", "expected an integer"},
      {"retry: { backoff: 1s }", "steps.s.retry.limit", "missing required field 'limit'"},
      {"retry: { limit: 1, jitter: 1.5 }", "steps.s.retry.jitter", "a fraction between 0 and 1"},
      {"retry: { limit: 1, backof: 1s }", "steps.s.retry.backof", "unknown key"},
      {"retry: { limit: 1, backoff: soon }", "steps.s.retry.backoff", ""},
  };
  for (const Case& c : cases) {
    LoadResult r = Load(c.fields);
    ASSERT_EQ(r.errors.size(), 1u) << c.fields << ":\n" << Errors(r);
    EXPECT_EQ(r.errors[0].field, c.field) << c.fields;
    EXPECT_NE(r.errors[0].message.find(c.message), std::string::npos) << Errors(r);
    EXPECT_FALSE(r.flow) << c.fields;
  }
}

TEST(StepFieldsTest, WhenSubstitutesParamsAndKeepsStepOutputs) {
  LoadResult ok = Load("when: \"${{ params.acks }} == all\"");
  ASSERT_TRUE(ok.flow) << Errors(ok);
  EXPECT_EQ(StepS(ok).when, "all == all");
  LoadResult out = Load("when: \"${{ steps.a.outputs.slept_ms }} > 0\"");
  ASSERT_TRUE(out.flow) << Errors(out);
  EXPECT_EQ(StepS(out).when, "${{ steps.a.outputs.slept_ms }} > 0");
}

TEST(StepFieldsTest, BadWhensAreCaughtBeforeTheRun) {
  struct Case {
    const char* fields;
    const char* message;
  } cases[] = {
      {"when: \"${{ params.nope }} == 1\"", "unknown parameter 'nope'"},
      {"when: \"${{ steps.zz.outputs.x }} == 1\"", "unknown step 'zz'"},
      {"when: \"${{ steps.s.outputs.x }} == 1\"", "its own outputs"},
      {"when: \"${{ params.acks }} > 1\"", "compare numbers only"},
      {"when: \"a == \"", "both sides"},
      {"when: ", "empty"},
  };
  for (const Case& c : cases) {
    LoadResult r = Load(c.fields);
    ASSERT_EQ(r.errors.size(), 1u) << c.fields << ":\n" << Errors(r);
    EXPECT_EQ(r.errors[0].field, "steps.s.when") << c.fields;
    EXPECT_NE(r.errors[0].message.find(c.message), std::string::npos) << Errors(r);
  }
}

}  // namespace
}  // namespace drone::spec
