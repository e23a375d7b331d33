#include "ui/metrics_merge.h"

#include <gtest/gtest.h>

namespace drone::ui {
namespace {

TEST(MetricsMergeTest, MergesFamiliesByNameKeepingEverySample) {
  const std::string ui =
      "# HELP drone_ui_runs_running Runs in progress.\n"
      "# TYPE drone_ui_runs_running gauge\n"
      "drone_ui_runs_running 2\n";
  const std::string run = R"(# HELP drone_messages_sent_total Messages sent.
# TYPE drone_messages_sent_total counter
drone_messages_sent_total{run_id="a",workload="load"} 10
# HELP drone_end_to_end_latency_seconds Latency.
# TYPE drone_end_to_end_latency_seconds histogram
drone_end_to_end_latency_seconds_bucket{run_id="a",workload="load",le="+Inf"} 10
drone_end_to_end_latency_seconds_sum{run_id="a",workload="load"} 0.5
drone_end_to_end_latency_seconds_count{run_id="a",workload="load"} 10
)";
  std::string other = run;
  for (size_t at = other.find("run_id=\"a\""); at != std::string::npos;
       at = other.find("run_id=\"a\"", at)) {
    other.replace(at, 10, "run_id=\"b\"");
  }
  EXPECT_EQ(MergeExpositions({ui, run, other}),
            "# HELP drone_ui_runs_running Runs in progress.\n"
            "# TYPE drone_ui_runs_running gauge\n"
            "drone_ui_runs_running 2\n"
            "# HELP drone_messages_sent_total Messages sent.\n"
            "# TYPE drone_messages_sent_total counter\n"
            "drone_messages_sent_total{run_id=\"a\",workload=\"load\"} 10\n"
            "drone_messages_sent_total{run_id=\"b\",workload=\"load\"} 10\n"
            "# HELP drone_end_to_end_latency_seconds Latency.\n"
            "# TYPE drone_end_to_end_latency_seconds histogram\n"
            "drone_end_to_end_latency_seconds_bucket{run_id=\"a\",workload=\"load\",le=\"+Inf\"} 10\n"
            "drone_end_to_end_latency_seconds_sum{run_id=\"a\",workload=\"load\"} 0.5\n"
            "drone_end_to_end_latency_seconds_count{run_id=\"a\",workload=\"load\"} 10\n"
            "drone_end_to_end_latency_seconds_bucket{run_id=\"b\",workload=\"load\",le=\"+Inf\"} 10\n"
            "drone_end_to_end_latency_seconds_sum{run_id=\"b\",workload=\"load\"} 0.5\n"
            "drone_end_to_end_latency_seconds_count{run_id=\"b\",workload=\"load\"} 10\n");
}

TEST(MetricsMergeTest, DeclaredFamiliesWithoutSamplesAppearOnce) {
  const std::string declared = "# HELP drone_fault_active Faults.\n# TYPE drone_fault_active gauge\n";
  EXPECT_EQ(MergeExpositions({declared, declared, ""}), declared);
  EXPECT_EQ(MergeExpositions({}), "");
}

}  // namespace
}  // namespace drone::ui
