// kind: sleep — waits for `duration` on the run's clock, cut short (Cancelled) when the step is cancelled.
// Creates nothing, so it registers no undo action.
#include "core/clock.h"
#include "flow/step_executor.h"

namespace drone::flow {
namespace {

class SleepStep : public StepExecutor {
 public:
  std::string Kind() const override { return "sleep"; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::SleepWith>(ctx.step.with);
    const Clock& clock = ctx.run.clock();
    const int64_t start = clock.MonotonicNs();
    const bool cancelled = clock.WaitFor(ctx.cancel, with.duration_ns);
    const int64_t slept_ms = (clock.MonotonicNs() - start) / 1'000'000;
    ctx.run.SetOutputs(ctx.step.id, {{"slept_ms", slept_ms}});
    if (cancelled) {
      return Cancelled("sleep " + ctx.step.id + " cut short after " + std::to_string(slept_ms) +
                       " ms: " + ctx.cancel.reason());
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewSleepStep() { return std::make_unique<SleepStep>(); }

}  // namespace drone::flow
