// kind: flow — runs a sub-flow (loaded and validated with the parent, spec::SubFlowWith) with a
// FlowEngine of its own, on a RunContext that records into the parent's under "<step>/<id>".
//
// Teardown: the sub-flow's steps register their undo actions in the parent's stack, so they run
// in the parent's teardown, in reverse order with everything else. Those actions hold references
// to the sub-flow's RunContext, so the context is kept alive by one more undo action, pushed
// before the sub-flow starts — it runs (and lets the context go) after all of theirs. The
// sub-flow's `finally` steps run when the sub-flow ends.
//
// Outputs: {"steps": {ID: {"status": ..., "outputs": {...}}}, "verdict": ...}, so that later
// steps read `${{ steps.SUB.outputs.steps.ID.outputs.NAME }}`.
#include <atomic>
#include <thread>

#include "flow/engine.h"
#include "flow/step_executor.h"

namespace drone::flow {
namespace {

class FlowStep : public StepExecutor {
 public:
  std::string Kind() const override { return "flow"; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::SubFlowWith>(ctx.step.with);
    if (!with.flow) return Internal("flow " + ctx.step.id + ": the sub-flow was not loaded");
    auto sub = std::make_shared<RunContext>(*with.flow, ctx.run, ctx.step.id);
    ctx.run.PushUndo("release sub-flow " + with.path, [sub]() mutable {
      sub.reset();
      return Status::Ok();
    });

    // The engine cancels its token itself (a failed step), so it gets one of its own that
    // follows the step's.
    CancelToken cancel;
    std::atomic<bool> done{false};
    std::thread follower([&] {
      while (!done.load()) {
        if (ctx.cancel.WaitFor(20'000'000)) {
          cancel.Cancel(ctx.cancel.reason(), ctx.cancel.graceful());
          return;
        }
      }
    });
    RunOutcome outcome = FlowEngine(*sub).Run(cancel);
    done.store(true);
    follower.join();

    nlohmann::json steps = nlohmann::json::object();
    for (const StepRecord& r : outcome.steps) {
      nlohmann::json s = {{"status", StepStatusName(r.status)}, {"outputs", sub->Outputs(r.id)}};
      if (!r.error.ok()) s["error"] = r.error.message();
      steps[r.id] = std::move(s);
    }
    ctx.run.SetOutputs(ctx.step.id, {{"steps", steps},
                                     {"verdict", verify::VerdictName(outcome.verdict)},
                                     {"exit_code", outcome.exit_code}});
    if (outcome.exit_code == 0) return Status::Ok();
    std::string reasons;
    for (const std::string& r : outcome.reasons) reasons += (reasons.empty() ? "" : "; ") + r;
    const std::string message = "sub-flow " + with.path + ": " + reasons;
    if (ctx.cancel.cancelled()) return Cancelled(message);
    switch (outcome.exit_code) {
      case 1: return FailedPrecondition(message);  // a check or a delivery verdict failed
      case 2: return InvalidArgument(message);
      case 4: return Unavailable(message + " (verdict unknown)");
      default: return Unavailable(message);
    }
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewFlowStep() { return std::make_unique<FlowStep>(); }

}  // namespace drone::flow
