// The per-second series of a run as the UI charts them: column arrays per workload (t, sent,
// acked, received, failed, indeterminate, lag, publish and end-to-end p50/p99), reduced on the
// server to at most N points per line so that a long run costs the page the same as a short one
// (counts averaged over each group, latency percentiles as the group's maximum so spikes stay
// visible; report::Downsample), plus the fault windows in seconds since each workload's load
// started. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace drone::ui {

inline constexpr size_t kDefaultSeriesPoints = 600;
inline constexpr size_t kMaxSeriesPoints = 5000;

// {run_id, points, workloads: {ID: {length, t: [...], sent: [...], ..., fault_windows: [{step,
// kind, target, from_s, to_s}]}}} of a stored result (docs/results.md).
nlohmann::json SeriesOfResult(const nlohmann::json& result, size_t max_points);

// The same of a run in progress, from its live rows ({workload, point}) and its events so far.
// Fault windows come from the FAULT_INJECTED and FAULT_HEALED events (`to_s` null while the
// fault is active), placed by the wall-clock time the live log keeps with each point (`t_ns`);
// a workload without one has none.
nlohmann::json SeriesOfLivePoints(const std::string& run_id,
                                  const std::vector<nlohmann::json>& rows,
                                  const std::vector<nlohmann::json>& events, size_t max_points);

}  // namespace drone::ui
