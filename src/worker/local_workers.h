// LocalWorkerPool: `drone run --workers N` — N `drone worker` processes of this very binary on
// 127.0.0.1, each on an ephemeral port that it writes to a port file in a private temporary
// directory. They are ChildProcesses (platforms/local/child_process.h): spawned from an argv
// array, in process groups of their own (a terminal's Ctrl-C reaches the coordinator, which winds
// them down), with PR_SET_PDEATHSIG so they die with the coordinator, and always reaped. A
// random token, passed in the environment (not on the command line, where `ps` shows it), keeps
// other local users' processes from driving them.
//
// Thread-safety: Start() and the destructor on one thread; addresses() is const.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "journal/undo_journal.h"
#include "platforms/local/child_process.h"
#include "worker/coordinator.h"

namespace drone::worker {

class LocalWorkerPool {
 public:
  // Starts `count` workers (1..64) and waits up to `ready_timeout_ns` for each to listen.
  // On error nothing is left running and the temporary directory is gone. With `netns` (a name
  // under /run/netns: a lab network's clients host) the workers run in that namespace and listen
  // on its loopback, so only a thread inside it reaches them (faults/network/command.h WithNetns).
  // With `journal` the temporary directory is journaled before any worker starts, so that
  // `drone clean` removes it should this process be killed (the workers die with it); the journal
  // must outlive the pool.
  static Result<std::unique_ptr<LocalWorkerPool>> Start(int count, int64_t ready_timeout_ns = 15'000'000'000,
                                                        const std::string& netns = "",
                                                        journal::Journal* journal = nullptr);
  // Stops every worker (SIGTERM, then SIGKILL after a grace period), reaps them, removes the
  // temporary directory and marks its journal entry done.
  ~LocalWorkerPool();
  LocalWorkerPool(const LocalWorkerPool&) = delete;
  LocalWorkerPool& operator=(const LocalWorkerPool&) = delete;

  const std::vector<WorkerAddress>& addresses() const { return addresses_; }
  std::vector<int> pids() const;

 private:
  LocalWorkerPool() = default;
  std::string dir_;
  journal::Journal* journal_ = nullptr;
  uint64_t journal_id_ = 0;
  std::vector<std::unique_ptr<platforms::local::ChildProcess>> children_;
  std::vector<WorkerAddress> addresses_;
};

}  // namespace drone::worker
