// The RunObserver that `drone run` puts in front of its others when the run is stored: it writes
// each event and series point to the live run log (store/live_run_log.h) as it happens, so that
// `drone ui` can show the run while it goes on, then passes the call on. A write that fails is
// logged once and the rest are skipped: following a run live is a convenience, never a reason to
// disturb it.
//
// Thread-safety: the callbacks may come from any thread at once (the log serialises).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "flow/run_context.h"
#include "store/live_run_log.h"

namespace drone::cli {

class LiveObserver : public flow::RunObserver {
 public:
  // `next` (nullable) must outlive this object.
  LiveObserver(std::unique_ptr<store::LiveRunLog> log, std::string run_id,
               flow::RunObserver* next);

  void OnEvent(const flow::Event& event) override;
  void OnWorkloadSecond(const std::string& step, const workload::SeriesPoint& point,
                        const workload::LiveTotals& totals, double elapsed_s, double planned_s,
                        bool draining) override;
  void OnWorkloadHistograms(const std::string& step, const metrics::Histogram& publish,
                            const metrics::Histogram& end_to_end) override;

  // Removes the run's live rows; call once the finished run is in the run store (or was not run).
  void Finish();

 private:
  void Check(const Status& s);

  std::unique_ptr<store::LiveRunLog> log_;
  const std::string run_id_;
  flow::RunObserver* const next_;
  std::atomic<bool> failed_{false};
};

}  // namespace drone::cli
