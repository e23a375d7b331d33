// SIGINT/SIGTERM handling for long commands: the signals are blocked in every thread and received
// by one watcher thread (sigtimedwait), which cancels the run's token — so cancellation runs as
// ordinary code, not in a signal handler. The first signal starts an orderly stop with full
// teardown; the second hurries it (CancelToken::Hurry: workloads stop draining and flushing,
// programs get SIGKILL without a grace period) while undo and finally steps still run; later ones
// only say that teardown is under way.
// Thread-safety: construct and destroy on the main thread, before/after other threads exist.
#pragma once

#include <atomic>
#include <thread>

#include "core/cancel.h"

namespace drone::cli {

// Blocks SIGINT and SIGTERM for the calling thread and every thread it creates afterwards. Call
// first thing in main().
void BlockTerminationSignals();

// Ignores SIGPIPE for the whole process. Client libraries that write to sockets without
// MSG_NOSIGNAL (hiredis does) would otherwise have Drone killed the moment a broker it writes to
// dies — exactly what a node-kill fault does. A write to a closed socket then fails with EPIPE,
// which the driver reports as a lost connection. Children get the default back before exec.
void IgnoreBrokenPipes();

class SignalWatcher {
 public:
  explicit SignalWatcher(CancelToken& cancel);
  ~SignalWatcher();
  int signals_seen() const { return seen_.load(); }

 private:
  CancelToken& cancel_;
  std::atomic<bool> stop_{false};
  std::atomic<int> seen_{0};
  std::thread thread_;
};

}  // namespace drone::cli
