#include "core/clock.h"

#include <ctime>

namespace drone {
namespace {

int64_t ReadClock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

struct Anchor {
  int64_t wall = ReadClock(CLOCK_REALTIME);
  int64_t mono = ReadClock(CLOCK_MONOTONIC);
};

const Anchor& GetAnchor() {
  static const Anchor anchor;
  return anchor;
}

}  // namespace

int64_t MonotonicNs() { return ReadClock(CLOCK_MONOTONIC); }

int64_t NowNs() {
  const Anchor& a = GetAnchor();
  return a.wall + (ReadClock(CLOCK_MONOTONIC) - a.mono);
}

std::string FormatTimestamp(int64_t epoch_ns) {
  time_t secs = static_cast<time_t>(epoch_ns / kNsPerSec);
  int millis = static_cast<int>((epoch_ns % kNsPerSec) / kNsPerMs);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[40];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(buf + n, sizeof(buf) - n, ".%03dZ", millis);
  return buf;
}

void SleepUntilNs(int64_t deadline_ns) {
  int64_t now = NowNs();
  if (now >= deadline_ns) return;
  int64_t delta = deadline_ns - now;
  timespec ts{static_cast<time_t>(delta / kNsPerSec), static_cast<long>(delta % kNsPerSec)};
  nanosleep(&ts, nullptr);
}

namespace {

class RealClock : public Clock {
 public:
  int64_t NowNs() const override { return drone::NowNs(); }
  int64_t MonotonicNs() const override { return drone::MonotonicNs(); }
  bool WaitFor(const CancelToken& cancel, int64_t ns) const override {
    return ns <= 0 ? cancel.cancelled() : cancel.WaitFor(ns);
  }
};

}  // namespace

const Clock& SystemClock() {
  static const RealClock clock;
  return clock;
}

}  // namespace drone
