#include "ui/series_view.h"

#include <map>

#include "report/html_report.h"

namespace drone::ui {
namespace {

using nlohmann::json;

struct Column {
  const char* name;
  bool take_max;  // latency percentiles: the group's worst, not its mean
};

constexpr Column kColumns[] = {
    {"t", true},
    {"sent", false},
    {"acked", false},
    {"received", false},
    {"failed", false},
    {"indeterminate", false},
    {"lag", true},
    {"publish_p50_ms", true},
    {"publish_p99_ms", true},
    {"end_to_end_p50_ms", true},
    {"end_to_end_p99_ms", true},
};

json Columns(const std::vector<const json*>& points, size_t max_points) {
  json out = {{"length", points.size()}};
  for (const Column& c : kColumns) {
    std::vector<double> values;
    values.reserve(points.size());
    for (const json* p : points) {
      const json& v = p->contains(c.name) ? (*p)[c.name] : json();
      values.push_back(v.is_number() ? v.get<double>() : 0.0);
    }
    out[c.name] = report::Downsample(values, max_points, c.take_max);
  }
  return out;
}

}  // namespace

json SeriesOfResult(const json& result, size_t max_points) {
  json workloads = json::object();
  const json empty = json::object();
  const json& all = result.contains("workloads") && result["workloads"].is_object()
                        ? result["workloads"] : empty;
  for (const auto& [id, w] : all.items()) {
    std::vector<const json*> points;
    if (w.contains("series") && w["series"].is_array()) {
      for (const json& p : w["series"]) points.push_back(&p);
    }
    json columns = Columns(points, max_points);
    json windows = json::array();
    long long load_ms = report::ParseTimestampMs(w.value("started_at", ""));
    if (load_ms >= 0 && result.contains("faults") && result["faults"].is_array()) {
      for (const json& f : result["faults"]) {
        long long from = report::ParseTimestampMs(f.value("start", ""));
        long long to = report::ParseTimestampMs(f.value("end", ""));
        if (from < 0) continue;
        windows.push_back({{"step", f.value("step", "")},
                           {"kind", f.value("kind", "")},
                           {"target", f.value("target", "")},
                           {"backend", f.value("backend", "")},
                           {"from_s", static_cast<double>(from - load_ms) / 1000.0},
                           {"to_s", to >= 0 ? json(static_cast<double>(to - load_ms) / 1000.0)
                                            : json(nullptr)}});
      }
    }
    columns["fault_windows"] = windows;
    workloads[id] = columns;
  }
  return {{"run_id", result.value("run_id", "")}, {"points", max_points}, {"workloads", workloads}};
}

json SeriesOfLivePoints(const std::string& run_id, const std::vector<json>& rows,
                        const std::vector<json>& events, size_t max_points) {
  std::map<std::string, std::vector<const json*>> by_workload;
  for (const json& r : rows) {
    if (!r.contains("workload") || !r.contains("point")) continue;
    by_workload[r["workload"].get<std::string>()].push_back(&r["point"]);
  }
  // Fault windows in wall-clock ns, in the order the faults were injected.
  struct LiveWindow {
    std::string step;
    json fault;
    int64_t from_ns = 0, to_ns = 0;  // to_ns 0: still active
  };
  std::vector<LiveWindow> faults;
  for (const json& e : events) {
    const std::string type = e.value("type", "");
    if (type != "FAULT_INJECTED" && type != "FAULT_HEALED") continue;
    const std::string step = e.value("step", "");
    const int64_t t = e.value("t_ns", int64_t{0});
    if (type == "FAULT_INJECTED") {
      faults.push_back({step, e.value("fault", json::object()), t, 0});
      continue;
    }
    for (auto it = faults.rbegin(); it != faults.rend(); ++it) {
      if (it->step == step && it->to_ns == 0) {
        it->to_ns = t;
        break;
      }
    }
  }
  json workloads = json::object();
  for (const auto& [id, points] : by_workload) {
    json columns = Columns(points, max_points);
    json windows = json::array();
    // The load's start: a point's wall-clock time less its seconds since the load started.
    const json* anchor = nullptr;
    for (const json* p : points) {
      if (p->contains("t_ns") && (*p)["t_ns"].is_number() && p->contains("t")) anchor = p;
    }
    if (anchor != nullptr) {
      const double load_ns = (*anchor)["t_ns"].get<double>() - (*anchor)["t"].get<double>() * 1e9;
      for (const LiveWindow& f : faults) {
        windows.push_back({{"step", f.step},
                           {"kind", f.fault.value("kind", "")},
                           {"target", f.fault.value("target", "")},
                           {"backend", f.fault.value("backend", "")},
                           {"from_s", (static_cast<double>(f.from_ns) - load_ns) / 1e9},
                           {"to_s", f.to_ns != 0 ? json((static_cast<double>(f.to_ns) - load_ns) / 1e9)
                                                 : json(nullptr)}});
      }
    }
    columns["fault_windows"] = windows;
    workloads[id] = columns;
  }
  return {{"run_id", run_id}, {"points", max_points}, {"workloads", workloads}, {"live", true}};
}

}  // namespace drone::ui
