// What `drone run` keeps of a run in the run store besides its result JSON (store::RunExtras):
// each workload's latency histograms, serialised, and the flow text. Pure functions of a finished
// run; thread-safe.
#pragma once

#include <string>

#include "flow/run_context.h"
#include "store/run_store.h"

namespace drone::cli {

// The measurements stored per workload, in this order.
inline constexpr const char* kStoredMeasurements[] = {"publish", "end_to_end", "service",
                                                      "send_delay"};

// Histograms of every workload of `run` (the four measurements above) and `flow_text`.
store::RunExtras RunExtrasOf(const flow::RunContext& run, std::string flow_text);

// The text of the file at `path`; empty when it cannot be read (the run is then stored without
// it, and cannot be re-run from the store).
std::string ReadFlowText(const std::string& path);

}  // namespace drone::cli
