// Step kinds: one executor per `kind:` of the flow format, registered by name in
// RegisterBuiltinStepKinds(). An executor runs one step to its end on the calling thread.
//
// Contract: Run() registers an undo action (RunContext::PushUndo) BEFORE it creates anything that
// outlives the step, returns promptly once `ctx.cancel` fires, and reports failure as a Status
// (kInvalidArgument for bad input discovered late, kUnavailable/kInternal for infrastructure,
// kFailedPrecondition for a failed check). Executors are stateless; Run() may be called
// concurrently for different steps.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/registry.h"
#include "core/status.h"
#include "flow/run_context.h"
#include "spec/flow_spec.h"

namespace drone::flow {

class StepExecutor;

struct StepContext {
  RunContext& run;
  const spec::Step& step;
  const CancelToken& cancel;
  // Marks the step `started` (for `needs: [x.started]`). The engine calls it when Run() begins
  // unless the executor says it starts later (workloads start when producers do).
  std::function<void()> mark_started;
  // More roots for expressions, beside params and steps: {"each": {"item": ..., "index": N}} in
  // an iteration of an each step. An object.
  nlohmann::json bindings = nlohmann::json::object();
  // Where the executors of nested steps come from (each); null: StepKindRegistry().
  const Registry<StepExecutor>* step_kinds = nullptr;
  // Resolves `${{ steps.X.outputs.Y }}` (and the bindings) in a string field.
  Result<std::string> Interpolate(const std::string& text) const;
};

class StepExecutor {
 public:
  virtual ~StepExecutor() = default;
  virtual std::string Kind() const = 0;
  // True when the executor calls mark_started itself.
  virtual bool MarksStarted() const { return false; }
  virtual Status Run(StepContext& ctx) = 0;
};

Registry<StepExecutor>& StepKindRegistry();
void RegisterBuiltinStepKinds(Registry<StepExecutor>& registry);

}  // namespace drone::flow
