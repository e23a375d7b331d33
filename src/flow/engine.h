// The flow engine: runs the steps of a flow as a DAG. A step starts when its `needs` are met (and
// its `after:` delay has passed); steps without a path between them run in parallel, each on a
// thread of its own. `needs` may name a state: x (= x.succeeded), x.started, x.done, x.failed; a
// step whose needs can no longer be met is skipped. Per-step `timeout` cancels the step; a failed
// step with `on_error: stop` (the default) cancels the run. Background steps still running when
// every other step has finished are cancelled. Then the undo actions run in reverse order —
// always: on success, failure, timeout and cancellation (SIGINT/SIGTERM) — and then the
// `finally` steps, one after another.
//
// Thread-safety: Run() is called once, from one thread; it starts and joins the step threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "flow/run_context.h"
#include "verify/verdict.h"

namespace drone::flow {

enum class StepStatus { kPending, kRunning, kSucceeded, kFailed, kSkipped, kCancelled };

const char* StepStatusName(StepStatus status);

struct StepRecord {
  std::string id;
  std::string kind;
  bool finally = false;
  bool reused = false;  // not run: outputs taken from an earlier run (RunContext::SetReused)
  StepStatus status = StepStatus::kPending;
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
  Status error;
};

struct RunOutcome {
  verify::Verdict verdict = verify::Verdict::kUnknown;
  int exit_code = 3;  // DESIGN.md: 0 pass, 1 fail, 3 could not complete, 4 unknown
  std::vector<std::string> reasons;
  std::vector<StepRecord> steps;
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
  bool interrupted = false;
  Status teardown;
};

class FlowEngine {
 public:
  explicit FlowEngine(RunContext& run) : run_(run) {}

  // Runs the flow to its end. `cancel` is the run's token (signals fire it).
  RunOutcome Run(CancelToken& cancel);

 private:
  RunContext& run_;
};

}  // namespace drone::flow
