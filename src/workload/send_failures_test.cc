#include "workload/send_failures.h"

#include <gtest/gtest.h>

namespace drone::workload {
namespace {

TEST(SendFailuresTest, CountsPerOutcomeAndTextMostFrequentFirst) {
  SendFailures f;
  for (int i = 0; i < 3; ++i) f.Add(true, "no responders");
  f.Add(false, "no delivery report", 5);
  f.Add(false, "no responders");  // the same text as an indeterminate outcome is its own entry
  f.Add(true, "");
  const std::vector<SendFailure> top = f.Top(10);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0].error, "no delivery report");
  EXPECT_FALSE(top[0].nack);
  EXPECT_EQ(top[0].count, 5u);
  EXPECT_EQ(top[1].error, "no responders");
  EXPECT_TRUE(top[1].nack);
  EXPECT_EQ(top[1].count, 3u);
  // Ties: nacks first.
  EXPECT_EQ(top[2].error, SendFailures::kNoReason);
  EXPECT_TRUE(top[2].nack);
  EXPECT_EQ(top[3].error, "no responders");
  EXPECT_FALSE(top[3].nack);
  EXPECT_EQ(f.Top(2).size(), 2u);
}

TEST(SendFailuresTest, DistinctTextsBeyondTheLimitAreCountedTogether) {
  SendFailures f;
  for (size_t i = 0; i < SendFailures::kMaxDistinct + 10; ++i) f.Add(true, "timeout at offset " + std::to_string(i));
  f.Add(true, "timeout at offset 0");  // a known text still counts under its own name
  uint64_t total = 0;
  for (const auto& [key, count] : f.counts()) total += count;
  EXPECT_EQ(total, SendFailures::kMaxDistinct + 11);
  EXPECT_EQ(f.counts().size(), SendFailures::kMaxDistinct + 1);
  EXPECT_EQ(f.counts().at({true, std::string(SendFailures::kOtherErrors)}), 10u);
  EXPECT_EQ(f.counts().at({true, "timeout at offset 0"}), 2u);
}

TEST(SendFailuresTest, MergeAddsUp) {
  SendFailures a, b;
  a.Add(true, "x", 2);
  b.Add(true, "x", 3);
  b.Add(false, "y");
  a.Merge(b);
  const std::vector<SendFailure> top = a.Top(10);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].count, 5u);
  EXPECT_EQ(top[1].error, "y");
}

}  // namespace
}  // namespace drone::workload
