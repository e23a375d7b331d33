// The coordinator of a distributed workload: runs one workload step over `drone worker`
// processes (worker_server.h) and turns their shares back into the WorkloadResult that one
// process would have produced, so that checks, the result JSON, the store, the metrics and the
// report need no change (docs/workers.md).
//
// Producers and consumers are dealt round-robin over the workers (producer i and consumer i to
// worker i mod N); consumers on every worker join the same group. The coordinator waits until
// every share is ready and the group's assignment covers every lane, starts all shares at one
// instant (so their open-loop schedules and per-second series line up), relays merged seconds to
// the observer, drains with the same DrainTracker a single process uses (fed the progress of all
// workers), ends every share's drain, fetches the shares' binary parts and merges them exactly
// (workload/part.h). Every call has a deadline; a worker that fails, answers wrongly or stops
// answering fails the workload with a message naming it, and its shares are deleted.
//
// Thread-safety: RunOnWorkers() may run concurrently for different workloads.
#pragma once

#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "drivers/driver.h"
#include "workload/workload.h"

namespace drone::worker {

struct WorkerAddress {
  std::string url;    // "http://HOST:PORT"
  std::string token;  // sent as "Authorization: Bearer TOKEN" when not empty
};

struct CoordinatorOptions {
  int64_t call_timeout_ns = 10'000'000'000;   // per HTTP call
  int64_t prepare_timeout_ns = 60'000'000'000;  // shares creating their clients
  int64_t finish_timeout_ns = 60'000'000'000;   // shares closing after the drain
  int64_t lease_ns = 15'000'000'000;            // a worker aborts a share silent this long
  int64_t poll_interval_ns = 200'000'000;
  int failures_tolerated = 3;  // consecutive failed calls to one worker before giving up on it
};

// Runs `options` over `workers` (at least one). `driver_name` names the driver on the workers;
// `driver` and `endpoint` are the coordinator's own, for the drain's admin queries. Returns an
// error (naming the worker) when the workload could not run to its end on the workers.
Result<workload::WorkloadResult> RunOnWorkers(const std::vector<WorkerAddress>& workers,
                                              const std::string& driver_name,
                                              drivers::Driver& driver,
                                              const drivers::Endpoint& endpoint,
                                              const workload::WorkloadOptions& options,
                                              workload::WorkloadObserver* observer,
                                              const CancelToken& cancel,
                                              const CoordinatorOptions& coordinator = {});

}  // namespace drone::worker
