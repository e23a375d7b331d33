#include "report/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

namespace drone::report {
namespace {

using nlohmann::json;

constexpr double kChartWidth = 900;
constexpr double kChartHeight = 220;
constexpr double kLeft = 64, kRight = 16, kTop = 12, kBottom = 28;

// The style of the whole page; no fonts or images from elsewhere.
constexpr const char* kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 960px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
h3 { font-size: 15px; } .meta { color: #555; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff; font-weight: 600; }
.verdict-pass { background: #2e7d32; } .verdict-fail { background: #c62828; } .verdict-unknown { background: #ef6c00; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { color: #c62828; font-weight: 600; } .pass { color: #2e7d32; } .fail { color: #c62828; font-weight: 600; }
svg { background: #fff; border: 1px solid #e4e4e4; } svg text { font-size: 11px; fill: #555; }
.grid { stroke: #eee; } .axis { stroke: #999; } rect.fault { fill: #c62828; fill-opacity: 0.12; }
.legend span { display: inline-block; margin-right: 14px; } .legend i { display: inline-block; width: 12px; height: 3px; margin-right: 4px; vertical-align: middle; }
)css";

struct Line {
  std::string name;   // data-series
  std::string label;  // legend
  std::string color;
  std::vector<double> values;
};

std::string Fixed(double v, int digits) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// Compact numbers for data-values and axis labels: integers without a fraction.
std::string Num(double v) {
  if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) return Fixed(v, 0);
  char buf[64];
  snprintf(buf, sizeof(buf), "%.10g", v);
  return buf;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string Cell(const json& v) {
  if (v.is_string()) return HtmlEscape(v.get<std::string>());
  if (v.is_null()) return "-";
  return HtmlEscape(v.dump());
}

// A round step for `max`/`ticks` ticks: 1, 2 or 5 times a power of ten.
double NiceStep(double max, int ticks) {
  if (!(max > 0)) return 1;
  const double raw = max / ticks;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * p) return m * p;
  }
  return 10 * p;
}

struct Window {
  double from, to;
  std::string title;
  std::string step;
};

// What hovering a fault window and its legend entry say: "outage: kill broker-2 via signal".
std::string FaultTitle(const json& f) {
  std::string out = Str(f, "step") + ": " + Str(f, "kind") + " " + Str(f, "target");
  if (!Str(f, "backend").empty()) out += " via " + Str(f, "backend");
  return out;
}

// One line chart over x = t seconds. `windows` are shaded (fault windows).
std::string LineChart(const std::string& id, const std::string& y_unit, const std::vector<double>& t,
                      const std::vector<Line>& lines, const std::vector<Window>& windows) {
  const double pw = kChartWidth - kLeft - kRight, ph = kChartHeight - kTop - kBottom;
  double tmax = 1, ymax = 0;
  for (double v : t) tmax = std::max(tmax, v);
  for (const Line& l : lines) {
    for (double v : l.values) ymax = std::max(ymax, v);
  }
  const double ystep = NiceStep(ymax, 4);
  const double ytop = std::max(ystep, std::ceil(ymax / ystep) * ystep);
  const double xstep = NiceStep(tmax, 8);
  auto X = [&](double v) { return kLeft + pw * std::clamp(v / tmax, 0.0, 1.0); };
  auto Y = [&](double v) { return kTop + ph * (1 - std::clamp(v / ytop, 0.0, 1.0)); };
  std::string out = "<svg class=\"chart\" id=\"" + HtmlEscape(id) + "\" width=\"" + Num(kChartWidth) +
                    "\" height=\"" + Num(kChartHeight) + "\" viewBox=\"0 0 " + Num(kChartWidth) + " " +
                    Num(kChartHeight) + "\" role=\"img\">\n";
  for (const Window& w : windows) {
    const double x0 = X(w.from), x1 = X(w.to);
    out += "<rect class=\"fault\" x=\"" + Fixed(x0, 1) + "\" y=\"" + Num(kTop) + "\" width=\"" +
           Fixed(std::max(1.0, x1 - x0), 1) + "\" height=\"" + Num(ph) + "\" data-step=\"" +
           HtmlEscape(w.step) + "\" data-from=\"" + Num(w.from) +
           "\" data-to=\"" + Num(w.to) + "\"><title>" + HtmlEscape(w.title) + "</title></rect>\n";
  }
  for (double y = 0; y <= ytop + ystep / 2; y += ystep) {
    out += "<line class=\"grid\" x1=\"" + Num(kLeft) + "\" x2=\"" + Num(kLeft + pw) + "\" y1=\"" +
           Fixed(Y(y), 1) + "\" y2=\"" + Fixed(Y(y), 1) + "\"/><text x=\"" + Num(kLeft - 6) + "\" y=\"" +
           Fixed(Y(y) + 4, 1) + "\" text-anchor=\"end\">" + Num(y) + "</text>\n";
  }
  for (double x = 0; x <= tmax + xstep / 2; x += xstep) {
    out += "<text x=\"" + Fixed(X(x), 1) + "\" y=\"" + Num(kChartHeight - 10) +
           "\" text-anchor=\"middle\">" + Num(x) + "s</text>\n";
  }
  out += "<text x=\"4\" y=\"" + Num(kTop + 4) + "\">" + HtmlEscape(y_unit) + "</text>\n";
  out += "<line class=\"axis\" x1=\"" + Num(kLeft) + "\" x2=\"" + Num(kLeft) + "\" y1=\"" + Num(kTop) +
         "\" y2=\"" + Num(kTop + ph) + "\"/><line class=\"axis\" x1=\"" + Num(kLeft) + "\" x2=\"" +
         Num(kLeft + pw) + "\" y1=\"" + Num(kTop + ph) + "\" y2=\"" + Num(kTop + ph) + "\"/>\n";
  for (const Line& l : lines) {
    std::string points, values;
    for (size_t i = 0; i < l.values.size() && i < t.size(); ++i) {
      if (i > 0) {
        points += ' ';
        values += ' ';
      }
      points += Fixed(X(t[i]), 1) + "," + Fixed(Y(l.values[i]), 1);
      values += Num(l.values[i]);
    }
    out += "<polyline class=\"series\" data-series=\"" + HtmlEscape(l.name) + "\" fill=\"none\" stroke=\"" +
           l.color + "\" stroke-width=\"1.5\" points=\"" + points + "\" data-values=\"" + values + "\"/>\n";
  }
  out += "</svg>\n<div class=\"legend\">";
  for (const Line& l : lines) {
    out += "<span><i style=\"background:" + l.color + "\"></i>" + HtmlEscape(l.label) + "</span>";
  }
  for (const Window& w : windows) {
    out += "<span class=\"fault-key\" data-step=\"" + HtmlEscape(w.step) +
           "\"><i style=\"background:#f3d0d0;height:10px\"></i>" + HtmlEscape(w.title) + " (" +
           Num(w.from) + " s - " + Num(w.to) + " s)</span>";
  }
  out += "</div>\n";
  return out;
}

std::string Gantt(const json& result, const std::vector<Window>& faults_abs, long long run_ms) {
  const json& steps = result["steps"];
  long long end_ms = ParseTimestampMs(Str(result, "finished_at"));
  const double total = std::max(0.001, static_cast<double>(end_ms - run_ms) / 1000.0);
  const double row = 22, label_w = 160, pw = kChartWidth - label_w - kRight;
  const double height = kTop + row * static_cast<double>(steps.size()) + kBottom;
  auto X = [&](double s) { return label_w + pw * std::clamp(s / total, 0.0, 1.0); };
  std::string out = "<svg class=\"gantt\" id=\"gantt\" width=\"" + Num(kChartWidth) + "\" height=\"" +
                    Num(height) + "\" viewBox=\"0 0 " + Num(kChartWidth) + " " + Num(height) + "\" role=\"img\">\n";
  for (const Window& w : faults_abs) {
    out += "<rect class=\"fault\" x=\"" + Fixed(X(w.from), 1) + "\" y=\"" + Num(kTop) + "\" width=\"" +
           Fixed(std::max(1.0, X(w.to) - X(w.from)), 1) + "\" height=\"" +
           Num(row * static_cast<double>(steps.size())) + "\"><title>" + HtmlEscape(w.title) + "</title></rect>\n";
  }
  double y = kTop;
  for (const json& s : steps) {
    const std::string status = Str(s, "status");
    const char* color = status == "succeeded" ? "#43a047" : status == "failed" ? "#e53935"
                        : status == "cancelled" ? "#fb8c00" : "#9e9e9e";
    const long long a = ParseTimestampMs(Str(s, "started_at"));
    const long long b = ParseTimestampMs(Str(s, "finished_at"));
    out += "<text x=\"4\" y=\"" + Fixed(y + 15, 1) + "\">" + HtmlEscape(Str(s, "id")) + " (" +
           HtmlEscape(Str(s, "kind")) + ")</text>\n";
    if (a >= 0) {
      const double from = static_cast<double>(a - run_ms) / 1000.0;
      const double to = b >= 0 ? static_cast<double>(b - run_ms) / 1000.0 : total;
      out += "<rect class=\"step\" data-step=\"" + HtmlEscape(Str(s, "id")) + "\" data-status=\"" +
             HtmlEscape(status) + "\" x=\"" + Fixed(X(from), 1) + "\" y=\"" + Fixed(y + 4, 1) +
             "\" width=\"" + Fixed(std::max(2.0, X(to) - X(from)), 1) + "\" height=\"" + Num(row - 8) +
             "\" fill=\"" + color + "\"><title>" + HtmlEscape(Str(s, "id")) + ": " + HtmlEscape(status) +
             ", " + Fixed(from, 2) + " s .. " + Fixed(to, 2) + " s</title></rect>\n";
    }
    y += row;
  }
  const double xstep = NiceStep(total, 8);
  for (double x = 0; x <= total + xstep / 2; x += xstep) {
    out += "<text x=\"" + Fixed(X(x), 1) + "\" y=\"" + Num(height - 10) + "\" text-anchor=\"middle\">" +
           Num(x) + "s</text>\n";
  }
  out += "</svg>\n";
  return out;
}

std::string WorkloadSection(const std::string& id, const json& w, const json& faults) {
  std::string out = "<section class=\"workload\" data-workload=\"" + HtmlEscape(id) + "\">\n<h2>Workload " +
                    HtmlEscape(id) + "</h2>\n";
  out += "<p>" + HtmlEscape(Str(w, "guarantee")) + "; sent " + Cell(w.value("sent", json())) + ", acked " +
         Cell(w.value("acked", json())) + ", failed " + Cell(w.value("failed", json())) +
         ", indeterminate " + Cell(w.value("indeterminate", json())) + ", received " +
         Cell(w.value("received", json())) + "; delivery verdict <b>" +
         HtmlEscape(w.contains("verdict") ? Str(w, "verdict") : std::string("not checked")) + "</b></p>\n";
  const json errors = w.value("errors", json::array());
  if (!errors.empty()) {
    out += "<h3>Why sends failed</h3>\n<table class=\"errors\"><tr><th>outcome</th><th>error</th>"
           "<th>messages</th></tr>\n";
    for (const json& e : errors) {
      out += "<tr data-outcome=\"" + HtmlEscape(Str(e, "outcome")) + "\"><td>" + HtmlEscape(Str(e, "outcome")) +
             "</td><td>" + HtmlEscape(Str(e, "error")) + "</td><td class=\"num\">" +
             Cell(e.value("count", json())) + "</td></tr>\n";
    }
    out += "</table>\n";
  }
  const json series = w.value("series", json::array());
  std::vector<double> t;
  std::map<std::string, std::vector<double>> cols;
  for (const json& p : series) {
    t.push_back(p.value("t", 0.0));
    for (const char* k : {"sent", "acked", "received", "publish_p50_ms", "publish_p99_ms",
                          "end_to_end_p50_ms", "end_to_end_p99_ms"}) {
      cols[k].push_back(p.value(k, 0.0));
    }
  }
  // Fault windows relative to the workload's load start, which is what the series counts from.
  std::vector<Window> windows;
  const long long load_ms = ParseTimestampMs(Str(w, "started_at"));
  double tmax = t.empty() ? 1 : t.back();
  if (load_ms >= 0) {
    for (const json& f : faults) {
      const long long a = ParseTimestampMs(Str(f, "start"));
      const long long b = ParseTimestampMs(Str(f, "end"));
      if (a < 0) continue;
      windows.push_back({static_cast<double>(a - load_ms) / 1000.0,
                         b >= 0 ? static_cast<double>(b - load_ms) / 1000.0 : tmax,
                         FaultTitle(f), Str(f, "step")});
    }
  }
  const std::vector<double> td = Downsample(t, kMaxChartPoints, true);
  auto line = [&](const char* key, const char* label, const char* color, bool take_max) {
    return Line{key, label, color, Downsample(cols[key], kMaxChartPoints, take_max)};
  };
  if (series.empty()) {
    out += "<p>No per-second series.</p>\n";
  } else {
    out += "<h3>Throughput</h3>\n" +
           LineChart("throughput-" + id, "msg/s", td,
                     {line("sent", "sent/s", "#1e88e5", false), line("acked", "acked/s", "#43a047", false),
                      line("received", "received/s", "#8e24aa", false)},
                     windows);
    out += "<h3>Latency percentiles</h3>\n" +
           LineChart("latency-" + id, "ms", td,
                     {line("publish_p50_ms", "publish p50", "#90caf9", true),
                      line("publish_p99_ms", "publish p99", "#1565c0", true),
                      line("end_to_end_p50_ms", "end-to-end p50", "#ce93d8", true),
                      line("end_to_end_p99_ms", "end-to-end p99", "#6a1b9a", true)},
                     windows);
  }
  out += "<h3>Latency (ms)</h3>\n<table class=\"latency\"><tr><th></th><th>p50</th><th>p90</th><th>p99</th>"
         "<th>p99.9</th><th>max</th><th>count</th></tr>\n";
  for (const char* kind : {"publish", "end_to_end", "service", "send_delay"}) {
    const json l = w.value("latency_ms", json::object()).value(kind, json::object());
    out += std::string("<tr><td>") + kind + "</td>";
    for (const char* k : {"p50", "p90", "p99", "p999", "max", "count"}) {
      out += "<td class=\"num\">" + Cell(l.value(k, json())) + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</table>\n";
  if (w.value("delivery_checked", false)) {
    out += "<h3>Delivery</h3>\n<table class=\"delivery\"><tr><th>category</th><th>messages</th></tr>\n";
    const json d = w.value("delivery", json::object());
    for (auto it = d.begin(); it != d.end(); ++it) {
      if (!it.value().is_number()) continue;
      const bool bad = it.value().get<double>() > 0 && it.key() != "ok" && it.key() != "recovered";
      out += std::string("<tr") + (bad ? " class=\"bad\"" : "") + " data-category=\"" +
             HtmlEscape(it.key()) + "\"><td>" + HtmlEscape(it.key()) + "</td><td class=\"num\">" +
             Cell(it.value()) + "</td></tr>\n";
    }
    out += "</table>\n";
    const json reasons = w.value("reasons", json::array());
    for (const json& r : reasons) out += "<p class=\"fail\">" + Cell(r) + "</p>\n";
  } else {
    out += "<p>Delivery not checked (no consumers).</p>\n";
  }
  out += "</section>\n";
  return out;
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> Downsample(const std::vector<double>& values, size_t max_points, bool take_max) {
  if (max_points == 0 || values.size() <= max_points) return values;
  const size_t group = (values.size() + max_points - 1) / max_points;
  std::vector<double> out;
  out.reserve(max_points);
  for (size_t i = 0; i < values.size(); i += group) {
    const size_t end = std::min(values.size(), i + group);
    double acc = take_max ? values[i] : 0;
    for (size_t j = i; j < end; ++j) acc = take_max ? std::max(acc, values[j]) : acc + values[j];
    out.push_back(take_max ? acc : acc / static_cast<double>(end - i));
  }
  return out;
}

long long ParseTimestampMs(const std::string& text) {
  int y, mo, d, h, mi, s, ms;
  char z = 0;
  if (sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms, &z) != 8 ||
      z != 'Z') {
    return -1;
  }
  tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  const time_t secs = timegm(&t);
  if (secs == static_cast<time_t>(-1)) return -1;
  return static_cast<long long>(secs) * 1000 + ms;
}

std::string HtmlReport(const json& result) {
  const std::string flow = Str(result, "flow");
  const std::string run_id = Str(result, "run_id");
  const std::string verdict = Str(result, "verdict");
  const json faults = result.value("faults", json::array());
  const long long run_ms = ParseTimestampMs(Str(result, "started_at"));
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                    HtmlEscape(flow) + " — run " + HtmlEscape(run_id) + "</title>\n<style>" + kStyle +
                    "</style>\n</head>\n<body>\n";
  out += "<header>\n<h1>" + HtmlEscape(flow) + "</h1>\n<p class=\"meta\">run <code id=\"run-id\">" +
         HtmlEscape(run_id) + "</code>, " + HtmlEscape(Str(result, "started_at")) + " .. " +
         HtmlEscape(Str(result, "finished_at")) + ", exit code " + Cell(result.value("exit_code", json())) +
         "</p>\n<p>verdict <span id=\"verdict\" class=\"verdict verdict-" + HtmlEscape(verdict) + "\">" +
         HtmlEscape(verdict) + "</span></p>\n";
  for (const json& r : result.value("reasons", json::array())) out += "<p class=\"reason\">" + Cell(r) + "</p>\n";
  if (result.contains("params") && result["params"].is_object() && !result["params"].empty()) {
    out += "<p class=\"meta\">params:";
    for (auto it = result["params"].begin(); it != result["params"].end(); ++it) {
      out += " <code>" + HtmlEscape(it.key()) + "=" + Cell(it.value()) + "</code>";
    }
    out += "</p>\n";
  }
  out += "</header>\n";

  std::vector<Window> faults_abs;
  if (run_ms >= 0) {
    const long long end_ms = ParseTimestampMs(Str(result, "finished_at"));
    for (const json& f : faults) {
      const long long a = ParseTimestampMs(Str(f, "start"));
      const long long b = ParseTimestampMs(Str(f, "end"));
      if (a < 0) continue;
      faults_abs.push_back({static_cast<double>(a - run_ms) / 1000.0,
                            static_cast<double>((b >= 0 ? b : end_ms) - run_ms) / 1000.0,
                            FaultTitle(f), Str(f, "step")});
    }
  }
  out += "<h2>Steps</h2>\n";
  if (run_ms >= 0 && result.contains("steps")) out += Gantt(result, faults_abs, run_ms);

  const json workloads = result.value("workloads", json::object());
  for (auto it = workloads.begin(); it != workloads.end(); ++it) {
    out += WorkloadSection(it.key(), it.value(), faults);
  }

  out += "<h2>Checks</h2>\n";
  const json checks = result.value("checks", json::array());
  if (checks.empty()) {
    out += "<p>No checks.</p>\n";
  } else {
    out += "<table id=\"checks\"><tr><th>step</th><th>expectation</th><th>observed</th><th>result</th></tr>\n";
    for (const json& c : checks) {
      const bool passed = c.value("passed", false);
      out += "<tr class=\"check\" data-passed=\"" + std::string(passed ? "true" : "false") + "\"><td>" +
             HtmlEscape(Str(c, "step")) + "</td><td>" + HtmlEscape(Str(c, "expect")) + "</td><td class=\"num\">" +
             Cell(c.value("observed", json())) + "</td><td class=\"" + (passed ? "pass\">pass" : "fail\">FAIL") +
             "</td></tr>\n";
    }
    out += "</table>\n";
  }
  out += "<h2>Faults</h2>\n";
  if (faults.empty()) {
    out += "<p>No faults.</p>\n";
  } else {
    out += "<table id=\"faults\"><tr><th>step</th><th>kind</th><th>target</th><th>backend</th><th>start</th><th>end</th></tr>\n";
    for (const json& f : faults) {
      out += "<tr><td>" + HtmlEscape(Str(f, "step")) + "</td><td>" + HtmlEscape(Str(f, "kind")) + "</td><td>" +
             HtmlEscape(Str(f, "target")) + "</td><td>" + HtmlEscape(Str(f, "backend")) + "</td><td>" +
             HtmlEscape(Str(f, "start")) + "</td><td>" +
             (Str(f, "end").empty() ? std::string("not healed") : HtmlEscape(Str(f, "end"))) + "</td></tr>\n";
    }
    out += "</table>\n";
  }
  out += "<h2>Events</h2>\n<table id=\"events\"><tr><th>t</th><th>type</th><th>step</th><th>message</th></tr>\n";
  for (const json& e : result.value("events", json::array())) {
    out += "<tr class=\"event\"><td>" + HtmlEscape(Str(e, "t")) + "</td><td>" + HtmlEscape(Str(e, "type")) +
           "</td><td>" + HtmlEscape(Str(e, "step")) + "</td><td>" + HtmlEscape(Str(e, "message")) + "</td></tr>\n";
  }
  out += "</table>\n<footer class=\"meta\"><p>Generated by drone report.</p></footer>\n</body>\n</html>\n";
  return out;
}

}  // namespace drone::report
