// The self-contained HTML report of a run (`drone report RUN_ID -o report.html`): one file with
// all CSS and SVG inline and no reference to anything outside it, so it opens offline and can be
// attached to a ticket. It shows the run header and verdict, the steps as a Gantt chart, per
// workload a throughput chart and a latency-percentile chart over time with the fault windows
// shaded (SVG drawn here from the per-second series, downsampled to at most kMaxChartPoints
// points per line), the delivery categories, and tables of checks, faults and events. Every
// chart line carries its values in a `data-values` attribute, so tools (and tests) can read what
// was drawn. A pure function of the result JSON (docs/results.md); thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace drone::report {

inline constexpr size_t kMaxChartPoints = 1000;

std::string HtmlReport(const nlohmann::json& result);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string HtmlEscape(std::string_view text);

// Reduces `values` to at most `max_points` by averaging (or, with `take_max`, taking the maximum
// of) consecutive groups of equal size (the last group may be smaller). Unchanged when short
// enough.
std::vector<double> Downsample(const std::vector<double>& values, size_t max_points, bool take_max);

// Milliseconds since the epoch of a result timestamp ("2026-12-01T09:51:43.082Z"); -1 when it is
// not one.
long long ParseTimestampMs(const std::string& text);

}  // namespace drone::report
