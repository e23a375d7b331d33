#include "metrics/prometheus.h"

#include <cassert>
#include <charconv>
#include <cmath>

namespace drone::metrics {
namespace {

bool ValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                       (allow_colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

[[maybe_unused]] bool ValidLabels(const Labels& labels) {
  for (const auto& [k, v] : labels) {
    if (!ValidName(k, false) || k == "le" || k.rfind("__", 0) == 0) return false;
  }
  return true;
}

void AppendLabels(std::string& out, const Labels& labels, const std::string* le) {
  if (labels.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += EscapeLabelValue(v);
    out += '"';
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  // 64 bytes hold any shortest double representation; to_chars cannot fail here.
  assert(ec == std::errc());
  return std::string(buf, end);
}

const std::vector<double>& LatencyBucketsSeconds() {
  static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10,    30,     60};
  return kBuckets;
}

HistogramValue BucketLatencies(const Histogram& histogram, const std::vector<double>& bounds_s) {
  HistogramValue v;
  v.upper_bounds = bounds_s;
  std::vector<int64_t> bounds_ns;
  bounds_ns.reserve(bounds_s.size());
  for (double b : bounds_s) bounds_ns.push_back(static_cast<int64_t>(std::llround(b * 1e9)));
  v.cumulative = histogram.CumulativeCounts(bounds_ns);
  // Snapshots taken while recording keep TotalCount() equal to the sum of their counters, so
  // the +Inf bucket (count) is never below a finite one.
  v.count = histogram.TotalCount();
  v.sum = histogram.Mean() * static_cast<double>(v.count) / 1e9;
  return v;
}

void PrometheusRegistry::Declare(const std::string& name, MetricType type, const std::string& help) {
  assert(ValidName(name, true));
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  }
  assert(it->second.type == type);
}

PrometheusRegistry::Family& PrometheusRegistry::FamilyFor(const std::string& name, MetricType type) {
  auto it = families_.find(name);
  // Families are declared by the code that feeds them, before it feeds them.
  assert(it != families_.end() && it->second.type == type);
  (void)type;
  return it->second;
}

void PrometheusRegistry::SetCounter(const std::string& name, const Labels& labels, double value) {
  assert(ValidLabels(labels));
  std::lock_guard<std::mutex> lock(mu_);
  FamilyFor(name, MetricType::kCounter).values[labels] = value;
}

void PrometheusRegistry::SetGauge(const std::string& name, const Labels& labels, double value) {
  assert(ValidLabels(labels));
  std::lock_guard<std::mutex> lock(mu_);
  FamilyFor(name, MetricType::kGauge).values[labels] = value;
}

void PrometheusRegistry::SetHistogram(const std::string& name, const Labels& labels,
                                      HistogramValue value) {
  assert(ValidLabels(labels));
  assert(value.upper_bounds.size() == value.cumulative.size());
  std::lock_guard<std::mutex> lock(mu_);
  FamilyFor(name, MetricType::kHistogram).histograms[labels] = std::move(value);
}

bool PrometheusRegistry::Value(const std::string& name, const Labels& labels, double* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto f = families_.find(name);
  if (f == families_.end()) return false;
  auto v = f->second.values.find(labels);
  if (v == f->second.values.end()) return false;
  *out = v->second;
  return true;
}

std::string PrometheusRegistry::Exposition() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + EscapeHelp(family.help) + "\n";
    out += "# TYPE " + name + " " + TypeName(family.type) + "\n";
    for (const auto& [labels, value] : family.values) {
      out += name;
      AppendLabels(out, labels, nullptr);
      out += ' ' + FormatSampleValue(value) + '\n';
    }
    for (const auto& [labels, h] : family.histograms) {
      for (size_t i = 0; i < h.upper_bounds.size(); ++i) {
        const std::string le = FormatSampleValue(h.upper_bounds[i]);
        out += name + "_bucket";
        AppendLabels(out, labels, &le);
        out += ' ' + std::to_string(std::min(h.cumulative[i], h.count)) + '\n';
      }
      const std::string inf = "+Inf";
      out += name + "_bucket";
      AppendLabels(out, labels, &inf);
      out += ' ' + std::to_string(h.count) + '\n';
      out += name + "_sum";
      AppendLabels(out, labels, nullptr);
      out += ' ' + FormatSampleValue(h.sum) + '\n';
      out += name + "_count";
      AppendLabels(out, labels, nullptr);
      out += ' ' + std::to_string(h.count) + '\n';
    }
  }
  return out;
}

}  // namespace drone::metrics
