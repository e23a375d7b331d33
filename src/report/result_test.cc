#include "report/result.h"

#include <gtest/gtest.h>

namespace drone::report {
namespace {

nlohmann::json OneWorkload(nlohmann::json workload) {
  workload.merge_patch({{"guarantee", "at-least-once"}, {"sent", 100}, {"acked", 90}, {"failed", 6},
                        {"indeterminate", 4}, {"received", 80}, {"delivery_checked", true},
                        {"latency_ms", {{"publish", {{"count", 0}}}, {"end_to_end", {{"count", 0}}}}},
                        {"throughput", {{"sent_per_s", 10}, {"received_per_s", 8}, {"mb_per_s", 0}}},
                        {"load_seconds", 10}});
  return {{"workloads", {{"load", workload}}}, {"faults", nlohmann::json::array()},
          {"checks", nlohmann::json::array()}, {"verdict", "fail"}, {"run_id", "r-1"}, {"reasons", nlohmann::json::array()}};
}

TEST(HumanSummaryTest, SaysWhySendsFailedThreeReasonsAtMost) {
  const std::string out = HumanSummary(
      OneWorkload({{"delivery", {{"ok", 80}}},
                   {"errors", {{{"outcome", "nack"}, {"error", "No responders available for request"}, {"count", 5}},
                               {{"outcome", "indeterminate"}, {"error", "no delivery report"}, {"count", 4}},
                               {{"outcome", "nack"}, {"error", "b"}, {"count", 1}},
                               {{"outcome", "nack"}, {"error", "fourth"}, {"count", 1}}}}}),
      false);
  EXPECT_NE(out.find("  errors     5 nack: No responders available for request\n"
                     "             4 indeterminate: no delivery report\n"
                     "             1 nack: b\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("fourth"), std::string::npos) << out;
  EXPECT_EQ(HumanSummary(OneWorkload({{"delivery", {{"ok", 80}}}, {"errors", nlohmann::json::array()}}), false)
                .find("errors"),
            std::string::npos);
}

TEST(HumanSummaryTest, SaysHowManyLostMessagesTheBrokerStillHolds) {
  nlohmann::json delivery = {{"ok", 80}, {"lost", 10}, {"lost_gap", 7}, {"lost_tail", 3}};
  EXPECT_NE(HumanSummary(OneWorkload({{"delivery", delivery}}), false).find("lost 10 (gap 7, tail 3)"),
            std::string::npos);
  delivery["lost_stored"] = 2;
  const std::string out = HumanSummary(OneWorkload({{"delivery", delivery}}), false);
  EXPECT_NE(out.find("lost 10 (gap 7, tail 3; the broker still holds 2)"), std::string::npos) << out;
}

}  // namespace
}  // namespace drone::report
