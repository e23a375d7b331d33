#include "verify/verdict.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace drone::verify {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr Verdict P = Verdict::kPass;
constexpr Verdict F = Verdict::kFail;
constexpr Verdict U = Verdict::kUnknown;

struct VerdictCase {
  const char* category;
  uint64_t DeliveryReport::*field;
  // Expected verdict for at-most-once, at-least-once, exactly-once, ordered.
  Verdict expected[4];
};

// One category at a time, on an otherwise clean report.
const VerdictCase kCases[] = {
    {"ok", &DeliveryReport::ok, {P, P, P, P}},
    {"corrupt", &DeliveryReport::corrupt, {F, F, F, F}},
    {"lost", &DeliveryReport::lost, {P, F, F, F}},
    {"duplicated", &DeliveryReport::duplicated, {F, P, F, P}},
    {"phantom", &DeliveryReport::phantom, {P, P, F, P}},
    {"reordered", &DeliveryReport::reordered, {P, P, P, F}},
    {"unseen", &DeliveryReport::unseen, {U, U, U, U}},
    {"recovered", &DeliveryReport::recovered, {P, P, P, P}},
    {"unknown", &DeliveryReport::unknown, {P, P, P, P}},
    {"failed", &DeliveryReport::failed, {P, P, P, P}},
    {"unexpected", &DeliveryReport::unexpected, {P, P, P, P}},
    {"unacked_received", &DeliveryReport::unacked_received, {P, P, P, P}},
};

const Guarantee kGuarantees[] = {Guarantee::kAtMostOnce, Guarantee::kAtLeastOnce,
                                 Guarantee::kExactlyOnce, Guarantee::kOrdered};

TEST(VerdictTest, EachCategoryAgainstEachGuarantee) {
  for (const VerdictCase& c : kCases) {
    DeliveryReport report;
    report.ok = 10;
    report.*c.field += 2;
    for (int g = 0; g < 4; ++g) {
      const Judgement judgement = Judge(report, kGuarantees[g]);
      EXPECT_EQ(judgement.verdict, c.expected[g])
          << c.category << " under " << GuaranteeName(kGuarantees[g]) << ": got "
          << VerdictName(judgement.verdict);
      // Reasons exactly when the verdict is not a pass.
      EXPECT_EQ(judgement.reasons.empty(), judgement.verdict == Verdict::kPass)
          << c.category << " under " << GuaranteeName(kGuarantees[g]);
    }
  }
}

TEST(VerdictTest, FailureOutranksUnseen) {
  DeliveryReport report;
  report.lost = 1;
  report.lost_tail = 1;
  report.unseen = 5;
  const Judgement judgement = Judge(report, Guarantee::kAtLeastOnce);
  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  ASSERT_EQ(judgement.reasons.size(), 1u);
  EXPECT_THAT(judgement.reasons[0], HasSubstr("lost"));
  EXPECT_EQ(Judge(report, Guarantee::kAtMostOnce).verdict, Verdict::kUnknown);
}

TEST(VerdictTest, ReasonsAreSentencesWithExamples) {
  DeliveryReport report;
  report.lost = 3;
  report.lost_gap = 2;
  report.lost_tail = 1;
  report.examples["lost"] = {"p1/orders/3#42", "p1/orders/3#43", "p1/orders/3#44",
                             "p1/orders/3#45"};
  report.duplicated = 1;
  report.duplicate_copies = 2;
  report.examples["duplicated"] = {"p2/orders/0#7"};
  report.corrupt = 1;
  const Judgement judgement = Judge(report, Guarantee::kExactlyOnce);
  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  EXPECT_THAT(judgement.reasons,
              ElementsAre("1 received copy failed the payload checksum",
                          "3 acknowledged messages were lost (2 gap, 1 tail), e.g. "
                          "p1/orders/3#42, p1/orders/3#43, p1/orders/3#44",
                          "1 message was delivered more than once (2 extra copies), e.g. "
                          "p2/orders/0#7"));
}

TEST(VerdictTest, UnknownSaysWhy) {
  DeliveryReport report;
  report.unseen = 1;
  report.examples["unseen"] = {"p1/orders/0#9"};
  const Judgement judgement = Judge(report, Guarantee::kOrdered);
  EXPECT_EQ(judgement.verdict, Verdict::kUnknown);
  EXPECT_THAT(judgement.reasons,
              ElementsAre("1 acknowledged message was not read before the drain timed out, so "
                          "ordered could not be confirmed, e.g. p1/orders/0#9"));
}

TEST(VerdictTest, CleanReportPassesWithoutReasons) {
  DeliveryReport report;
  report.ok = 1000;
  for (Guarantee guarantee : kGuarantees) {
    const Judgement judgement = Judge(report, guarantee);
    EXPECT_EQ(judgement.verdict, Verdict::kPass);
    EXPECT_THAT(judgement.reasons, IsEmpty());
  }
}

TEST(VerdictTest, Names) {
  EXPECT_STREQ(VerdictName(Verdict::kPass), "pass");
  EXPECT_STREQ(VerdictName(Verdict::kFail), "fail");
  EXPECT_STREQ(VerdictName(Verdict::kUnknown), "unknown");
}

}  // namespace
}  // namespace drone::verify
