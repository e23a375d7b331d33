#include "flow/engine.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

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
  EXPECT_NE(std::find(types.begin(), types.end(), "UNDO:cluster"), types.end());
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

TEST(FlowEngineTest, BeforeTeardownSeesTheStepsWhileTheirClusterIsStillUp) {
  spec::FlowSpec flow = Load(std::string(kHead));
  RunContext ctx(flow, "r", 1, nullptr, nullptr);
  CancelToken cancel;
  FlowEngine engine(ctx);
  std::vector<std::string> seen;
  size_t events_at_hook = 0;
  bool undone_at_hook = true;
  engine.SetBeforeTeardown([&](const std::vector<StepRecord>& steps) {
    for (const StepRecord& r : steps) seen.push_back(r.id + ":" + StepStatusName(r.status));
    const std::vector<Event> events = ctx.Events();
    events_at_hook = events.size();
    undone_at_hook = std::any_of(events.begin(), events.end(),
                                 [](const Event& e) { return e.type == "UNDO"; });
  });
  RunOutcome outcome = engine.Run(cancel);
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(seen, (std::vector<std::string>{"cluster:succeeded", "topic:succeeded"}));
  EXPECT_FALSE(undone_at_hook) << "the hook runs before any undo action";
  const std::vector<Event> events = ctx.Events();
  EXPECT_GT(events.size(), events_at_hook);
  EXPECT_TRUE(std::any_of(events.begin() + static_cast<std::ptrdiff_t>(events_at_hook),
                          events.end(), [](const Event& e) { return e.type == "UNDO"; }));
}

// ---- sleep and exec (no cluster needed) ----

// Processes (not zombies) whose parent is this test process, or, with `pgid`, in that group.
std::vector<int> ChildrenOfThisProcess(int pgid = 0) {
  std::vector<int> out;
  const std::string self = std::to_string(getpid());
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...; comm may contain blanks, so read after the last ')'.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state, ppid, pgrp;
    rest >> state >> ppid >> pgrp;
    if (state == "Z") continue;  // dead; an orphan waits for init to reap it
    if (pgid == 0 ? ppid == self : pgrp == std::to_string(pgid)) out.push_back(std::stoi(name));
  }
  return out;
}

TEST(FlowExecTest, EchoCapturesStdout) {
  FlowRun run(R"(name: t
steps:
  a: { kind: exec, with: { argv: [/bin/echo, hello] } }
)");
  EXPECT_EQ(run.outcome.exit_code, 0);
  EXPECT_EQ(run.Step("a").status, StepStatus::kSucceeded);
  nlohmann::json out = run.ctx.Outputs("a");
  EXPECT_EQ(out["stdout"], "hello");
  EXPECT_EQ(out["exit_code"], 0);
  EXPECT_EQ(out["stderr_tail"], "");
  EXPECT_EQ(out["truncated"], false);
  EXPECT_TRUE(out.contains("duration_ms"));
}

TEST(FlowExecTest, ExpectedExitCodeSucceedsOtherwiseTheStepFails) {
  FlowRun expected(R"(name: t
steps:
  a: { kind: exec, with: { argv: [/bin/sh, -c, "exit 3"], expect_exit: 3 } }
)");
  EXPECT_EQ(expected.Step("a").status, StepStatus::kSucceeded);
  EXPECT_EQ(expected.ctx.Outputs("a")["exit_code"], 3);
  EXPECT_EQ(expected.outcome.exit_code, 0);

  FlowRun unexpected(R"(name: t
steps:
  a: { kind: exec, with: { argv: [/bin/sh, -c, "echo oops >&2; exit 3"] } }
)");
  EXPECT_EQ(unexpected.Step("a").status, StepStatus::kFailed);
  EXPECT_EQ(unexpected.Step("a").error.code(), StatusCode::kFailedPrecondition);
  const std::string message = unexpected.Step("a").error.message();
  EXPECT_NE(message.find("exited with 3, expected 0"), std::string::npos) << message;
  EXPECT_NE(message.find("oops"), std::string::npos) << message;
  EXPECT_EQ(unexpected.ctx.Outputs("a")["stderr_tail"], "oops\n");
  EXPECT_EQ(unexpected.outcome.exit_code, 3);
}

TEST(FlowExecTest, MissingProgramIsAClearError) {
  FlowRun run(R"(name: t
steps:
  a: { kind: exec, with: { argv: [drone-no-such-program, x] } }
)");
  EXPECT_EQ(run.Step("a").status, StepStatus::kFailed);
  const std::string message = run.Step("a").error.message();
  EXPECT_NE(message.find("program 'drone-no-such-program' not found in PATH"), std::string::npos)
      << message;
  FlowRun absolute(R"(name: t
steps:
  a: { kind: exec, with: { argv: [/nonexistent/prog] } }
)");
  EXPECT_EQ(absolute.Step("a").status, StepStatus::kFailed);
  EXPECT_NE(absolute.Step("a").error.message().find("'/nonexistent/prog'"), std::string::npos);
}

TEST(FlowExecTest, TimeoutKillsAndReapsTheChild) {
  const auto start = std::chrono::steady_clock::now();
  FlowRun run(R"(name: t
steps:
  a: { kind: exec, timeout: 300ms, with: { argv: [sleep, "30"] } }
)");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  EXPECT_EQ(run.Step("a").status, StepStatus::kFailed);
  EXPECT_EQ(run.Step("a").error.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(run.outcome.exit_code, 3);
  nlohmann::json out = run.ctx.Outputs("a");
  ASSERT_TRUE(out.contains("pid"));
  const int pid = out["pid"];
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_TRUE(ChildrenOfThisProcess().empty());
}

TEST(FlowExecTest, ChildIgnoringSigtermIsKilledAfterTheGrace) {
  const auto start = std::chrono::steady_clock::now();
  FlowRun run(R"(name: t
steps:
  a:
    kind: exec
    timeout: 200ms
    with: { argv: [/bin/sh, -c, "trap '' TERM; sleep 30 & wait"] }
)");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::seconds(2));
  EXPECT_LT(elapsed, std::chrono::seconds(6));
  EXPECT_EQ(run.Step("a").error.code(), StatusCode::kDeadlineExceeded);
  const int pid = run.ctx.Outputs("a")["pid"];
  EXPECT_EQ(kill(pid, 0), -1);
  // The whole process group is gone, including the background sleep.
  // SIGKILL is delivered asynchronously; the background sleep dies at once.
  for (int i = 0; i < 100 && !ChildrenOfThisProcess(pid).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ChildrenOfThisProcess(pid).empty()) << "process group " << pid << " still alive";
  EXPECT_TRUE(ChildrenOfThisProcess().empty());
}

TEST(FlowExecTest, ArgvUsesAnEarlierStepsOutput) {
  FlowRun run(R"(name: t
steps:
  a: { kind: exec, with: { argv: [/bin/echo, hello] } }
  b: { kind: exec, needs: [a], with: { argv: [/bin/echo, "got ${{ steps.a.outputs.stdout }}"] } }
)");
  EXPECT_EQ(run.outcome.exit_code, 0);
  EXPECT_EQ(run.ctx.Outputs("b")["stdout"], "got hello");
}

TEST(FlowExecTest, EnvCwdAndTruncation) {
  FlowRun run(R"yaml(name: t
steps:
  a:
    kind: exec
    with:
      argv: [/bin/sh, -c, 'echo "$DRONE_TEST_VAR $(pwd)"']
      env: { DRONE_TEST_VAR: bar }
      cwd: /
  b: { kind: exec, with: { argv: [/bin/echo, hello], max_output: 4 } }
)yaml");
  EXPECT_EQ(run.outcome.exit_code, 0);
  EXPECT_EQ(run.ctx.Outputs("a")["stdout"], "bar /");
  EXPECT_EQ(run.ctx.Outputs("b")["stdout"], "hell");
  EXPECT_EQ(run.ctx.Outputs("b")["truncated"], true);
}

TEST(FlowSleepTest, SleepsAndReportsTheTime) {
  FlowRun run(R"(name: t
steps:
  s: { kind: sleep, with: { duration: 50ms } }
)");
  EXPECT_EQ(run.Step("s").status, StepStatus::kSucceeded);
  EXPECT_GE(run.ctx.Outputs("s")["slept_ms"].get<int64_t>(), 50);
}

TEST(FlowSleepTest, CancellingTheRunCutsASleepShort) {
  spec::FlowSpec flow = Load(R"(name: t
steps:
  s: { kind: sleep, with: { duration: 1h } }
)");
  RunContext ctx(flow, "r", 1, nullptr, nullptr);
  CancelToken cancel;
  std::thread interrupter([&cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel.Cancel("interrupted by SIGINT");
  });
  const auto start = std::chrono::steady_clock::now();
  RunOutcome outcome = FlowEngine(ctx).Run(cancel);
  interrupter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(outcome.interrupted);
  EXPECT_EQ(outcome.exit_code, 3);
  ASSERT_EQ(outcome.steps.size(), 1u);
  EXPECT_EQ(outcome.steps[0].status, StepStatus::kCancelled);
  EXPECT_LT(ctx.Outputs("s")["slept_ms"].get<int64_t>(), 5000);
}

TEST(FlowEngineTest, StepsThatSetOutputsEmitStepOutput) {
  FlowRun run(R"(name: outputs
steps:
  nap: { kind: sleep, with: { duration: 1ms } }
  echo: { kind: exec, needs: [nap], with: { argv: [/bin/echo, hi] } }
)");
  ASSERT_EQ(run.outcome.exit_code, 0);
  const std::vector<std::string> types = run.EventTypes();
  for (const char* id : {"nap", "echo"}) {
    const std::string step(id);
    auto start = std::find(types.begin(), types.end(), "STEP_START:" + step);
    auto output = std::find(types.begin(), types.end(), "STEP_OUTPUT:" + step);
    auto success = std::find(types.begin(), types.end(), "STEP_SUCCESS:" + step);
    ASSERT_NE(output, types.end()) << step;
    EXPECT_LT(start, output) << step;
    EXPECT_LT(output, success) << step;
  }
  for (const Event& e : run.ctx.Events()) {
    if (e.type == "STEP_OUTPUT" && e.step == "nap") {
      EXPECT_EQ(nlohmann::json::parse(e.message), run.ctx.Outputs("nap"));
    }
  }
}

TEST(FlowEngineTest, ReusedStepsAreNotRunAndKeepTheirOutputs) {
  const spec::FlowSpec flow = Load(R"(name: reuse
steps:
  broken: { kind: exec, with: { argv: [/bin/false] } }
  echo: { kind: exec, needs: [broken], with: { argv: [/bin/echo, "${{ steps.broken.outputs.word }}"] } }
)");
  RunContext ctx(flow, "run-2", 6, nullptr, nullptr);
  ctx.SetReused({{"broken", {{"word", "kept"}}}}, "run-1");
  CancelToken cancel;
  const RunOutcome outcome = FlowEngine(ctx).Run(cancel);
  ASSERT_EQ(outcome.exit_code, 0);
  EXPECT_TRUE(outcome.steps[0].reused);
  EXPECT_EQ(outcome.steps[0].status, StepStatus::kSucceeded);
  EXPECT_FALSE(outcome.steps[1].reused);
  EXPECT_EQ(ctx.Outputs("echo")["stdout"], "kept");
  std::vector<std::string> types;
  for (const Event& e : ctx.Events()) types.push_back(e.type + ":" + e.step);
  EXPECT_NE(std::find(types.begin(), types.end(), "STEP_REUSED:broken"), types.end());
  EXPECT_EQ(std::find(types.begin(), types.end(), "STEP_START:broken"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "STEP_START:echo"), types.end());
}

}  // namespace
}  // namespace drone::flow

namespace drone::flow {
namespace {

TEST(RunContextTest, FaultEventsCarryTheFaultRecord) {
  spec::FlowSpec flow = Load("name: t\nsteps:\n  s: { kind: sleep, with: { duration: 1ms } }\n");
  RunContext ctx(flow, "r", 1, nullptr, nullptr);
  faults::FaultRecord record;
  record.step = "cut";
  record.kind = "impair";
  record.target = "clients -> broker-1";
  record.backend = "tc-netem";
  record.details = {{"from", "clients"}, {"to", "broker-1"}};
  record.start_ns = 1;
  ctx.AddFault(record);
  ctx.Emit("FAULT_INJECTED", "cut", "impair on clients -> broker-1 via tc-netem");
  ctx.Emit("STEP_OUTPUT", "cut", "{}");
  ctx.Emit("FAULT_HEALED", "cut", "impair on clients -> broker-1");
  ctx.Emit("FAULT_INJECTED", "other", "no record of it");
  std::vector<Event> events = ctx.Events();
  ASSERT_EQ(events.size(), 4u);
  nlohmann::json injected = events[0].ToJson();
  EXPECT_EQ(injected["fault"]["kind"], "impair");
  EXPECT_EQ(injected["fault"]["target"], "clients -> broker-1");
  EXPECT_EQ(injected["fault"]["backend"], "tc-netem");
  EXPECT_EQ(injected["fault"]["details"]["to"], "broker-1");
  EXPECT_FALSE(events[1].ToJson().contains("fault"));
  EXPECT_EQ(events[2].ToJson()["fault"]["target"], "clients -> broker-1");
  EXPECT_FALSE(events[3].ToJson().contains("fault"));
}

}  // namespace
}  // namespace drone::flow
