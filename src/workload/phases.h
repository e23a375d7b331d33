// Phases: what a fault did to a workload. For each fault window that falls in the workload's load,
// the load is cut into `before` (from the load's start, or the previous fault's end, to the
// fault), `during` and `after` (to the next fault, or the load's end), each with its throughput
// and latency percentiles, merged from the per-second interval histograms the workload keeps
// (SeriesPoint::end_to_end_hist); and `recovery_s`, the time from the heal until a second's
// received throughput is back within 10% of `before` (null if it never is during the load).
// A second of the series belongs to the window that holds its midpoint.
//
// Pure functions over value types; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workload/workload.h"

namespace drone::workload {

struct FaultWindow {
  std::string step;
  std::string kind;
  int64_t start_ns = 0;
  int64_t end_ns = 0;  // 0: not healed before the load ended
};

// Within this fraction of `before`, throughput counts as recovered.
inline constexpr double kRecoveredFraction = 0.9;

// The `phases` array of a workload result (docs/results.md), one entry per fault window that
// starts during the load, in start order.
nlohmann::json PhasesJson(const WorkloadResult& result, std::vector<FaultWindow> faults);

}  // namespace drone::workload
