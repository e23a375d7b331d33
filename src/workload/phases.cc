#include "workload/phases.h"

#include <algorithm>
#include <cmath>

#include "core/clock.h"

namespace drone::workload {
namespace {

double Round3(double v) { return static_cast<double>(std::llround(v * 1000.0)) / 1000.0; }

nlohmann::json Latency(const metrics::Histogram& h) {
  if (h.TotalCount() == 0) {
    return {{"p50", nullptr}, {"p90", nullptr}, {"p99", nullptr}, {"p999", nullptr},
            {"max", nullptr}, {"mean", nullptr}, {"count", 0}};
  }
  const metrics::LatencySummary s = metrics::Summarize(h);
  return {{"p50", Round3(s.p50_ms)},   {"p90", Round3(s.p90_ms)}, {"p99", Round3(s.p99_ms)},
          {"p999", Round3(s.p999_ms)}, {"max", Round3(s.max_ms)}, {"mean", Round3(s.mean_ms)},
          {"count", s.count}};
}

// One window [from_s, to_s) of the load, in seconds since its start.
struct Window {
  double from_s = 0, to_s = 0;
  double seconds = 0;  // covered by the series points in it
  uint64_t sent = 0, acked = 0, received = 0;
  metrics::Histogram publish, end_to_end;
};

double PointStart(const std::vector<SeriesPoint>& series, size_t i) {
  return i == 0 ? 0.0 : series[i - 1].t_s;
}

void Merge(metrics::Histogram& into, const std::string& bytes) {
  if (bytes.empty()) return;
  Result<metrics::Histogram> h = metrics::Histogram::Deserialize(bytes);
  if (h.ok() && h->lowest() == into.lowest() && h->highest() == into.highest() &&
      h->significant_digits() == into.significant_digits()) {
    into.Merge(*h);
  }
}

Window Collect(const std::vector<SeriesPoint>& series, double from_s, double to_s) {
  Window w;
  w.from_s = from_s;
  w.to_s = to_s;
  for (size_t i = 0; i < series.size(); ++i) {
    const double start = PointStart(series, i);
    const double mid = (start + series[i].t_s) / 2;
    if (mid < from_s || mid >= to_s) continue;
    w.seconds += series[i].t_s - start;
    w.sent += series[i].sent;
    w.acked += series[i].acked;
    w.received += series[i].received;
    Merge(w.publish, series[i].publish_hist);
    Merge(w.end_to_end, series[i].end_to_end_hist);
  }
  return w;
}

nlohmann::json PerSecond(uint64_t count, double seconds) {
  if (seconds <= 0) return nullptr;
  return Round3(static_cast<double>(count) / seconds);
}

nlohmann::json WindowJson(const Window& w, int64_t started_ns) {
  auto at = [&](double s) { return FormatTimestamp(started_ns + static_cast<int64_t>(s * 1e9)); };
  return {{"start", at(w.from_s)},
          {"end", at(w.to_s)},
          {"seconds", Round3(w.seconds)},
          {"throughput",
           {{"sent_per_s", PerSecond(w.sent, w.seconds)},
            {"acked_per_s", PerSecond(w.acked, w.seconds)},
            {"received_per_s", PerSecond(w.received, w.seconds)}}},
          {"latency_ms", {{"publish", Latency(w.publish)}, {"end_to_end", Latency(w.end_to_end)}}}};
}

}  // namespace

nlohmann::json PhasesJson(const WorkloadResult& result, std::vector<FaultWindow> faults) {
  nlohmann::json out = nlohmann::json::array();
  const int64_t t0 = result.started_ns;
  const double load_s = static_cast<double>(result.load_end_ns - t0) / kNsPerSec;
  auto rel = [&](int64_t ns) { return static_cast<double>(ns - t0) / kNsPerSec; };
  std::erase_if(faults, [&](const FaultWindow& f) {
    return f.start_ns < t0 || f.start_ns >= result.load_end_ns;
  });
  std::stable_sort(faults.begin(), faults.end(),
                   [](const FaultWindow& a, const FaultWindow& b) { return a.start_ns < b.start_ns; });
  for (size_t k = 0; k < faults.size(); ++k) {
    const FaultWindow& f = faults[k];
    const double start = rel(f.start_ns);
    const double end = f.end_ns == 0 ? load_s : std::min(load_s, rel(f.end_ns));
    const double before_from = k == 0 || faults[k - 1].end_ns == 0
                                   ? 0.0
                                   : std::min(start, rel(faults[k - 1].end_ns));
    const double after_to = k + 1 < faults.size() ? rel(faults[k + 1].start_ns) : load_s;
    const Window before = Collect(result.series, before_from, start);
    const Window during = Collect(result.series, start, end);
    const Window after = Collect(result.series, end, std::max(end, after_to));
    // Recovery: the first second after the heal whose received count is back within 10% of
    // `before`'s rate, measured from the heal to that second's start.
    nlohmann::json recovery = nullptr;
    if (f.end_ns != 0 && before.seconds > 0 && !result.series.empty()) {
      const double baseline = static_cast<double>(before.received) / before.seconds;
      for (size_t i = 0; i < result.series.size(); ++i) {
        const double s = PointStart(result.series, i);
        const double len = result.series[i].t_s - s;
        if (s < end || s >= load_s || len <= 0) continue;
        const double rate = static_cast<double>(result.series[i].received) / len;
        if (rate >= kRecoveredFraction * baseline) {
          recovery = Round3(std::max(0.0, s - end));
          break;
        }
      }
    }
    out.push_back({{"fault", f.step},
                   {"kind", f.kind},
                   {"before", WindowJson(before, t0)},
                   {"during", WindowJson(during, t0)},
                   {"after", WindowJson(after, t0)},
                   {"recovery_s", recovery}});
  }
  return out;
}

}  // namespace drone::workload
