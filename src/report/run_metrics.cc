#include "report/run_metrics.h"

namespace drone::report {
namespace {

using metrics::MetricType;

constexpr const char* kStepStates[] = {"pending", "running", "succeeded", "failed", "skipped",
                                       "cancelled"};

}  // namespace

void DeclareRunMetrics(metrics::PrometheusRegistry& r) {
  r.Declare("drone_run_info", MetricType::kGauge, "Always 1: the run being measured, by run id and flow name.");
  r.Declare("drone_step_state", MetricType::kGauge,
            "1 for the state a step is in (pending, running, succeeded, failed, skipped, cancelled), 0 for the others.");
  r.Declare("drone_messages_sent_total", MetricType::kCounter, "Messages the producers handed to the client.");
  r.Declare("drone_messages_acked_total", MetricType::kCounter, "Messages the broker acknowledged.");
  r.Declare("drone_messages_failed_total", MetricType::kCounter, "Messages that definitely failed (nacked or rejected).");
  r.Declare("drone_messages_indeterminate_total", MetricType::kCounter,
            "Messages whose outcome is unknown (timeout, disconnect).");
  r.Declare("drone_messages_received_total", MetricType::kCounter, "Messages the consumers received.");
  r.Declare("drone_bytes_sent_total", MetricType::kCounter, "Payload bytes sent.");
  r.Declare("drone_consumer_lag_messages", MetricType::kGauge, "Acknowledged but not yet received messages.");
  r.Declare("drone_publish_latency_seconds", MetricType::kHistogram,
            "Publish latency: from the intended send time to the broker's acknowledgement.");
  r.Declare("drone_end_to_end_latency_seconds", MetricType::kHistogram,
            "End-to-end latency: from the intended send time to the consumer's receive.");
  r.Declare("drone_delivery_messages", MetricType::kGauge,
            "Messages per delivery category, set once the workload's delivery is verified.");
  r.Declare("drone_fault_active", MetricType::kGauge, "1 while a fault is active, 0 once healed.");
}

RunMetrics::RunMetrics(metrics::PrometheusRegistry& registry, flow::RunObserver* next)
    : registry_(registry), next_(next) {
  DeclareRunMetrics(registry_);
}

void RunMetrics::Attach(const flow::RunContext& run) {
  run_ = &run;
  run_id_ = run.run_id();
  registry_.SetGauge("drone_run_info", {{"run_id", run_id_}, {"flow", run.flow().name}}, 1);
  for (const auto* steps : {&run.flow().steps, &run.flow().finally}) {
    for (const spec::Step& s : *steps) SetStepState(s.id, "pending");
  }
}

metrics::Labels RunMetrics::WorkloadLabels(const std::string& step) const {
  return {{"run_id", run_id_}, {"workload", step}};
}

void RunMetrics::SetStepState(const std::string& step, const std::string& state) {
  for (const char* s : kStepStates) {
    registry_.SetGauge("drone_step_state", {{"run_id", run_id_}, {"step", step}, {"state", s}},
                       state == s ? 1 : 0);
  }
}

void RunMetrics::UpdateFaults() {
  if (run_ == nullptr) return;
  for (const faults::FaultRecord& f : run_->Faults()) {
    registry_.SetGauge("drone_fault_active",
                       {{"run_id", run_id_}, {"step", f.step}, {"kind", f.kind}, {"target", f.target}},
                       f.end_ns == 0 ? 1 : 0);
  }
}

void RunMetrics::PublishWorkloadResult(const std::string& step) {
  if (run_ == nullptr) return;
  const auto workloads = run_->Workloads();
  auto it = workloads.find(step);
  if (it == workloads.end()) return;
  const workload::WorkloadResult& r = it->second.result;
  const metrics::Labels labels = WorkloadLabels(step);
  // The final totals: the last per-second sample may predate the last delivery reports.
  registry_.SetCounter("drone_messages_sent_total", labels, static_cast<double>(r.sent));
  registry_.SetCounter("drone_messages_acked_total", labels, static_cast<double>(r.acked));
  registry_.SetCounter("drone_messages_failed_total", labels, static_cast<double>(r.failed));
  registry_.SetCounter("drone_messages_indeterminate_total", labels,
                       static_cast<double>(r.indeterminate));
  registry_.SetCounter("drone_messages_received_total", labels, static_cast<double>(r.received));
  registry_.SetCounter("drone_bytes_sent_total", labels, static_cast<double>(r.bytes_sent));
  OnWorkloadHistograms(step, r.publish, r.end_to_end);
  if (!r.consumed) return;  // no consumers: no delivery verdict, no categories
  const nlohmann::json delivery = r.delivery.ToJson();
  for (auto it2 = delivery.begin(); it2 != delivery.end(); ++it2) {
    const std::string& category = it2.key();
    const nlohmann::json& value = it2.value();
    if (!value.is_number()) continue;  // skips "examples"
    metrics::Labels l = labels;
    l["category"] = category;
    registry_.SetGauge("drone_delivery_messages", l, value.get<double>());
  }
}

void RunMetrics::OnEvent(const flow::Event& e) {
  if (e.type == "STEP_START") {
    SetStepState(e.step, "running");
  } else if (e.type == "STEP_SUCCESS" || e.type == "STEP_FAILURE" || e.type == "STEP_SKIPPED" ||
             e.type == "STEP_CANCELLED") {
    SetStepState(e.step, e.type == "STEP_SUCCESS"   ? "succeeded"
                         : e.type == "STEP_FAILURE" ? "failed"
                         : e.type == "STEP_SKIPPED" ? "skipped"
                                                    : "cancelled");
    PublishWorkloadResult(e.step);
  } else if (e.type == "FAULT_INJECTED" || e.type == "FAULT_HEALED") {
    UpdateFaults();
  }
  if (next_ != nullptr) next_->OnEvent(e);
}

void RunMetrics::OnWorkloadSecond(const std::string& step, const workload::SeriesPoint& point,
                                  const workload::LiveTotals& totals, double elapsed_s,
                                  double planned_s, bool draining) {
  const metrics::Labels labels = WorkloadLabels(step);
  registry_.SetCounter("drone_messages_sent_total", labels, static_cast<double>(totals.sent));
  registry_.SetCounter("drone_messages_acked_total", labels, static_cast<double>(totals.acked));
  registry_.SetCounter("drone_messages_failed_total", labels, static_cast<double>(totals.failed));
  registry_.SetCounter("drone_messages_indeterminate_total", labels,
                       static_cast<double>(totals.indeterminate));
  registry_.SetCounter("drone_messages_received_total", labels, static_cast<double>(totals.received));
  double bytes = 0;
  registry_.Value("drone_bytes_sent_total", labels, &bytes);
  // Only this workload's sampler thread updates its byte counter during the load.
  registry_.SetCounter("drone_bytes_sent_total", labels, bytes + static_cast<double>(point.bytes_sent));
  registry_.SetGauge("drone_consumer_lag_messages", labels, static_cast<double>(point.lag));
  if (next_ != nullptr) next_->OnWorkloadSecond(step, point, totals, elapsed_s, planned_s, draining);
}

void RunMetrics::OnWorkloadHistograms(const std::string& step, const metrics::Histogram& publish,
                                      const metrics::Histogram& end_to_end) {
  const metrics::Labels labels = WorkloadLabels(step);
  registry_.SetHistogram("drone_publish_latency_seconds", labels,
                         metrics::BucketLatencies(publish, metrics::LatencyBucketsSeconds()));
  registry_.SetHistogram("drone_end_to_end_latency_seconds", labels,
                         metrics::BucketLatencies(end_to_end, metrics::LatencyBucketsSeconds()));
  if (next_ != nullptr) next_->OnWorkloadHistograms(step, publish, end_to_end);
}

}  // namespace drone::report
