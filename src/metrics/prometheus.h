// Prometheus exposition: a registry of metric families (counters, gauges, histograms), each with
// labelled series, rendered in the Prometheus text format 0.0.4 (`# HELP` and `# TYPE` lines,
// label values and help text escaped, histograms as cumulative `_bucket{le=...}` lines ending in
// `le="+Inf"`, then `_sum` and `_count`). The registry holds current values only: whoever feeds it
// (report/run_metrics.h for a running flow) sets totals, it does not increment. The metric names
// Drone exposes are listed in docs/metrics.md.
//
// Thread-safety: a PrometheusRegistry is safe for concurrent use from multiple threads (one
// mutex): feeders on step threads and a scraper on the HTTP server's thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/histogram.h"

namespace drone::metrics {

// Label name -> value. A std::map keeps every series' labels in one order in the output.
using Labels = std::map<std::string, std::string>;

enum class MetricType { kCounter, kGauge, kHistogram };

// One histogram series: cumulative counts for ascending upper bounds (without +Inf; the +Inf
// bucket is `count`), the sum of observed values and their count.
struct HistogramValue {
  std::vector<double> upper_bounds;
  std::vector<uint64_t> cumulative;  // same length as upper_bounds, non-decreasing, <= count
  double sum = 0;
  uint64_t count = 0;
};

// Buckets a latency histogram (nanoseconds) into `bounds_s` (seconds, ascending). The sum is
// count x mean of bucket midpoints (Histogram::Mean), so within the histogram's precision.
HistogramValue BucketLatencies(const Histogram& histogram, const std::vector<double>& bounds_s);

// Upper bounds (seconds) for Drone's latency histograms: 100 us .. 60 s.
const std::vector<double>& LatencyBucketsSeconds();

class PrometheusRegistry {
 public:
  // Declares a family. Names must match [a-zA-Z_:][a-zA-Z0-9_:]* (asserted: names are constants
  // in the code). Declaring a name again with the same type is a no-op.
  void Declare(const std::string& name, MetricType type, const std::string& help);

  // Set the value of one series of a declared family of the matching type (asserted); the series
  // is created on first use. Label names must match [a-zA-Z_][a-zA-Z0-9_]* and not be "le".
  void SetCounter(const std::string& name, const Labels& labels, double value);
  void SetGauge(const std::string& name, const Labels& labels, double value);
  void SetHistogram(const std::string& name, const Labels& labels, HistogramValue value);

  // The current value of a counter or gauge series into *out; false when there is no such series.
  bool Value(const std::string& name, const Labels& labels, double* out) const;

  // Every family in name order, its series in label order, in text format 0.0.4. Families with
  // no series still print their HELP and TYPE lines.
  std::string Exposition() const;

 private:
  struct Family {
    MetricType type = MetricType::kGauge;
    std::string help;
    std::map<Labels, double> values;               // counters and gauges
    std::map<Labels, HistogramValue> histograms;  // histograms
  };

  Family& FamilyFor(const std::string& name, MetricType type);  // requires mu_

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;  // GUARDED_BY(mu_)
};

// The content type of the text format, for HTTP responses.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Text-format escaping: label values escape backslash, double quote and newline; help text
// escapes backslash and newline.
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);
// A sample value: the shortest decimal that reads back as `value`, or +Inf, -Inf, NaN.
std::string FormatSampleValue(double value);

}  // namespace drone::metrics
