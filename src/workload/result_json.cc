#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "workload/workload.h"

namespace drone::workload {
namespace {

// Distinct error texts a workload result lists ("errors"), most frequent first.
constexpr size_t kMaxErrorsInResult = 10;

double Round3(double v) { return static_cast<double>(std::llround(v * 1000.0)) / 1000.0; }

nlohmann::json LatencyJson(const metrics::Histogram& h) {
  if (h.TotalCount() == 0) {
    return {{"p50", nullptr}, {"p90", nullptr}, {"p99", nullptr}, {"p999", nullptr},
            {"max", nullptr}, {"mean", nullptr}, {"count", 0}};
  }
  metrics::LatencySummary s = metrics::Summarize(h);
  return {{"p50", Round3(s.p50_ms)},   {"p90", Round3(s.p90_ms)}, {"p99", Round3(s.p99_ms)},
          {"p999", Round3(s.p999_ms)}, {"max", Round3(s.max_ms)}, {"mean", Round3(s.mean_ms)},
          {"count", s.count}};
}

}  // namespace

nlohmann::json SeriesPointJson(const SeriesPoint& p) {
  return {{"t", Round3(p.t_s)},
          {"sent", p.sent},
          {"acked", p.acked},
          {"failed", p.failed},
          {"indeterminate", p.indeterminate},
          {"received", p.received},
          {"bytes_sent", p.bytes_sent},
          {"lag", p.lag},
          {"publish_p50_ms", Round3(p.publish.p50_ms)},
          {"publish_p99_ms", Round3(p.publish.p99_ms)},
          {"end_to_end_p50_ms", Round3(p.end_to_end.p50_ms)},
          {"end_to_end_p99_ms", Round3(p.end_to_end.p99_ms)}};
}

nlohmann::json WorkloadResult::ToJson() const {
  const double load_s = std::max(1e-9, static_cast<double>(load_end_ns - started_ns) / kNsPerSec);
  nlohmann::json series_json = nlohmann::json::array();
  for (const SeriesPoint& p : series) series_json.push_back(SeriesPointJson(p));
  nlohmann::json delivery_json = delivery.ToJson();
  nlohmann::json errors_json = nlohmann::json::array();
  for (const SendFailure& f : failures.Top(kMaxErrorsInResult)) {
    errors_json.push_back({{"outcome", f.nack ? "nack" : "indeterminate"}, {"error", f.error}, {"count", f.count}});
  }
  return {
      {"sent", sent},
      {"acked", acked},
      {"failed", failed},
      {"indeterminate", indeterminate},
      {"received", received},
      {"send_errors", send_errors},
      {"errors", errors_json},
      {"lanes", lanes},
      {"delivery", delivery_json},
      {"delivery_checked", consumed},
      {"drain", {{"caught_up", drain_caught_up},
                 {"skipped_offsets", skipped_offsets},
                 {"seconds", Round3(static_cast<double>(finished_ns - load_end_ns) / kNsPerSec)}}},
      {"latency_ms",
       {{"publish", LatencyJson(publish)},
        {"service", LatencyJson(service)},
        {"send_delay", LatencyJson(send_delay)},
        {"end_to_end", LatencyJson(end_to_end)}}},
      {"throughput",
       {{"sent_per_s", Round3(static_cast<double>(sent) / load_s)},
        {"acked_per_s", Round3(static_cast<double>(acked) / load_s)},
        {"received_per_s", Round3(static_cast<double>(received) / load_s)},
        {"mb_per_s", Round3(static_cast<double>(bytes_sent) / load_s / 1e6)}}},
      {"load_seconds", Round3(load_s)},
      {"started_at", FormatTimestamp(started_ns)},
      {"load_ended_at", FormatTimestamp(load_end_ns)},
      {"series", series_json},
  };
}

}  // namespace drone::workload
