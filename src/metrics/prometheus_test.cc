#include "metrics/prometheus.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace drone::metrics {
namespace {

// One parsed sample line of the text format.
struct Sample {
  std::string name;
  Labels labels;
  std::string value;
};

struct Parsed {
  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;
  std::vector<Sample> samples;
  std::string error;  // empty when the text parsed
};

// A strict reader of the subset of text format 0.0.4 the registry writes: it unescapes label
// values, and rejects anything it does not understand, so that the tests see the wire format.
Parsed Parse(const std::string& text) {
  Parsed p;
  std::istringstream in(text);
  std::string line;
  if (!text.empty() && text.back() != '\n') p.error = "no final newline";
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      if (sp == std::string::npos) return p.error = "bad comment: " + line, p;
      (line[2] == 'H' ? p.help : p.type)[rest.substr(0, sp)] = rest.substr(sp + 1);
      continue;
    }
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name += line[i++];
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key;
        while (i < line.size() && line[i] != '=') key += line[i++];
        if (i + 1 >= line.size() || line[i + 1] != '"') return p.error = "bad label: " + line, p;
        i += 2;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (++i >= line.size()) return p.error = "bad escape: " + line, p;
            char c = line[i];
            if (c == 'n') {
              value += '\n';
            } else if (c == '\\' || c == '"') {
              value += c;
            } else {
              return p.error = "bad escape: " + line, p;
            }
          } else {
            value += line[i];
          }
          ++i;
        }
        if (i >= line.size()) return p.error = "unterminated label: " + line, p;
        ++i;  // closing quote
        s.labels[key] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return p.error = "unterminated labels: " + line, p;
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') return p.error = "no value: " + line, p;
    s.value = line.substr(i + 1);
    if (s.value.empty() || s.value.find(' ') != std::string::npos) {
      return p.error = "bad value: " + line, p;
    }
    p.samples.push_back(std::move(s));
  }
  return p;
}

const Sample* Find(const Parsed& p, const std::string& name, const Labels& labels) {
  for (const Sample& s : p.samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

TEST(PrometheusTest, CountersAndGaugesWithHelpAndType) {
  PrometheusRegistry r;
  r.Declare("drone_messages_sent_total", MetricType::kCounter, "Messages sent.");
  r.Declare("drone_fault_active", MetricType::kGauge, "1 while a fault is active.");
  r.SetCounter("drone_messages_sent_total", {{"workload", "load"}, {"run_id", "r1"}}, 42);
  r.SetCounter("drone_messages_sent_total", {{"workload", "load"}, {"run_id", "r1"}}, 43);
  r.SetGauge("drone_fault_active", {{"step", "outage"}, {"kind", "kill"}, {"target", "b-2"}}, 1);
  Parsed p = Parse(r.Exposition());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.type["drone_messages_sent_total"], "counter");
  EXPECT_EQ(p.type["drone_fault_active"], "gauge");
  EXPECT_EQ(p.help["drone_messages_sent_total"], "Messages sent.");
  const Sample* sent = Find(p, "drone_messages_sent_total", {{"run_id", "r1"}, {"workload", "load"}});
  ASSERT_NE(sent, nullptr);
  EXPECT_EQ(sent->value, "43");
  const Sample* fault =
      Find(p, "drone_fault_active", {{"kind", "kill"}, {"step", "outage"}, {"target", "b-2"}});
  ASSERT_NE(fault, nullptr);
  EXPECT_EQ(fault->value, "1");
  EXPECT_EQ(p.samples.size(), 2u);
}

TEST(PrometheusTest, HelpAndTypePrecedeSamplesOfTheirFamily) {
  PrometheusRegistry r;
  r.Declare("b_total", MetricType::kCounter, "b");
  r.Declare("a", MetricType::kGauge, "a");
  r.SetCounter("b_total", {}, 1);
  r.SetGauge("a", {}, 2);
  EXPECT_EQ(r.Exposition(),
            "# HELP a a\n# TYPE a gauge\na 2\n# HELP b_total b\n# TYPE b_total counter\nb_total 1\n");
}

TEST(PrometheusTest, EscapesLabelValuesAndHelp) {
  PrometheusRegistry r;
  r.Declare("drone_run_info", MetricType::kGauge, "line one\nback\\slash");
  const std::string tricky = "a \"quoted\"\nname with \\ backslash";
  r.SetGauge("drone_run_info", {{"flow", tricky}}, 1);
  const std::string text = r.Exposition();
  EXPECT_NE(text.find("# HELP drone_run_info line one\\nback\\\\slash\n"), std::string::npos);
  Parsed p = Parse(text);
  ASSERT_EQ(p.error, "");
  ASSERT_NE(Find(p, "drone_run_info", {{"flow", tricky}}), nullptr);
}

TEST(PrometheusTest, HistogramHasCumulativeBucketsSumAndCount) {
  Histogram h;
  for (int i = 0; i < 90; ++i) h.Record(2'000'000);    // 2 ms
  for (int i = 0; i < 10; ++i) h.Record(300'000'000);  // 300 ms
  PrometheusRegistry r;
  r.Declare("drone_end_to_end_latency_seconds", MetricType::kHistogram, "End-to-end latency.");
  r.SetHistogram("drone_end_to_end_latency_seconds", {{"workload", "load"}},
                 BucketLatencies(h, {0.001, 0.005, 0.1, 0.5}));
  Parsed p = Parse(r.Exposition());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.type["drone_end_to_end_latency_seconds"], "histogram");
  auto bucket = [&](const std::string& le) -> std::string {
    const Sample* s = Find(p, "drone_end_to_end_latency_seconds_bucket", {{"workload", "load"}, {"le", le}});
    return s == nullptr ? "missing" : s->value;
  };
  EXPECT_EQ(bucket("0.001"), "0");
  EXPECT_EQ(bucket("0.005"), "90");
  EXPECT_EQ(bucket("0.1"), "90");
  EXPECT_EQ(bucket("0.5"), "100");
  EXPECT_EQ(bucket("+Inf"), "100");
  const Sample* count = Find(p, "drone_end_to_end_latency_seconds_count", {{"workload", "load"}});
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->value, "100");
  const Sample* sum = Find(p, "drone_end_to_end_latency_seconds_sum", {{"workload", "load"}});
  ASSERT_NE(sum, nullptr);
  // 90 x 2 ms + 10 x 300 ms = 3.18 s, within the histogram's 0.1%.
  EXPECT_NEAR(std::strtod(sum->value.c_str(), nullptr), 3.18, 3.18 * 1e-3);
}

TEST(PrometheusTest, EmptyFamilyStillDescribesItself) {
  PrometheusRegistry r;
  r.Declare("drone_publish_latency_seconds", MetricType::kHistogram, "Publish latency.");
  EXPECT_EQ(r.Exposition(),
            "# HELP drone_publish_latency_seconds Publish latency.\n"
            "# TYPE drone_publish_latency_seconds histogram\n");
}

TEST(PrometheusTest, SampleValuesAreShortestRoundTrip) {
  EXPECT_EQ(FormatSampleValue(0.005), "0.005");
  EXPECT_EQ(FormatSampleValue(12), "12");
  EXPECT_EQ(FormatSampleValue(1e21), "1e+21");
  EXPECT_EQ(FormatSampleValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatSampleValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatSampleValue(0.0 / 0.0), "NaN");
}

TEST(PrometheusTest, ValueReadsBackSetSeries) {
  PrometheusRegistry r;
  r.Declare("x_total", MetricType::kCounter, "x");
  double v = -1;
  EXPECT_FALSE(r.Value("x_total", {}, &v));
  r.SetCounter("x_total", {{"a", "b"}}, 7);
  ASSERT_TRUE(r.Value("x_total", {{"a", "b"}}, &v));
  EXPECT_EQ(v, 7);
}

}  // namespace
}  // namespace drone::metrics
