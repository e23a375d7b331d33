// The live metrics of one run: a RunObserver that feeds a metrics::PrometheusRegistry with what
// the running flow reports — per-second workload totals and latency histograms, step states,
// fault windows, and after each workload its delivery categories — under the metric names of
// docs/metrics.md. It passes every callback on to a next observer (the console), so it can be
// put in front of any observer. `drone run --metrics-port` serves the registry; the UI server
// can reuse it for its own /metrics.
//
// Thread-safety: callbacks may come from any step thread at once; the registry synchronises.
// Attach() must be called before the run starts.
#pragma once

#include <string>

#include "flow/run_context.h"
#include "metrics/prometheus.h"

namespace drone::report {

// Declares every family of docs/metrics.md in `registry` (so that a scrape before the first
// sample already lists them).
void DeclareRunMetrics(metrics::PrometheusRegistry& registry);

class RunMetrics : public flow::RunObserver {
 public:
  // `registry` and `next` (nullable) must outlive this object.
  RunMetrics(metrics::PrometheusRegistry& registry, flow::RunObserver* next);

  // Sets drone_run_info and every step to pending. `run` must outlive this object; its
  // callbacks into this observer read faults and workload results from it.
  void Attach(const flow::RunContext& run);

  void OnEvent(const flow::Event& event) override;
  void OnWorkloadSecond(const std::string& step, const workload::SeriesPoint& point,
                        const workload::LiveTotals& totals, double elapsed_s, double planned_s,
                        bool draining) override;
  void OnWorkloadHistograms(const std::string& step, const metrics::Histogram& publish,
                            const metrics::Histogram& end_to_end) override;

 private:
  void SetStepState(const std::string& step, const std::string& state);
  void UpdateFaults();
  void PublishWorkloadResult(const std::string& step);
  metrics::Labels WorkloadLabels(const std::string& step) const;

  metrics::PrometheusRegistry& registry_;
  flow::RunObserver* const next_;
  const flow::RunContext* run_ = nullptr;
  std::string run_id_;
};

}  // namespace drone::report
