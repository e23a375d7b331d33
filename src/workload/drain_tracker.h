// DrainTracker: decides when the consumers of a workload have caught up with what the broker
// holds, so that a message not received by then will not be received. The decision, best first:
// the broker's end offsets per lane (Kafka); else its backlog for the group, until 0 and no more
// receives over one probe interval (queues, streams); else, per ordering domain, the highest
// acknowledged sequence having been received (MQTT: the broker says nothing). The workload runner
// feeds it its own consumers' progress; the coordinator of a distributed workload feeds it the
// merged progress of every worker, so both decide alike.
//
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "drivers/driver.h"

namespace drone::workload {

// Where the producers and consumers of a workload stand (one process's, or merged).
struct DrainProgress {
  std::vector<int64_t> next_offset;       // per lane: highest consumed offset + 1; -1 none
  std::vector<int64_t> max_acked_seq;     // per domain: highest acknowledged sequence; -1 none
  std::vector<int64_t> max_received_seq;  // per domain: highest received sequence; -1 none
  uint64_t received = 0;                  // messages the consumers received so far

  // Merges another process's progress: maxima per lane and domain, receives add up.
  void Merge(const DrainProgress& other);
};

class DrainTracker {
 public:
  // Queries the broker once (end offsets, or whether it reports a backlog) to choose the mode.
  // `driver` must outlive the tracker. Failures are logged and leave the drain to its timeout.
  DrainTracker(drivers::Driver& driver, const drivers::Endpoint& endpoint, std::string name,
               std::string topic, std::string group, int lanes, uint32_t domains);
  ~DrainTracker();

  // One probe against `progress` (as of now); true when everything has caught up.
  bool CaughtUp(const DrainProgress& progress);
  // How long to wait between probes.
  int64_t ProbeIntervalNs() const;
  // After the last probe: whether each domain caught up.
  std::vector<bool> DomainsCaughtUp() const;

 private:
  enum class Mode { kEndOffsets, kBacklog, kSequences };
  const std::string name_, topic_, group_;
  const int lanes_;
  const uint32_t domains_;
  Mode mode_ = Mode::kEndOffsets;
  std::unique_ptr<drivers::Admin> admin_;
  Result<std::vector<int64_t>> ends_ = Unavailable("not queried");
  std::vector<bool> lane_caught_up_;
  std::vector<bool> domain_caught_up_;
  Status backlog_error_;
  uint64_t backlog_received_ = UINT64_MAX;  // receives at the previous backlog probe
};

}  // namespace drone::workload
