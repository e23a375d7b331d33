// The flow engine: runs the steps of a flow as a DAG. A step starts when its `needs` are met (and
// its `after:` delay has passed); steps without a path between them run in parallel, each on a
// thread of its own. `needs` may name a state: x (= x.succeeded), x.started, x.done, x.failed; a
// step whose needs can no longer be met is skipped. Per-step `timeout` cancels the step; a failed
// step with `on_error: stop` (the default) cancels the run. Background steps still running when
// every other step has finished are cancelled. Then the undo actions run in reverse order —
// always: on success, failure, timeout and cancellation (SIGINT/SIGTERM) — and then the
// `finally` steps, one after another.
//
// A step with `retry:` runs again after a failed attempt (or one that timed out; the timeout
// applies to each attempt): first the undo actions that attempt registered run, then the engine
// waits the backoff (cut short by cancellation) and emits STEP_RETRY. A cancelled attempt is
// never retried. All waits (`after:`, timeouts, backoff) use the run's Clock
// (RunContext::clock()), so tests drive the scheduler with a FakeClock.
//
// Thread-safety: Run() is called once, from one thread; it starts and joins the step threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <condition_variable>
#include <mutex>

#include "core/cancel.h"
#include "core/registry.h"
#include "flow/run_context.h"
#include "flow/step_executor.h"
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
  int attempts = 0;  // attempts started (1 + retries); 0 when the step never started
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

// The wait before retry `retry` (1-based) of `step_id` under `policy`: exponential, capped,
// with seeded jitter. Pure.
int64_t RetryBackoffNs(const spec::RetryPolicy& policy, const std::string& step_id, int retry);

class FlowEngine {
 public:
  // `step_kinds`: where executors come from (default: StepKindRegistry()); tests pass a registry
  // with step kinds of their own. Not owned; must outlive Run().
  explicit FlowEngine(RunContext& run, const Registry<StepExecutor>* step_kinds = nullptr);

  // Runs the flow to its end. `cancel` is the run's token (signals fire it).
  RunOutcome Run(CancelToken& cancel);

  // Called by Run() once the flow's steps have ended, before the undo actions run, with the
  // steps' records; what the steps started stays up until it returns. A standing environment
  // (`drone up`) reports readiness here and holds until it is told to stop.
  void SetBeforeTeardown(std::function<void(const std::vector<StepRecord>&)> hook) {
    before_teardown_ = std::move(hook);
  }

 private:
  struct StepState;
  // Runs `steps` as a DAG until each is terminal; needs on steps outside `steps` count as met.
  std::vector<StepRecord> Schedule(const std::vector<const spec::Step*>& steps, CancelToken& cancel,
                                   bool finally);
  void RunStepThread(StepState& state, std::mutex& mu, std::condition_variable& cv, bool finally);

  RunContext& run_;
  const Registry<StepExecutor>& step_kinds_;
  std::function<void(const std::vector<StepRecord>&)> before_teardown_;
};

}  // namespace drone::flow
