#include "report/html_report.h"

#include <gtest/gtest.h>

namespace drone::report {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

nlohmann::json LongRun(size_t seconds) {
  nlohmann::json series = nlohmann::json::array();
  for (size_t i = 1; i <= seconds; ++i) {
    series.push_back({{"t", static_cast<double>(i)}, {"sent", 100 + i % 7}, {"acked", 100},
                      {"received", 99}, {"publish_p50_ms", 1.5}, {"publish_p99_ms", 3.0 + (i == 1234 ? 500 : 0)},
                      {"end_to_end_p50_ms", 2}, {"end_to_end_p99_ms", 4}});
  }
  return {{"run_id", "r-9"}, {"flow", "long <run>"}, {"verdict", "fail"}, {"exit_code", 1},
          {"reasons", {"check verify failed"}},
          {"started_at", "2026-12-01T09:00:00.000Z"}, {"finished_at", "2026-12-01T09:45:00.000Z"},
          {"steps", {{{"id", "load"}, {"kind", "workload"}, {"status", "succeeded"},
                      {"started_at", "2026-12-01T09:00:01.000Z"}, {"finished_at", "2026-12-01T09:44:00.000Z"}}}},
          {"workloads", {{"load", {{"sent", 250000}, {"guarantee", "at-least-once"}, {"verdict", "pass"},
                                   {"delivery_checked", true}, {"delivery", {{"ok", 250000}, {"lost", 0}}},
                                   {"started_at", "2026-12-01T09:00:02.000Z"}, {"series", series}}}}},
          {"faults", {{{"step", "outage"}, {"kind", "kill"}, {"target", "broker-2"}, {"backend", "embedded-mock"},
                       {"start", "2026-12-01T09:00:12.000Z"}, {"end", "2026-12-01T09:00:20.500Z"}}}},
          {"checks", {{{"step", "verify"}, {"expect", "lost == 0"}, {"observed", 0}, {"passed", true}},
                      {{"step", "verify"}, {"expect", "sent < 10"}, {"observed", 250000}, {"passed", false}}}},
          {"events", {{{"t", "2026-12-01T09:00:00.000Z"}, {"type", "RUN_START"}, {"message", "x"}}}}};
}

TEST(HtmlReportTest, DownsampleAveragesOrTakesMaxima) {
  EXPECT_EQ(Downsample({1, 2, 3}, 5, false), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(Downsample({1, 3, 5, 7, 9}, 2, false), (std::vector<double>{3, 8}));  // groups of 3
  EXPECT_EQ(Downsample({1, 3, 5, 7, 9}, 2, true), (std::vector<double>{5, 9}));
}

TEST(HtmlReportTest, ParsesResultTimestamps) {
  EXPECT_EQ(ParseTimestampMs("1970-01-01T00:00:01.250Z"), 1250);
  EXPECT_EQ(ParseTimestampMs("2026-12-01T09:00:00.000Z") - ParseTimestampMs("2026-12-01T08:59:59.500Z"), 500);
  EXPECT_EQ(ParseTimestampMs("yesterday"), -1);
  EXPECT_EQ(ParseTimestampMs(""), -1);
}

TEST(HtmlReportTest, LongSeriesAreDownsampledAndPeaksKept) {
  const std::string html = HtmlReport(LongRun(2500));
  // Every line of both charts: at most kMaxChartPoints points (2500 -> groups of 3 -> 834).
  EXPECT_EQ(Count(html, "<polyline "), 7u);
  size_t at = html.find("data-series=\"publish_p99_ms\"");
  ASSERT_NE(at, std::string::npos);
  size_t v = html.find("data-values=\"", at) + 13;
  std::string values = html.substr(v, html.find('"', v) - v);
  EXPECT_EQ(Count(values, " ") + 1, 834u);
  EXPECT_NE(values.find("503"), std::string::npos) << "the 500 ms spike survived downsampling";
}

TEST(HtmlReportTest, HasVerdictChecksFaultWindowAndNoExternalReference) {
  const std::string html = HtmlReport(LongRun(30));
  EXPECT_NE(html.find("class=\"verdict verdict-fail\">fail<"), std::string::npos);
  EXPECT_NE(html.find("<td>sent &lt; 10</td>"), std::string::npos);
  EXPECT_NE(html.find("long &lt;run&gt;"), std::string::npos);
  // The fault 10 s .. 18.5 s after the load started, on both charts.
  EXPECT_EQ(Count(html, "data-step=\"outage\" data-from=\"10\" data-to=\"18.5\""), 2u);
  // Hovering it, and each chart's legend, name the fault: kind, target and backend.
  EXPECT_EQ(Count(html, "<title>outage: kill broker-2 via embedded-mock</title>"), 3u);  // and the Gantt
  EXPECT_EQ(Count(html, "outage: kill broker-2 via embedded-mock (10 s - 18.5 s)</span>"), 2u);
  EXPECT_EQ(html.find("http"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find(" href="), std::string::npos);
}

TEST(HtmlReportTest, ListsWhySendsFailedOnlyWhenSomeDid) {
  nlohmann::json run = LongRun(5);
  EXPECT_EQ(HtmlReport(run).find("Why sends failed"), std::string::npos);
  run["workloads"]["load"]["errors"] = {{{"outcome", "nack"}, {"error", "No responders <503>"}, {"count", 5411}},
                                        {{"outcome", "indeterminate"}, {"error", "no delivery report"}, {"count", 7}}};
  const std::string html = HtmlReport(run);
  EXPECT_NE(html.find("<h3>Why sends failed</h3>"), std::string::npos);
  EXPECT_NE(html.find("<tr data-outcome=\"nack\"><td>nack</td><td>No responders &lt;503&gt;</td>"
                      "<td class=\"num\">5411</td></tr>"),
            std::string::npos)
      << html;
  EXPECT_EQ(Count(html, "<tr data-outcome="), 2u);
}

TEST(HtmlReportTest, EscapesMarkup) { EXPECT_EQ(HtmlEscape("<a href='x'>&\""), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"); }

}  // namespace
}  // namespace drone::report
