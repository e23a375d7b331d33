// kind: check — evaluates `expect:` thresholds against a workload's result. Fails the step (and
// so the verdict) when any expectation does not hold; every expectation is evaluated and recorded.
// A check on a workload that is still running (one that needs `load.started`) evaluates its live
// totals so far (RunContext::LiveWorkloadJson: sent, acked, failed, indeterminate, received, lag);
// fields known only at the end (delivery categories, latencies) then fail with a message saying so.
#include "flow/step_executor.h"
#include "verify/expectation.h"

namespace drone::flow {
namespace {

class CheckStep : public StepExecutor {
 public:
  std::string Kind() const override { return "check"; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::CheckWith>(ctx.step.with);
    std::string workload = with.workload.empty() ? ctx.run.OnlyWorkloadStep() : with.workload;
    Result<nlohmann::json> final_result = ctx.run.WorkloadJson(workload);
    bool live = false;
    if (!final_result.ok()) {
      Result<nlohmann::json> totals = ctx.run.LiveWorkloadJson(workload);
      if (!totals.ok()) return final_result.status();
      final_result = std::move(totals);
      live = true;
    }
    const nlohmann::json result = std::move(final_result).value();
    int failed = 0;
    std::string first_failure;
    for (const spec::Expectation& e : with.expect) {
      CheckRecord record;
      record.step = ctx.step.id;
      record.workload = workload;
      Result<verify::Condition> condition = verify::ParseCondition(e.condition);
      Result<verify::CheckOutcome> outcome =
          condition.ok() ? verify::Evaluate(result, e.field, *condition)
                         : Result<verify::CheckOutcome>(condition.status());
      if (outcome.ok()) {
        record.expect = outcome->expect;
        record.observed = outcome->observed;
        record.passed = outcome->passed;
        record.message = outcome->message;
      } else {
        record.expect = e.field + " " + e.condition;
        record.passed = false;
        record.message = outcome.status().message();
        if (live) record.message += " (the workload is still running: only its live totals are known)";
      }
      ctx.run.Emit(record.passed ? "CHECK_PASSED" : "CHECK_FAILED", ctx.step.id,
                   record.expect + " (observed " + record.observed.dump() +
                       (live ? ", live totals of a running workload)" : ")"));
      if (!record.passed) {
        ++failed;
        if (first_failure.empty()) first_failure = record.expect + ": " + record.message;
      }
      ctx.run.AddCheck(std::move(record));
    }
    if (failed > 0) {
      return FailedPrecondition(std::to_string(failed) + " of " + std::to_string(with.expect.size()) +
                                " expectations failed, first: " + first_failure);
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewCheckStep() { return std::make_unique<CheckStep>(); }

}  // namespace drone::flow
