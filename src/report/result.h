// The run result: the JSON of DESIGN.md's result contract (stable; extended, never broken) and the
// human summary printed at the end of `drone run`. Pure functions of a finished run; thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "flow/engine.h"
#include "flow/run_context.h"

namespace drone::report {

nlohmann::json BuildResult(const flow::RunContext& run, const flow::RunOutcome& outcome);

// A few lines per workload: counts, delivery categories that are not zero, latency percentiles,
// throughput; then faults, checks and the verdict with its reasons. `color` adds ANSI colours.
std::string HumanSummary(const nlohmann::json& result, bool color);

}  // namespace drone::report
