// A Clock for tests: time stands still until the test calls Advance(). Code under test that
// waits on the clock (WaitFor) blocks until the test has moved time past its deadline or its
// cancel token fires. WaitForWaiters() lets the test see that the code has reached such waits, so
// tests synchronise on conditions, never on real sleeps: wait until N threads wait, move the
// clock, repeat.
//
// Thread-safety: every member function is thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <list>
#include <mutex>

#include "core/cancel.h"
#include "core/clock.h"

namespace drone {

class FakeClock : public Clock {
 public:
  // Wall and monotonic time both start at `epoch_ns`, so they read the same.
  explicit FakeClock(int64_t epoch_ns = int64_t{1'800'000'000} * kNsPerSec) : now_(epoch_ns) {}

  int64_t NowNs() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  int64_t MonotonicNs() const override { return NowNs(); }

  bool WaitFor(const CancelToken& cancel, int64_t ns) const override {
    std::unique_lock<std::mutex> lock(mu_);
    auto me = waits_.insert(waits_.end(), Wait{now_ + std::max<int64_t>(ns, 0), &cancel});
    changed_.notify_all();
    // The cancel token has a condition variable of its own, so its firing is seen by a short
    // real-time poll; time itself moves only through Advance(), which notifies at once.
    while (now_ < me->deadline && !cancel.cancelled()) {
      changed_.wait_for(lock, std::chrono::milliseconds(1));
    }
    waits_.erase(me);
    changed_.notify_all();
    return cancel.cancelled();
  }

  // Moves time forward and wakes every wait whose deadline has come.
  void Advance(int64_t ns) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      now_ += ns;
    }
    changed_.notify_all();
  }

  // Moves time to the earliest deadline of the pending waits; returns how far (0: none).
  int64_t AdvanceToNextDeadline() {
    int64_t by = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      int64_t next = std::numeric_limits<int64_t>::max();
      for (const Wait& w : waits_) {
        if (Pending(w)) next = std::min(next, w.deadline);
      }
      if (next == std::numeric_limits<int64_t>::max()) return 0;
      by = next - now_;
      now_ = next;
    }
    changed_.notify_all();
    return by;
  }

  // Waits that are still pending: their deadline is ahead and their token has not fired. (A
  // wait whose deadline has passed but whose thread has not woken yet does not count.)
  int waiters() const {
    std::lock_guard<std::mutex> lock(mu_);
    return PendingLocked();
  }

  // Blocks until at least `n` waits are pending, or `real_timeout` (real time) passes. Returns
  // whether they are.
  bool WaitForWaiters(int n,
                      std::chrono::milliseconds real_timeout = std::chrono::seconds(10)) const {
    std::unique_lock<std::mutex> lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + real_timeout;
    while (PendingLocked() < n) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      changed_.wait_for(lock, std::chrono::milliseconds(1));  // tokens fire without notifying us
    }
    return true;
  }

 private:
  struct Wait {
    int64_t deadline;
    const CancelToken* cancel;
  };
  bool Pending(const Wait& w) const { return w.deadline > now_ && !w.cancel->cancelled(); }
  int PendingLocked() const {
    return static_cast<int>(
        std::count_if(waits_.begin(), waits_.end(), [this](const Wait& w) { return Pending(w); }));
  }

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  int64_t now_;                    // guarded by mu_
  mutable std::list<Wait> waits_;  // guarded by mu_
};

}  // namespace drone
