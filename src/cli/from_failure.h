// `drone run --from-failure RUN_ID`: runs a stored run's flow again from its failed step. The
// flow text and parameters come from the run store; a step of the earlier run is reused — not
// run again, its stored outputs given to the steps that need them — when all of these hold:
//   - it succeeded;
//   - its kind creates nothing that outlives the run (exec, sleep, check, http: see
//     kReusableKinds), so nothing of it was torn down at the end of the earlier run;
//   - no step it depends on is run again (else its outputs could describe the old resources).
// Every other step runs again: cluster, topic, workload and fault steps (their resources were
// torn down), the failed, skipped and cancelled steps, everything downstream of them, and the
// finally steps. docs/store.md describes the rule. Called from main()'s thread only.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "spec/flow_spec.h"

namespace drone::cli {

// Step kinds whose steps leave nothing behind once they have succeeded. `http` is one: a request
// creates nothing and its outputs describe the response, as an exec step's describe a program's
// run (and an http step that needs a cluster runs again with it, by the rule above). `wait` is
// not: it holds its dependants back until live workload totals of this run meet its conditions,
// and taking it from the earlier run would let them start without waiting for anything.
inline constexpr const char* kReusableKinds[] = {"exec", "sleep", "check", "http"};

struct ResumePlan {
  std::map<std::string, nlohmann::json> reused;  // step id -> its stored outputs
  std::vector<std::string> rerun;                // the steps that run again, in flow order
};

// Which steps of `flow` to reuse from `stored` (the earlier run's result JSON). FailedPrecondition
// when the earlier run has no step that failed, was skipped or was cancelled.
Result<ResumePlan> PlanFromFailure(const spec::FlowSpec& flow, const nlohmann::json& stored);

// The flow of stored run `run_id`, loaded from the store in `data_dir` with the run's parameters
// (then `params` on top) and preflighted, and the plan to resume it. Prints every problem and
// returns false (exit code 2, nothing started) when there is one.
bool PrepareFromFailure(const std::string& data_dir, const std::string& run_id,
                        const std::map<std::string, std::string>& params, spec::FlowSpec* flow,
                        std::string* flow_text, ResumePlan* plan);

}  // namespace drone::cli
