// kind: check — evaluates `expect:` thresholds against a workload's result. Fails the step (and
// so the verdict) when any expectation does not hold; every expectation is evaluated and recorded.
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
    ASSIGN_OR_RETURN(nlohmann::json result, ctx.run.WorkloadJson(workload));
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
      }
      ctx.run.Emit(record.passed ? "CHECK_PASSED" : "CHECK_FAILED", ctx.step.id,
                   record.expect + " (observed " + record.observed.dump() + ")");
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
