#include "cli/live_observer.h"

#include "core/clock.h"
#include "core/log.h"

namespace drone::cli {

LiveObserver::LiveObserver(std::unique_ptr<store::LiveRunLog> log, std::string run_id,
                           flow::RunObserver* next)
    : log_(std::move(log)), run_id_(std::move(run_id)), next_(next) {}

void LiveObserver::Check(const Status& s) {
  if (s.ok()) return;
  if (!failed_.exchange(true)) {
    LogWarn("live run log: " + s.message() + "; the UI will show this run only once it has finished");
  }
}

void LiveObserver::OnEvent(const flow::Event& event) {
  if (!failed_.load()) Check(log_->AppendEvent(run_id_, event.ToJson()));
  if (next_ != nullptr) next_->OnEvent(event);
}

void LiveObserver::OnWorkloadSecond(const std::string& step, const workload::SeriesPoint& point,
                                    const workload::LiveTotals& totals, double elapsed_s,
                                    double planned_s, bool draining) {
  if (!failed_.load()) {
    // The wall-clock time of the point lets a live view place fault windows (wall-clock times)
    // on the series' axis (seconds since the load started).
    nlohmann::json p = workload::SeriesPointJson(point);
    p["t_ns"] = NowNs();
    Check(log_->AppendPoint(run_id_, step, p));
  }
  if (next_ != nullptr) {
    next_->OnWorkloadSecond(step, point, totals, elapsed_s, planned_s, draining);
  }
}

void LiveObserver::OnWorkloadHistograms(const std::string& step, const metrics::Histogram& publish,
                                        const metrics::Histogram& end_to_end) {
  if (next_ != nullptr) next_->OnWorkloadHistograms(step, publish, end_to_end);
}

void LiveObserver::Finish() { Check(log_->Finish(run_id_)); }

}  // namespace drone::cli
