#include "flow/engine.h"

#include <gtest/gtest.h>

#include "core/testutil.h"
#include "spec/loader.h"

namespace drone::flow {
namespace {

spec::FlowSpec Load(const std::string& text) {
  spec::LoadResult r = spec::LoadFlowText(text, "test.yaml", {});
  for (const auto& d : r.errors) ADD_FAILURE() << d.ToString();
  return *r.flow;
}

const char* kHead = R"(name: t
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 3 } }
  topic: { kind: topic, needs: [cluster], with: { name: t, partitions: 2, replication: 3 } }
)";

struct FlowRun {
  explicit FlowRun(const std::string& text) : flow(Load(text)), ctx(flow, "run-1", 5, nullptr, nullptr) {
    outcome = FlowEngine(ctx).Run(cancel);
  }
  const StepRecord& Step(const std::string& id) const {
    for (const StepRecord& r : outcome.steps) {
      if (r.id == id) return r;
    }
    throw std::runtime_error("no step " + id);
  }
  std::vector<std::string> EventTypes() const {
    std::vector<std::string> out;
    for (const Event& e : ctx.Events()) out.push_back(e.type + (e.step.empty() ? "" : ":" + e.step));
    return out;
  }
  spec::FlowSpec flow;
  RunContext ctx;
  CancelToken cancel;
  RunOutcome outcome;
};

TEST(FlowEngineTest, RunsAFlowToAPassingVerdict) {
  FlowRun run(std::string(kHead) + R"(
  load: { kind: workload, needs: [topic], with: { topic: t, messages: 500, rate: 1000, size: 64 } }
  verify: { kind: check, needs: [load], with: { expect: { lost: 0, sent: 500 } } }
)");
  EXPECT_EQ(run.outcome.exit_code, 0);
  EXPECT_EQ(run.outcome.verdict, verify::Verdict::kPass);
  for (const char* id : {"cluster", "topic", "load", "verify"}) {
    EXPECT_EQ(run.Step(id).status, StepStatus::kSucceeded) << id;
  }
  EXPECT_EQ(run.ctx.Outputs("topic")["name"], "t");
  EXPECT_EQ(run.ctx.Outputs("cluster")["nodes"].size(), 3u);
  EXPECT_EQ(run.ctx.Checks().size(), 2u);
  // Undo of the cluster ran, after the steps.
  std::vector<std::string> types = run.EventTypes();
  EXPECT_EQ(types.back(), "RUN_END");
  EXPECT_NE(std::find(types.begin(), types.end(), "UNDO"), types.end());
}

TEST(FlowEngineTest, FailedCheckFailsTheVerdictWithExitOne) {
  FlowRun run(std::string(kHead) + R"(
  load: { kind: workload, needs: [topic], with: { topic: t, messages: 100, rate: 1000, size: 64 } }
  verify: { kind: check, needs: [load], with: { expect: { received: "> 1000" } } }
)");
  EXPECT_EQ(run.outcome.exit_code, 1);
  EXPECT_EQ(run.outcome.verdict, verify::Verdict::kFail);
  EXPECT_EQ(run.Step("verify").status, StepStatus::kFailed);
}

TEST(FlowEngineTest, InfrastructureFailureCancelsTheRestAndStillTearsDown) {
  FlowRun run(std::string(kHead) + R"(
  bad: { kind: fault.kill, needs: [topic], with: { target: broker-9 } }
  load: { kind: workload, needs: [bad], with: { topic: t, messages: 10 } }
)");
  EXPECT_EQ(run.outcome.exit_code, 3);
  EXPECT_EQ(run.Step("bad").status, StepStatus::kFailed);
  EXPECT_NE(run.Step("bad").error.message().find("broker-9"), std::string::npos);
  EXPECT_NE(run.Step("load").status, StepStatus::kSucceeded);
  EXPECT_TRUE(run.outcome.teardown.ok());
  auto found = run.ctx.FindCluster("cluster");
  EXPECT_FALSE(found.ok()) << "the cluster must be stopped by teardown";
}

TEST(FlowEngineTest, OnErrorContinueSkipsOnlyDependants) {
  FlowRun run(std::string(kHead) + R"(
  bad: { kind: fault.kill, needs: [topic], on_error: continue, with: { target: broker-9 } }
  after_bad: { kind: check, needs: [bad], with: { expect: { sent: 0 } } }
  when_failed: { kind: fault.network, needs: [bad.failed], with: { target: broker-1, delay: 5ms, duration: 10ms } }
)");
  EXPECT_EQ(run.Step("bad").status, StepStatus::kFailed);
  EXPECT_EQ(run.Step("after_bad").status, StepStatus::kSkipped);
  EXPECT_EQ(run.Step("when_failed").status, StepStatus::kSucceeded);
  EXPECT_EQ(run.outcome.exit_code, 0);
}

TEST(FlowEngineTest, FaultInTheBackgroundOfALoadIsRecordedAndHealed) {
  FlowRun run(std::string(kHead) + R"(
  load:
    kind: workload
    needs: [topic]
    background: true
    with: { topic: t, rate: 1000, duration: 3s, size: 64, acks: all }
  slow: { kind: fault.network, needs: [load.started], after: 500ms, with: { target: broker-1, delay: 20ms, duration: 1s } }
)");
  EXPECT_EQ(run.outcome.exit_code, 0);
  std::vector<faults::FaultRecord> faults = run.ctx.Faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "delay");
  EXPECT_EQ(faults[0].backend, "embedded-mock-rtt");
  EXPECT_GT(faults[0].end_ns, faults[0].start_ns);
  // The fault started after the load did.
  EXPECT_GE(faults[0].start_ns, run.ctx.Workloads().at("load").result.started_ns);
}

TEST(FlowEngineTest, StepTimeoutFailsTheStep) {
  FlowRun run(std::string(kHead) + R"(
  slow: { kind: fault.network, needs: [topic], timeout: 200ms, with: { target: broker-1, delay: 1ms, duration: 1h } }
)");
  EXPECT_EQ(run.Step("slow").status, StepStatus::kFailed);
  EXPECT_EQ(run.Step("slow").error.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(run.outcome.exit_code, 3);
}

TEST(FlowEngineTest, CancellationBeforeStartCancelsEverything) {
  spec::FlowSpec flow = Load(std::string(kHead));
  RunContext ctx(flow, "r", 1, nullptr, nullptr);
  CancelToken cancel;
  cancel.Cancel("interrupted by SIGINT");
  RunOutcome outcome = FlowEngine(ctx).Run(cancel);
  EXPECT_TRUE(outcome.interrupted);
  EXPECT_EQ(outcome.exit_code, 3);
  for (const StepRecord& r : outcome.steps) EXPECT_EQ(r.status, StepStatus::kCancelled) << r.id;
}

}  // namespace
}  // namespace drone::flow
