#include "report/run_metrics.h"

#include <gtest/gtest.h>

#include <vector>

namespace drone::report {
namespace {

// Records the callbacks it was passed, to check that RunMetrics forwards them.
class CountingObserver : public flow::RunObserver {
 public:
  void OnEvent(const flow::Event& e) override { events.push_back(e.type); }
  void OnWorkloadSecond(const std::string&, const workload::SeriesPoint&,
                        const workload::LiveTotals&, double, double, bool) override {
    ++seconds;
  }
  std::vector<std::string> events;
  int seconds = 0;
};

spec::FlowSpec TwoStepFlow() {
  spec::FlowSpec flow;
  flow.name = "metrics-flow";
  spec::Step load;
  load.id = "load";
  load.kind = spec::StepKind::kWorkload;
  spec::Step outage;
  outage.id = "outage";
  flow.steps = {load, outage};
  return flow;
}

double Get(const metrics::PrometheusRegistry& r, const std::string& name, const metrics::Labels& l) {
  double v = -1;
  EXPECT_TRUE(r.Value(name, l, &v)) << name;
  return v;
}

TEST(RunMetricsTest, FeedsCountersStepStatesAndFaultsAndForwards) {
  spec::FlowSpec flow = TwoStepFlow();
  metrics::PrometheusRegistry registry;
  CountingObserver console;
  RunMetrics metrics(registry, &console);
  flow::RunContext run(flow, "run-1", 1, &metrics, nullptr);
  metrics.Attach(run);
  EXPECT_EQ(Get(registry, "drone_run_info", {{"run_id", "run-1"}, {"flow", "metrics-flow"}}), 1);
  EXPECT_EQ(Get(registry, "drone_step_state", {{"run_id", "run-1"}, {"step", "load"}, {"state", "pending"}}), 1);

  run.Emit("STEP_START", "load", "workload");
  EXPECT_EQ(Get(registry, "drone_step_state", {{"run_id", "run-1"}, {"step", "load"}, {"state", "pending"}}), 0);
  EXPECT_EQ(Get(registry, "drone_step_state", {{"run_id", "run-1"}, {"step", "load"}, {"state", "running"}}), 1);

  workload::SeriesPoint point;
  point.bytes_sent = 1000;
  workload::LiveTotals totals{10, 9, 1, 0, 8};
  metrics.OnWorkloadSecond("load", point, totals, 1, 5, false);
  totals = {20, 18, 1, 1, 17};
  metrics.OnWorkloadSecond("load", point, totals, 2, 5, false);
  const metrics::Labels w = {{"run_id", "run-1"}, {"workload", "load"}};
  EXPECT_EQ(Get(registry, "drone_messages_sent_total", w), 20);
  EXPECT_EQ(Get(registry, "drone_messages_acked_total", w), 18);
  EXPECT_EQ(Get(registry, "drone_messages_failed_total", w), 1);
  EXPECT_EQ(Get(registry, "drone_messages_indeterminate_total", w), 1);
  EXPECT_EQ(Get(registry, "drone_messages_received_total", w), 17);
  EXPECT_EQ(Get(registry, "drone_bytes_sent_total", w), 2000);

  faults::FaultRecord fault;
  fault.step = "outage";
  fault.kind = "kill";
  fault.target = "broker-2";
  fault.start_ns = 5;
  size_t index = run.AddFault(fault);
  run.Emit("FAULT_INJECTED", "outage", "kill on broker-2");
  const metrics::Labels f = {{"run_id", "run-1"}, {"step", "outage"}, {"kind", "kill"}, {"target", "broker-2"}};
  EXPECT_EQ(Get(registry, "drone_fault_active", f), 1);
  run.EndFault(index, 10);
  run.Emit("FAULT_HEALED", "outage", "kill on broker-2");
  EXPECT_EQ(Get(registry, "drone_fault_active", f), 0);

  run.Emit("STEP_FAILURE", "outage", "boom");
  EXPECT_EQ(Get(registry, "drone_step_state", {{"run_id", "run-1"}, {"step", "outage"}, {"state", "failed"}}), 1);

  EXPECT_EQ(console.seconds, 2);
  EXPECT_EQ(console.events,
            (std::vector<std::string>{"STEP_START", "FAULT_INJECTED", "FAULT_HEALED", "STEP_FAILURE"}));
}

TEST(RunMetricsTest, DeliveryCategoriesAfterTheWorkloadEnds) {
  spec::FlowSpec flow = TwoStepFlow();
  metrics::PrometheusRegistry registry;
  RunMetrics metrics(registry, nullptr);
  flow::RunContext run(flow, "run-2", 2, &metrics, nullptr);
  metrics.Attach(run);
  flow::WorkloadRecord record;
  record.result.consumed = true;
  record.result.sent = 5;
  record.result.delivery.ok = 3;
  record.result.delivery.lost = 2;
  record.result.end_to_end.Record(2'000'000);
  run.AddWorkload("load", record);
  double v = 0;
  EXPECT_FALSE(registry.Value("drone_delivery_messages",
                              {{"run_id", "run-2"}, {"workload", "load"}, {"category", "lost"}}, &v));
  run.Emit("STEP_SUCCESS", "load", "");
  const metrics::Labels w = {{"run_id", "run-2"}, {"workload", "load"}};
  EXPECT_EQ(Get(registry, "drone_messages_sent_total", w), 5);
  EXPECT_EQ(Get(registry, "drone_delivery_messages", {{"run_id", "run-2"}, {"workload", "load"}, {"category", "lost"}}), 2);
  EXPECT_EQ(Get(registry, "drone_delivery_messages", {{"run_id", "run-2"}, {"workload", "load"}, {"category", "ok"}}), 3);
  const std::string text = registry.Exposition();
  EXPECT_NE(text.find("drone_end_to_end_latency_seconds_bucket{run_id=\"run-2\",workload=\"load\",le=\"0.0025\"} 1\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace drone::report
