// Time for measurement. NowNs() is monotonic (it never goes backwards within a process) yet
// expressed as nanoseconds since the Unix epoch: a wall-clock anchor taken once at start-up plus
// CLOCK_MONOTONIC deltas. Timestamps in envelopes, histories and results all use it, so times from
// producers and consumers of one process are directly comparable. Thread-safe.
//
// Clock is the same time behind an interface, for code whose waits tests must control: the flow
// engine takes `after:` delays, step timeouts and retry backoff from a Clock, so that scheduler
// tests drive it with a FakeClock (core/fake_clock.h) and never wait in real time. Measurement
// (envelopes, histograms) keeps the free functions: it must never see a fake time.
#pragma once

#include <cstdint>
#include <string>

#include "core/cancel.h"

namespace drone {

inline constexpr int64_t kNsPerUs = 1000;
inline constexpr int64_t kNsPerMs = 1000 * kNsPerUs;
inline constexpr int64_t kNsPerSec = 1000 * kNsPerMs;

int64_t NowNs();

// Raw CLOCK_MONOTONIC, for deadlines and intervals that are never shown.
int64_t MonotonicNs();

// "2026-11-24T04:29:42.123Z"
std::string FormatTimestamp(int64_t epoch_ns);

// Sleeps until NowNs() >= deadline_ns (returns at once if already past).
void SleepUntilNs(int64_t deadline_ns);

// A source of time and of cancellable waits. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch, never going backwards (as NowNs()).
  virtual int64_t NowNs() const = 0;
  // For deadlines and intervals (as MonotonicNs()).
  virtual int64_t MonotonicNs() const = 0;
  // Waits until `ns` of this clock's time have passed or `cancel` fires, whichever comes first.
  // Returns true when `cancel` has fired (as CancelToken::WaitFor).
  virtual bool WaitFor(const CancelToken& cancel, int64_t ns) const = 0;
};

// The real clock: NowNs(), MonotonicNs() and CancelToken::WaitFor(). One per process.
const Clock& SystemClock();

}  // namespace drone
