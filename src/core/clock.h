// Time for measurement. NowNs() is monotonic (it never goes backwards within a process) yet
// expressed as nanoseconds since the Unix epoch: a wall-clock anchor taken once at start-up plus
// CLOCK_MONOTONIC deltas. Timestamps in envelopes, histories and results all use it, so times from
// producers and consumers of one process are directly comparable. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace drone
