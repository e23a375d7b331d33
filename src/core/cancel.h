// Cancellation shared by everything a run starts: set once (SIGINT/SIGTERM, a failed step, a
// timeout) and observed by loops that must stop promptly. Hurry() escalates a cancellation (a
// second SIGINT): whoever still winds down — a drain after a graceful stop, a flush, a grace
// period before SIGKILL — should cut it short; undo actions and finally steps still run.
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

namespace drone {

class CancelToken {
 public:
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // `graceful`: the holder should wind down properly (a background workload at the end of its
  // flow stops sending but still drains and accounts); otherwise it should stop at once.
  void Cancel(const std::string& reason, bool graceful = false) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_.load()) return;
      reason_ = reason;
      graceful_.store(graceful, std::memory_order_relaxed);
      cancelled_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
  }

  // Cancels (when not yet cancelled) and asks everything still winding down to stop now.
  void Hurry(const std::string& reason) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!cancelled_.load()) {
        reason_ = reason;
        cancelled_.store(true, std::memory_order_release);
      }
      hurried_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
  }

  // True only when cancelled, and gracefully (and not hurried since).
  bool graceful() const {
    return cancelled() && graceful_.load(std::memory_order_relaxed) && !hurried();
  }
  // Cancelled and not gracefully (or hurried): stop now.
  bool aborted() const { return cancelled() && !graceful(); }
  // Hurry() was called: skip grace periods and flushes.
  bool hurried() const { return hurried_.load(std::memory_order_acquire); }

  std::string reason() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reason_;
  }

  // Waits up to `ns`; returns true when cancelled (early or by then).
  bool WaitFor(int64_t ns) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::nanoseconds(ns), [this] { return cancelled_.load(); });
  }

 private:
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> graceful_{false};
  std::atomic<bool> hurried_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string reason_;  // guarded by mu_
};

}  // namespace drone
