// kind: wait — polls until every condition of `until` holds at once, or fails (FailedPrecondition)
// once `deadline` has passed, saying what it last observed. Conditions name a live total of a
// workload (RunContext::LiveWorkloadJson: updated once a second while the workload runs, final
// once it has ended) or a step output (verify/output_condition.h). Creates nothing, so it
// registers no undo action; cancellation ends it at once.
#include <algorithm>

#include "core/clock.h"
#include "core/units.h"
#include "flow/step_executor.h"
#include "spec/expression.h"
#include "verify/output_condition.h"

namespace drone::flow {
namespace {

// The value at `path` ("steps.x.outputs.a[1]") in an expression context, or nullptr.
const nlohmann::json* Lookup(const nlohmann::json& context, const std::string& path) {
  Result<std::vector<spec::PathElement>> elements = spec::ParsePath(path);
  if (!elements.ok()) return nullptr;
  const nlohmann::json* at = &context;
  for (const spec::PathElement& e : *elements) {
    if (const auto* name = std::get_if<std::string>(&e)) {
      if (!at->is_object()) return nullptr;
      auto it = at->find(*name);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else {
      const size_t index = std::get<size_t>(e);
      if (!at->is_array() || index >= at->size()) return nullptr;
      at = &(*at)[index];
    }
  }
  return at;
}

class WaitStep : public StepExecutor {
 public:
  std::string Kind() const override { return "wait"; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::WaitWith>(ctx.step.with);
    std::vector<verify::OutputCondition> conditions;
    for (const spec::WaitCondition& c : with.until) {
      ASSIGN_OR_RETURN(verify::OutputCondition parsed, verify::ParseOutputCondition(c.condition));
      conditions.push_back(std::move(parsed));
    }
    const int64_t start = MonotonicNs();
    const int64_t deadline = start + with.deadline_ns;
    int polls = 0;
    while (true) {
      ++polls;
      std::vector<verify::CheckOutcome> outcomes = Observe(ctx, with, conditions);
      const bool all = std::all_of(outcomes.begin(), outcomes.end(),
                                   [](const verify::CheckOutcome& o) { return o.passed; });
      const int64_t now = MonotonicNs();
      if (all || now >= deadline) {
        nlohmann::json observed = nlohmann::json::object();
        std::string unmet;
        for (const verify::CheckOutcome& o : outcomes) {
          observed[o.expect] = o.observed;
          if (!o.passed) unmet += (unmet.empty() ? "" : "; ") + o.message;
        }
        const int64_t waited_ms = (now - start) / 1'000'000;
        ctx.run.SetOutputs(ctx.step.id, {{"satisfied", all},
                                         {"waited_ms", waited_ms},
                                         {"polls", polls},
                                         {"observed", observed}});
        if (all) return Status::Ok();
        return FailedPrecondition("deadline " + FormatDuration(with.deadline_ns) +
                                  " passed with conditions unmet: " + unmet);
      }
      const int64_t pause = std::min(with.poll_ns, deadline - now);
      if (ctx.cancel.WaitFor(pause)) {
        return Cancelled("wait " + ctx.step.id + " cancelled after " +
                         std::to_string((MonotonicNs() - start) / 1'000'000) +
                         " ms: " + ctx.cancel.reason());
      }
    }
  }

 private:
  static std::vector<verify::CheckOutcome> Observe(
      StepContext& ctx, const spec::WaitWith& with,
      const std::vector<verify::OutputCondition>& conditions) {
    const nlohmann::json context = ctx.run.ExpressionContext();
    std::optional<Result<nlohmann::json>> live;
    std::vector<verify::CheckOutcome> out;
    for (size_t i = 0; i < with.until.size(); ++i) {
      const spec::WaitCondition& c = with.until[i];
      if (c.field.rfind("steps.", 0) == 0) {
        out.push_back(verify::EvaluateOutput(Lookup(context, c.field), c.field, conditions[i]));
        continue;
      }
      if (!live) live = ctx.run.LiveWorkloadJson(with.workload);
      const nlohmann::json* value = nullptr;
      if (live->ok()) {
        auto it = (*live)->find(c.field);
        if (it != (*live)->end()) value = &*it;
      }
      verify::CheckOutcome o = verify::EvaluateOutput(value, c.field, conditions[i]);
      if (!live->ok()) o.message = live->status().message();
      out.push_back(std::move(o));
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewWaitStep() { return std::make_unique<WaitStep>(); }

}  // namespace drone::flow
