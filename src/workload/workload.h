// The workload engine: N producers and M consumers on threads of their own, driving one topic of
// one cluster through a Driver. Producers are open loop — message i of a producer is due at
// start + i / rate, whatever happened to earlier messages — so that latency measured from the
// intended send time is free of coordinated omission. Each message carries the envelope of
// workload/envelope.h; every send outcome and every receive goes into the delivery ledger
// (verify/); latencies go into per-thread histograms (metrics/). After the load, a drain phase
// reads until the consumers have caught up with what the broker holds, or a deadline passes.
//
// Thread-safety: a WorkloadRunner is driven by one thread (Run() blocks); it starts and joins its
// own threads. Observer callbacks run on the runner's sampler thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/status.h"
#include "drivers/driver.h"
#include "metrics/histogram.h"
#include "verify/delivery.h"
#include "verify/delivery_ledger.h"
#include "workload/drain_tracker.h"
#include "workload/send_failures.h"

namespace drone::workload {

class HistoryWriter;
struct WorkloadPart;

struct SizeDistribution {
  enum class Kind { kFixed, kUniform, kNormal };
  Kind kind = Kind::kFixed;
  int64_t bytes = 512;
  int64_t min = 0, max = 0;
  int64_t mean = 0, stddev = 0;
};

struct KeyOptions {
  enum class Mode { kNone, kRoundRobin, kRandom };
  Mode mode = Mode::kNone;
  int64_t count = 0;
};

struct WorkloadOptions {
  std::string name;  // the step id; used in client ids and history lines
  std::string topic;
  int producers = 1;
  int consumers = 1;
  double rate = 1000;  // messages/s over all producers; 0 = as fast as the client accepts
  SizeDistribution size;
  KeyOptions keys;
  std::optional<int64_t> duration_ns;
  std::optional<int64_t> messages;
  drivers::ProducerOptions producer;  // topic and client_id are filled in per producer
  std::string group;                  // consumer group
  std::map<std::string, std::string> consumer_config;
  verify::Guarantee guarantee = verify::Guarantee::kAtLeastOnce;
  int64_t drain_timeout_ns = 30'000'000'000;
  int64_t consumer_ready_timeout_ns = 30'000'000'000;
  uint64_t run_id = 0;
  uint64_t seed = 1;
  // A share of a workload split over processes (worker/): the indices (0-based, of all the
  // workload's `producers` / `consumers`) that this runner runs; nullopt runs them all. Rates,
  // message limits, domains and client ids stay those of the whole workload.
  std::optional<std::vector<int>> producer_ids;
  std::optional<std::vector<int>> consumer_ids;
};

// One second of the timeline, counted over that second.
struct SeriesPoint {
  double t_s = 0;  // seconds since the load started (end of the interval)
  uint64_t sent = 0, acked = 0, failed = 0, indeterminate = 0, received = 0;
  uint64_t bytes_sent = 0;
  metrics::LatencySummary publish, end_to_end;  // over this second only
  int64_t lag = 0;  // sent but not yet received, at the end of the interval (when consuming)
  // This second's latency histograms, serialised (metrics::Histogram::Serialize: only the
  // non-empty buckets, so a few KiB a second): phases.h merges them over fault windows.
  std::string publish_hist, end_to_end_hist;
};

// One point as the result's `workloads.*.series[]` holds it (docs/results.md); also what the live
// run log stores while the run goes on.
nlohmann::json SeriesPointJson(const SeriesPoint& point);

// Counts since the load started.
struct LiveTotals {
  uint64_t sent = 0, acked = 0, failed = 0, indeterminate = 0, received = 0;
};

class WorkloadObserver {
 public:
  virtual ~WorkloadObserver() = default;
  // Producers are about to send their first message (consumers, if any, are assigned).
  virtual void OnStarted() {}
  // Once per second during load and drain; `elapsed_s` since the load started.
  virtual void OnSecond(const SeriesPoint& /*point*/, const LiveTotals& /*totals*/,
                        double /*elapsed_s*/, bool /*draining*/) {}
  // Right after each OnSecond(): the latency histograms since the load started (merged over
  // producers / consumers), for live exposition. Valid during the call only.
  virtual void OnHistograms(const metrics::Histogram& /*publish*/,
                            const metrics::Histogram& /*end_to_end*/) {}
};

// The coordinator's hand on a runner that runs a share of a distributed workload. With a control
// set, the runner does not wait for its consumers' assignment nor drain by itself: the
// coordinator, which sees every process's progress, does both. Called on the runner's thread.
class WorkloadControl {
 public:
  virtual ~WorkloadControl() = default;
  // Clients exist and the consumers poll. Blocks until the coordinator starts the load; returns
  // when it is to start (NowNs() clock), or nullopt to end without load.
  virtual std::optional<int64_t> AwaitStart(const CancelToken& cancel) = 0;
  // The producers are done. Blocks until the coordinator ends the drain (or gives up).
  virtual void AwaitDrainEnd(const CancelToken& cancel) = 0;
};

// Where a runner's consumers are, for a coordinator's readiness and drain decisions.
struct RunnerProgress {
  LiveTotals totals;
  DrainProgress drain;
  std::vector<int> consumer_lanes;  // lanes assigned to each of this runner's consumers
};

struct WorkloadResult {
  uint64_t sent = 0, acked = 0, failed = 0, indeterminate = 0, received = 0;
  uint64_t bytes_sent = 0, bytes_received = 0;
  uint64_t send_errors = 0;  // rejected by the client before reaching the broker (counted failed)
  int64_t started_ns = 0;    // first intended send
  int64_t load_end_ns = 0;   // last producer done (flushed)
  int64_t finished_ns = 0;   // drain done
  bool consumed = false;     // false when the workload had no consumers: no delivery verdict
  bool drain_caught_up = false;
  uint64_t skipped_offsets = 0;  // offsets consumers jumped over (deleted before being read)
  bool cancelled = false;
  verify::DeliveryReport delivery;
  SendFailures failures;  // why sends were nacked or indeterminate
  metrics::Histogram publish, service, end_to_end, send_delay;
  std::vector<SeriesPoint> series;
  int lanes = 0;

  // The workload part of the result contract (DESIGN.md "Result contract").
  nlohmann::json ToJson() const;
};

class WorkloadRunner {
 public:
  // `driver`, `observer` and `history` (nullable) must outlive the runner.
  WorkloadRunner(drivers::Driver& driver, drivers::Endpoint endpoint, WorkloadOptions options,
                 WorkloadObserver* observer, HistoryWriter* history);
  ~WorkloadRunner();
  WorkloadRunner(const WorkloadRunner&) = delete;
  WorkloadRunner& operator=(const WorkloadRunner&) = delete;

  // Runs load and drain to the end, or until `cancel` fires. Returns an error only when the
  // workload could not run at all (clients could not be created); broker failures during the run
  // are outcomes, recorded in the result.
  Status Run(const CancelToken& cancel);

  const WorkloadResult& result() const { return result_; }
  using Live = LiveTotals;

  // Runs as a share of a distributed workload (see WorkloadControl); call before Run(). Run()
  // then also fills part() (shards merged over threads, per-second interval histograms).
  // `control` must outlive Run().
  void SetControl(WorkloadControl* control);
  // From any thread while Run() runs: false before the clients exist and after they are gone.
  bool Progress(RunnerProgress* out) const;
  // After Run() with a control: this runner's share for the coordinator.
  WorkloadPart& part();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  WorkloadResult result_;
};

}  // namespace drone::workload
