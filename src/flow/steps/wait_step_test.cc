#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "flow/steps/step_test_flow.h"

namespace drone::flow {
namespace {

using ::testing::HasSubstr;

TEST(WaitStepTest, WaitsForAParallelStepsOutput) {
  // The wait starts beside the exec (no needs) and holds once the exec has set its outputs.
  TestFlowRun run(R"(name: t
steps:
  slow: {kind: exec, with: {argv: [/bin/sh, -c, "sleep 0.3; echo ready"]}}
  w: {kind: wait, with: {until: {"steps.slow.outputs.stdout": "== ready"}, deadline: 20s, poll: 20ms}}
)");
  EXPECT_EQ(run.outcome.exit_code, 0);
  EXPECT_EQ(run.Step("w").status, StepStatus::kSucceeded);
  const nlohmann::json out = run.ctx.Outputs("w");
  EXPECT_EQ(out["satisfied"], true);
  EXPECT_GT(out["polls"].get<int>(), 1);  // it did have to wait
  EXPECT_EQ(out["observed"]["steps.slow.outputs.stdout == ready"], "ready");
  EXPECT_GE(out["waited_ms"].get<int64_t>(), 200);  // the output cannot exist before 0.3 s
}

TEST(WaitStepTest, DeadlineFailsWithWhatWasObserved) {
  TestFlowRun run(R"(name: t
steps:
  probe: {kind: exec, with: {argv: [echo, starting]}}
  w: {kind: wait, needs: [probe], with: {until: {"steps.probe.outputs.stdout": "== ready"}, deadline: 300ms, poll: 50ms}}
)");
  EXPECT_NE(run.outcome.exit_code, 0);
  const StepRecord& w = run.Step("w");
  EXPECT_EQ(w.status, StepStatus::kFailed);
  EXPECT_EQ(w.error.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(w.error.message(), HasSubstr("deadline 300ms passed"));
  EXPECT_THAT(w.error.message(), HasSubstr("'starting'"));
  EXPECT_EQ(run.ctx.Outputs("w")["satisfied"], false);
  EXPECT_GE(run.ctx.Outputs("w")["waited_ms"].get<int64_t>(), 300);
}

TEST(WaitStepTest, WaitsOnTheLiveTotalsOfARunningWorkload) {
  // 20 s of load at 500/s; the wait needs 600 received, which only a running workload's live
  // totals can show long before it ends. The check beside it reads the same live totals.
  TestFlowRun run(R"(name: t
steps:
  cluster: {kind: cluster, with: {nodes: 1}}
  topic: {kind: topic, needs: [cluster], with: {name: t, partitions: 2}}
  load: {kind: workload, needs: [topic], background: true, with: {duration: 20s, rate: 500, size: 64}}
  w: {kind: wait, needs: [load.started], with: {until: {received: ">= 600"}, deadline: 15s}}
  live: {kind: check, needs: [w], with: {expect: {received: ">= 600", failed: 0}}}
)");
  EXPECT_EQ(run.Step("w").status, StepStatus::kSucceeded) << run.Step("w").error.ToString();
  EXPECT_EQ(run.Step("live").status, StepStatus::kSucceeded) << run.Step("live").error.ToString();
  const nlohmann::json observed = run.ctx.Outputs("w")["observed"]["received >= 600"];
  EXPECT_GE(observed.get<int64_t>(), 600);
  // The background load was still running when both passed: it was cancelled at the flow's end,
  // so it sent far fewer than its 20 s would have.
  ASSERT_EQ(run.ctx.Workloads().count("load"), 1u);
  EXPECT_LT(run.ctx.Workloads().at("load").result.sent, 5000u);
  const std::vector<CheckRecord> checks = run.ctx.Checks();
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_TRUE(checks[0].passed);
  EXPECT_GE(checks[0].observed.get<int64_t>(), 600);
}

TEST(WaitStepTest, CancellationEndsAWaitAtOnce) {
  TestFlowRun run(R"(name: t
steps:
  probe: {kind: exec, with: {argv: [echo, x]}}
  w: {kind: wait, needs: [probe], timeout: 200ms, with: {until: {"steps.probe.outputs.stdout": "== y"}, deadline: 60s}}
)");
  EXPECT_EQ(run.Step("w").status, StepStatus::kFailed);
  EXPECT_THAT(run.Step("w").error.message(), HasSubstr("timed out"));
  EXPECT_LT(run.Step("w").finished_ns - run.Step("w").started_ns, 10'000'000'000);
}

}  // namespace
}  // namespace drone::flow
