// Scheduler tests on a FakeClock: parallelism, ordering, `after:`, timeouts, retries with
// backoff and cancellation, with a probe step kind registered in a registry of the test's own.
// Nothing here waits in real time for the durations involved: the test moves the clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/fake_clock.h"
#include "flow/engine.h"
#include "spec/loader.h"

namespace drone::flow {
namespace {

constexpr auto kRealDeadline = std::chrono::seconds(20);

// What the probe steps did, in order: "start:a", "end:a", "cancel:a", "undo:a#1".
struct ProbeLog {
  std::mutex mu;
  std::condition_variable added;
  std::vector<std::string> lines;
  std::map<std::string, int> fail_first;  // step id -> attempts that fail before one succeeds
  std::map<std::string, int> attempts;
  std::map<std::string, std::vector<int64_t>> attempt_times;  // clock time of each attempt

  void Add(std::string line) {
    {
      std::lock_guard<std::mutex> lock(mu);
      lines.push_back(std::move(line));
    }
    added.notify_all();
  }
  // Blocks until `line` has been logged `times` times (or a real-time deadline passes).
  bool WaitFor(const std::string& line, int times = 1) {
    std::unique_lock<std::mutex> lock(mu);
    return added.wait_for(lock, kRealDeadline, [&] {
      return std::count(lines.begin(), lines.end(), line) >= times;
    });
  }
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu);
    return lines;
  }
  // Index of `line`, or -1.
  int IndexOf(const std::string& line) {
    std::vector<std::string> all = Lines();
    auto it = std::find(all.begin(), all.end(), line);
    return it == all.end() ? -1 : static_cast<int>(it - all.begin());
  }
};

// kind: sleep, replaced: waits `duration` on the run's clock, fails its first attempts when told
// to, and registers an undo action per attempt. A step whose id starts with drain_, stopped
// gracefully, keeps winding down (as a workload drains) until its token says stop now.
class ProbeStep : public StepExecutor {
 public:
  explicit ProbeStep(ProbeLog& log) : log_(log) {}
  std::string Kind() const override { return "sleep"; }

  Status Run(StepContext& ctx) override {
    const std::string id = ctx.step.id;
    int attempt = 0;
    bool fail = false;
    {
      std::lock_guard<std::mutex> lock(log_.mu);
      attempt = ++log_.attempts[id];
      log_.attempt_times[id].push_back(ctx.run.clock().NowNs());
      fail = attempt <= log_.fail_first[id];
    }
    log_.Add("start:" + id);
    if (ctx.bindings.contains("each")) {  // an iteration of an each step: what it is bound to
      Result<std::string> bound = ctx.Interpolate("${{ each.index }}=${{ each.item }}");
      log_.Add("item:" + id + ":" + (bound.ok() ? *bound : bound.status().message()));
    }
    const std::string undo = "undo:" + id + "#" + std::to_string(attempt);
    ProbeLog* log = &log_;
    ctx.run.PushUndo(undo, [log, undo] {
      log->Add(undo);
      return Status::Ok();
    });
    if (fail) {
      log_.Add("fail:" + id);
      return Unavailable("probe " + id + " told to fail attempt " + std::to_string(attempt));
    }
    const auto& with = std::get<spec::SleepWith>(ctx.step.with);
    if (ctx.run.clock().WaitFor(ctx.cancel, with.duration_ns)) {
      if (ctx.cancel.graceful() && id.rfind("drain_", 0) == 0) {
        // Like a workload after a graceful stop: winds down until told to stop now.
        log_.Add("draining:" + id);
        while (!ctx.cancel.aborted()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (ctx.cancel.hurried()) log_.Add("hurried:" + id);
      }
      log_.Add("cancel:" + id);
      return Cancelled("probe " + id + " cancelled: " + ctx.cancel.reason());
    }
    log_.Add("end:" + id);
    ctx.run.SetOutputs(id, {{"attempt", attempt}});
    return Status::Ok();
  }

 private:
  ProbeLog& log_;
};

// A flow run on a FakeClock, on a thread of its own, so that the test can move the clock.
class ScheduledRun {
 public:
  // `fail_first`: step id -> how many of its attempts fail before one succeeds.
  explicit ScheduledRun(const std::string& yaml, std::map<std::string, int> fail_first = {})
      : registry_("step kind") {
    log.fail_first = std::move(fail_first);
    spec::LoadResult r = spec::LoadFlowText(yaml, "test.yaml", {});
    for (const auto& d : r.errors) ADD_FAILURE() << d.ToString();
    flow_ = *r.flow;
    registry_.Register("sleep", "probe", [this] { return std::make_unique<ProbeStep>(log); });
    registry_.Register("each", "the real one",
                       [] { return StepKindRegistry().Create("each").value(); });
    ctx_ = std::make_unique<RunContext>(flow_, "run-1", 1, nullptr, nullptr, &clock);
    start_ns = clock.NowNs();
    future_ = std::async(std::launch::async,
                         [this] { return FlowEngine(*ctx_, &registry_).Run(cancel); });
  }
  ~ScheduledRun() {
    if (future_.valid()) {
      cancel.Cancel("test over");
      future_.wait();
    }
  }

  bool Done() { return future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }

  // Once `waiters` waits are pending on the clock, moves it to the earliest of their deadlines.
  // Returns how far it moved (0 when they never showed up).
  int64_t Tick(int waiters) {
    if (!clock.WaitForWaiters(waiters)) {
      ADD_FAILURE() << "expected " << waiters << " pending waits, got " << clock.waiters();
      return 0;
    }
    return clock.AdvanceToNextDeadline();
  }

  RunOutcome Wait() {
    EXPECT_EQ(future_.wait_for(kRealDeadline), std::future_status::ready);
    return future_.get();
  }

  std::vector<std::string> EventTypes() const {
    std::vector<std::string> out;
    for (const Event& e : ctx_->Events()) out.push_back(e.type + (e.step.empty() ? "" : ":" + e.step));
    return out;
  }
  std::vector<Event> Events() const { return ctx_->Events(); }

  FakeClock clock;
  ProbeLog log;
  CancelToken cancel;
  int64_t start_ns = 0;

 private:
  spec::FlowSpec flow_;
  Registry<StepExecutor> registry_;
  std::unique_ptr<RunContext> ctx_;
  std::future<RunOutcome> future_;
};

const StepRecord& Step(const RunOutcome& outcome, const std::string& id) {
  for (const StepRecord& r : outcome.steps) {
    if (r.id == id) return r;
  }
  static StepRecord none;
  ADD_FAILURE() << "no step " << id;
  return none;
}

TEST(SchedulerTest, IndependentStepsRunConcurrently) {
  ScheduledRun run(R"(name: t
steps:
  a: { kind: sleep, with: { duration: 10s } }
  b: { kind: sleep, with: { duration: 10s } }
)");
  // Both wait on the clock at the same time before it has moved at all.
  ASSERT_TRUE(run.clock.WaitForWaiters(2));
  EXPECT_EQ(run.log.IndexOf("end:a"), -1);
  run.clock.Advance(10 * kNsPerSec);
  RunOutcome outcome = run.Wait();
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(Step(outcome, "a").status, StepStatus::kSucceeded);
  EXPECT_EQ(Step(outcome, "b").status, StepStatus::kSucceeded);
  // 10 s of clock for both, not 20.
  EXPECT_EQ(outcome.finished_ns - outcome.started_ns, 10 * kNsPerSec);
}

TEST(SchedulerTest, NeedsAndNeedStatesOrderTheSteps) {
  ScheduledRun run(R"(name: t
steps:
  a: { kind: sleep, with: { duration: 1s } }
  b: { kind: sleep, needs: [a], with: { duration: 1s } }
  c: { kind: sleep, needs: [a.started], with: { duration: 5s } }
  d: { kind: sleep, needs: [b.failed], with: { duration: 1s } }
  e: { kind: sleep, needs: [b.done, c], with: { duration: 1s } }
)");
  EXPECT_EQ(run.Tick(2), 1 * kNsPerSec);  // a and c wait; a ends
  EXPECT_EQ(run.Tick(2), 1 * kNsPerSec);  // b and c wait; b ends, so d is skipped
  ASSERT_TRUE(run.log.WaitFor("end:b"));
  EXPECT_EQ(run.Tick(1), 3 * kNsPerSec);  // c ends
  EXPECT_EQ(run.Tick(1), 1 * kNsPerSec);  // e ends
  RunOutcome outcome = run.Wait();
  EXPECT_EQ(outcome.exit_code, 0);
  const int end_a = run.log.IndexOf("end:a");
  ASSERT_GE(end_a, 0);
  EXPECT_LT(run.log.IndexOf("start:c"), end_a) << "c needs only a.started";
  EXPECT_GT(run.log.IndexOf("start:b"), end_a);
  EXPECT_EQ(Step(outcome, "d").status, StepStatus::kSkipped) << "b did not fail";
  EXPECT_EQ(run.log.IndexOf("start:d"), -1);
  EXPECT_GT(run.log.IndexOf("start:e"), run.log.IndexOf("end:b"));
  EXPECT_GT(run.log.IndexOf("start:e"), run.log.IndexOf("end:c"));
  // a 0..1 s, c 0..5 s, b 1..2 s, then e 5..6 s.
  EXPECT_EQ(Step(outcome, "e").started_ns - run.start_ns, 5 * kNsPerSec);
  EXPECT_EQ(outcome.finished_ns - outcome.started_ns, 6 * kNsPerSec);
}

TEST(SchedulerTest, AfterDelaysTheStartOnTheClock) {
  ScheduledRun run(R"(name: t
steps:
  a: { kind: sleep, after: 10s, with: { duration: 1s } }
)");
  ASSERT_TRUE(run.clock.WaitForWaiters(1));  // the `after` wait
  EXPECT_EQ(run.log.IndexOf("start:a"), -1);
  run.clock.Advance(9 * kNsPerSec);
  ASSERT_TRUE(run.clock.WaitForWaiters(1));
  EXPECT_EQ(run.log.IndexOf("start:a"), -1);
  EXPECT_EQ(run.Tick(1), 1 * kNsPerSec);  // the `after` delay is over
  EXPECT_EQ(run.Tick(1), 1 * kNsPerSec);  // a ends
  RunOutcome outcome = run.Wait();
  EXPECT_EQ(Step(outcome, "a").started_ns - run.start_ns, 10 * kNsPerSec);
  EXPECT_EQ(Step(outcome, "a").status, StepStatus::kSucceeded);
}

TEST(SchedulerTest, TimeoutCancelsTheStepAndFailsIt) {
  ScheduledRun run(R"(name: t
steps:
  a: { kind: sleep, timeout: 5s, with: { duration: 1h } }
  b: { kind: sleep, needs: [a], with: { duration: 1s } }
)");
  EXPECT_EQ(run.Tick(2), 5 * kNsPerSec);  // the step and its timeout wait; the timeout fires
  RunOutcome outcome = run.Wait();
  const StepRecord& a = Step(outcome, "a");
  EXPECT_EQ(a.status, StepStatus::kFailed);
  EXPECT_EQ(a.error.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(a.attempts, 1);
  EXPECT_EQ(a.finished_ns - a.started_ns, 5 * kNsPerSec);
  EXPECT_GE(run.log.IndexOf("cancel:a"), 0) << "the step saw its token fire";
  EXPECT_NE(Step(outcome, "b").status, StepStatus::kSucceeded);
  EXPECT_EQ(outcome.exit_code, 3);
}

TEST(SchedulerTest, RetriesWithExponentialBackoffAndUndoesEachFailedAttempt) {
  ScheduledRun run(R"(name: t
steps:
  a: { kind: sleep, retry: { limit: 3, backoff: 1s, max_backoff: 30s }, with: { duration: 1s } }
)", {{"a", 2}});
  EXPECT_EQ(run.Tick(1), 1 * kNsPerSec);  // first backoff
  EXPECT_EQ(run.Tick(1), 2 * kNsPerSec);  // second backoff, doubled
  EXPECT_EQ(run.Tick(1), 1 * kNsPerSec);  // the third attempt's sleep
  RunOutcome outcome = run.Wait();
  const StepRecord& a = Step(outcome, "a");
  EXPECT_EQ(a.status, StepStatus::kSucceeded);
  EXPECT_EQ(a.attempts, 3);
  std::vector<int64_t> times;
  {
    std::lock_guard<std::mutex> lock(run.log.mu);
    times = run.log.attempt_times["a"];
  }
  ASSERT_EQ(times.size(), 3u);
  EXPECT_EQ(times[1] - times[0], 1 * kNsPerSec);  // backoff 1 s
  EXPECT_EQ(times[2] - times[1], 2 * kNsPerSec);  // then 2 s
  // Each failed attempt's undo ran before the next attempt started.
  std::vector<std::string> lines = run.log.Lines();
  std::vector<std::string> expected = {"start:a", "fail:a", "undo:a#1", "start:a",
                                       "fail:a",  "undo:a#2", "start:a", "end:a", "undo:a#3"};
  EXPECT_EQ(lines, expected);
  std::vector<std::string> types = run.EventTypes();
  EXPECT_EQ(std::count(types.begin(), types.end(), "STEP_RETRY:a"), 2);
  EXPECT_EQ(outcome.exit_code, 0);
}

TEST(SchedulerTest, RetriesRunOutAndTheStepFails) {
  ScheduledRun run(R"(name: t
steps:
  a: { kind: sleep, retry: 1, with: { duration: 1s } }
)", {{"a", 100}});
  EXPECT_EQ(run.Tick(1), 1 * kNsPerSec);  // the one backoff
  RunOutcome outcome = run.Wait();
  const StepRecord& a = Step(outcome, "a");
  EXPECT_EQ(a.status, StepStatus::kFailed);
  EXPECT_EQ(a.attempts, 2);
  EXPECT_EQ(a.error.code(), StatusCode::kUnavailable);
  EXPECT_EQ(outcome.exit_code, 3);
}

TEST(SchedulerTest, ATimedOutAttemptIsRetried) {
  ScheduledRun run(R"(name: t
steps:
  a: { kind: sleep, timeout: 3s, retry: { limit: 1, backoff: 1s }, with: { duration: 1h } }
)");
  EXPECT_EQ(run.Tick(2), 3 * kNsPerSec);  // first attempt times out
  ASSERT_TRUE(run.log.WaitFor("cancel:a"));
  EXPECT_EQ(run.Tick(1), 1 * kNsPerSec);  // backoff
  EXPECT_EQ(run.Tick(2), 3 * kNsPerSec);  // second attempt times out
  RunOutcome outcome = run.Wait();
  const StepRecord& a = Step(outcome, "a");
  EXPECT_EQ(a.attempts, 2);
  EXPECT_EQ(a.status, StepStatus::kFailed);
  EXPECT_EQ(a.error.code(), StatusCode::kDeadlineExceeded);
}

TEST(SchedulerTest, CancellationReachesRunningStepsAndPendingOnes) {
  ScheduledRun run(R"(name: t
steps:
  a: { kind: sleep, with: { duration: 1h } }
  b: { kind: sleep, with: { duration: 1h } }
  c: { kind: sleep, needs: [a], with: { duration: 1s } }
)");
  ASSERT_TRUE(run.clock.WaitForWaiters(2));
  run.cancel.Cancel("interrupted by SIGINT");
  RunOutcome outcome = run.Wait();
  EXPECT_TRUE(outcome.interrupted);
  EXPECT_EQ(outcome.exit_code, 3);
  for (const char* id : {"a", "b", "c"}) {
    EXPECT_EQ(Step(outcome, id).status, StepStatus::kCancelled) << id;
  }
  EXPECT_GE(run.log.IndexOf("cancel:a"), 0);
  EXPECT_GE(run.log.IndexOf("cancel:b"), 0);
  EXPECT_EQ(run.log.IndexOf("start:c"), -1);
  EXPECT_EQ(outcome.finished_ns, outcome.started_ns) << "the clock never moved";
}

TEST(SchedulerTest, CancellationCutsARetryBackoffShort) {
  ScheduledRun run(R"(name: t
steps:
  a: { kind: sleep, retry: { limit: 5, backoff: 1h }, with: { duration: 1s } }
)", {{"a", 100}});
  ASSERT_TRUE(run.clock.WaitForWaiters(1));  // the backoff
  run.cancel.Cancel("interrupted by SIGTERM");
  RunOutcome outcome = run.Wait();
  const StepRecord& a = Step(outcome, "a");
  EXPECT_EQ(a.status, StepStatus::kCancelled);
  EXPECT_EQ(a.attempts, 1);
  EXPECT_NE(a.error.message().find("waiting to retry"), std::string::npos) << a.error.message();
}

TEST(SchedulerTest, FailedStepCancelsItsRunningSiblings) {
  ScheduledRun run(R"(name: t
steps:
  slow: { kind: sleep, with: { duration: 1h } }
  bad: { kind: sleep, needs: [slow.started], with: { duration: 1s } }
)", {{"bad", 1}});
  RunOutcome outcome = run.Wait();
  EXPECT_EQ(Step(outcome, "bad").status, StepStatus::kFailed);
  EXPECT_EQ(Step(outcome, "slow").status, StepStatus::kCancelled);
  EXPECT_GE(run.log.IndexOf("cancel:slow"), 0);
  EXPECT_EQ(outcome.exit_code, 3);
}

TEST(SchedulerTest, BackgroundStepIsStoppedGracefullyWhenTheRestEnds) {
  ScheduledRun run(R"(name: t
steps:
  bg: { kind: sleep, background: true, with: { duration: 1h } }
  a: { kind: sleep, needs: [bg.started], with: { duration: 2s } }
)");
  EXPECT_EQ(run.Tick(2), 2 * kNsPerSec);
  RunOutcome outcome = run.Wait();
  EXPECT_EQ(Step(outcome, "a").status, StepStatus::kSucceeded);
  EXPECT_EQ(Step(outcome, "bg").status, StepStatus::kCancelled);
  EXPECT_GT(run.log.IndexOf("cancel:bg"), run.log.IndexOf("end:a"));
  EXPECT_EQ(outcome.finished_ns - outcome.started_ns, 2 * kNsPerSec);
}

TEST(SchedulerTest, WhenSkipsAStepAndItsDependantsFollowTheSkipRules) {
  ScheduledRun run(R"(name: t
params: { mode: fast }
steps:
  a: { kind: sleep, with: { duration: 1s } }
  yes: { kind: sleep, needs: [a], when: "${{ steps.a.outputs.attempt }} == 1", with: { duration: 1s } }
  no: { kind: sleep, needs: [a], when: "${{ steps.a.outputs.attempt }} >= 2", with: { duration: 1s } }
  param_no: { kind: sleep, when: "${{ params.mode }} == slow", with: { duration: 1s } }
  after_no: { kind: sleep, needs: [no], with: { duration: 1s } }
  after_no_done: { kind: sleep, needs: [no.done], with: { duration: 1s } }
)");
  EXPECT_EQ(run.Tick(1), 1 * kNsPerSec);  // a (param_no is skipped at once)
  EXPECT_EQ(run.Tick(2), 1 * kNsPerSec);  // yes and after_no_done
  RunOutcome outcome = run.Wait();
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(Step(outcome, "yes").status, StepStatus::kSucceeded);
  EXPECT_EQ(Step(outcome, "no").status, StepStatus::kSkipped);
  EXPECT_EQ(Step(outcome, "no").attempts, 0);
  EXPECT_NE(Step(outcome, "no").error.message().find("'1' >= '2' is false"), std::string::npos)
      << Step(outcome, "no").error.message();
  EXPECT_EQ(Step(outcome, "param_no").status, StepStatus::kSkipped);
  EXPECT_EQ(Step(outcome, "after_no").status, StepStatus::kSkipped);
  EXPECT_EQ(Step(outcome, "after_no_done").status, StepStatus::kSucceeded);
  EXPECT_EQ(run.log.IndexOf("start:no"), -1);
  bool skipped_event = false;
  for (const Event& e : run.Events()) {
    if (e.type == "STEP_SKIPPED" && e.step == "no") {
      skipped_event = e.message.find("when:") != std::string::npos;
    }
  }
  EXPECT_TRUE(skipped_event) << "STEP_SKIPPED carries the reason";
}

TEST(SchedulerTest, HurryCutsAGracefulWindDownShort) {
  ScheduledRun run(R"(name: t
steps:
  drain_bg: { kind: sleep, background: true, with: { duration: 1h } }
  a: { kind: sleep, needs: [drain_bg.started], with: { duration: 1s } }
)");
  EXPECT_EQ(run.Tick(2), 1 * kNsPerSec);  // a ends, so drain_bg is stopped gracefully
  ASSERT_TRUE(run.log.WaitFor("draining:drain_bg"));
  run.cancel.Cancel("interrupted by SIGINT");  // a first Ctrl-C does not cut a drain short...
  run.cancel.Hurry("interrupted by SIGINT");   // ...the second does
  RunOutcome outcome = run.Wait();
  EXPECT_GE(run.log.IndexOf("hurried:drain_bg"), 0);
  EXPECT_EQ(Step(outcome, "drain_bg").status, StepStatus::kCancelled);
  EXPECT_TRUE(outcome.interrupted);
}

TEST(RetryBackoffTest, DoublesUpToTheCap) {
  spec::RetryPolicy p;
  p.limit = 10;
  p.backoff_ns = kNsPerSec;
  p.max_backoff_ns = 5 * kNsPerSec;
  EXPECT_EQ(RetryBackoffNs(p, "a", 1), 1 * kNsPerSec);
  EXPECT_EQ(RetryBackoffNs(p, "a", 2), 2 * kNsPerSec);
  EXPECT_EQ(RetryBackoffNs(p, "a", 3), 4 * kNsPerSec);
  EXPECT_EQ(RetryBackoffNs(p, "a", 4), 5 * kNsPerSec);
  EXPECT_EQ(RetryBackoffNs(p, "a", 60), 5 * kNsPerSec);
}

TEST(RetryBackoffTest, JitterIsBoundedAndReproducible) {
  spec::RetryPolicy p;
  p.backoff_ns = 10 * kNsPerSec;
  p.max_backoff_ns = 10 * kNsPerSec;
  p.jitter = 0.2;
  bool differs = false;
  for (int retry = 1; retry <= 20; ++retry) {
    const int64_t w = RetryBackoffNs(p, "a", retry);
    EXPECT_GE(w, 8 * kNsPerSec);
    EXPECT_LE(w, 12 * kNsPerSec);
    EXPECT_EQ(w, RetryBackoffNs(p, "a", retry)) << "seeded: the same wait every time";
    if (w != RetryBackoffNs(p, "b", retry)) differs = true;
  }
  EXPECT_TRUE(differs) << "steps draw different jitter";
}

// ---- each: fan-out over a list (flow/steps/each_step.cc), with the probe as the template ----

TEST(EachTest, RunsParallelismIterationsAtATimeAndGathersTheirOutputs) {
  ScheduledRun run(R"(name: t
steps:
  fan:
    kind: each
    with: { items: [a, b, c, d], parallelism: 2, step: { kind: sleep, with: { duration: 10s } } }
)");
  ASSERT_TRUE(run.clock.WaitForWaiters(2));
  EXPECT_NE(run.log.IndexOf("start:fan[0]"), -1);
  EXPECT_NE(run.log.IndexOf("start:fan[1]"), -1);
  EXPECT_EQ(run.log.IndexOf("start:fan[2]"), -1) << "only two at a time";
  EXPECT_EQ(run.Tick(2), 10 * kNsPerSec);
  EXPECT_EQ(run.Tick(2), 10 * kNsPerSec);
  RunOutcome outcome = run.Wait();
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(Step(outcome, "fan").status, StepStatus::kSucceeded);
  // Four 10 s iterations, two at a time: 20 s of clock.
  EXPECT_EQ(outcome.finished_ns - outcome.started_ns, 20 * kNsPerSec);
  for (const char* line : {"item:fan[0]:0=a", "item:fan[1]:1=b", "item:fan[2]:2=c", "item:fan[3]:3=d"}) {
    EXPECT_NE(run.log.IndexOf(line), -1) << line;
  }
  std::vector<Event> events = run.Events();
  nlohmann::json outputs;
  for (const Event& e : events) {
    if (e.type == "STEP_OUTPUT" && e.step == "fan") outputs = nlohmann::json::parse(e.message);
  }
  EXPECT_EQ(outputs["succeeded"], 4);
  EXPECT_EQ(outputs["failed"], 0);
  ASSERT_EQ(outputs["results"].size(), 4u);
  for (const auto& r : outputs["results"]) EXPECT_EQ(r["attempt"], 1);
  // Each iteration's undo action belongs to the each step and runs at teardown.
  for (int i = 0; i < 4; ++i) {
    EXPECT_NE(run.log.IndexOf("undo:fan[" + std::to_string(i) + "]#1"), -1) << i;
  }
}

TEST(EachTest, WithoutParallelismEveryIterationRunsAtOnce) {
  ScheduledRun run(R"(name: t
steps:
  fan: { kind: each, with: { items: [a, b, c], step: { kind: sleep, with: { duration: 10s } } } }
)");
  ASSERT_TRUE(run.clock.WaitForWaiters(3));
  EXPECT_EQ(run.Tick(3), 10 * kNsPerSec);
  RunOutcome outcome = run.Wait();
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(outcome.finished_ns - outcome.started_ns, 10 * kNsPerSec);
}

TEST(EachTest, FailFastStartsNoMoreIterationsAfterAFailure) {
  ScheduledRun run(R"(name: t
steps:
  fan:
    kind: each
    with:
      items: [a, b, c]
      parallelism: 1
      fail_fast: true
      step: { kind: sleep, with: { duration: 10s } }
)",
                   {{"fan[0]", 1}});
  RunOutcome outcome = run.Wait();
  EXPECT_EQ(Step(outcome, "fan").status, StepStatus::kFailed);
  EXPECT_NE(Step(outcome, "fan").error.message().find("1 of 3 iterations failed"), std::string::npos)
      << Step(outcome, "fan").error.message();
  EXPECT_EQ(run.log.IndexOf("start:fan[1]"), -1);
  EXPECT_EQ(run.log.IndexOf("start:fan[2]"), -1);
  EXPECT_EQ(outcome.exit_code, 3);
}

TEST(EachTest, WithoutFailFastEveryIterationRunsAndTheStepFails) {
  ScheduledRun run(R"(name: t
steps:
  fan:
    kind: each
    with: { items: [a, b, c], parallelism: 1, step: { kind: sleep, with: { duration: 10s } } }
)",
                   {{"fan[1]", 1}});
  EXPECT_EQ(run.Tick(1), 10 * kNsPerSec);  // fan[0]
  ASSERT_TRUE(run.log.WaitFor("fail:fan[1]"));
  EXPECT_EQ(run.Tick(1), 10 * kNsPerSec);  // fan[2]
  RunOutcome outcome = run.Wait();
  EXPECT_EQ(Step(outcome, "fan").status, StepStatus::kFailed);
  EXPECT_NE(run.log.IndexOf("end:fan[0]"), -1);
  EXPECT_NE(run.log.IndexOf("end:fan[2]"), -1);
  nlohmann::json outputs;
  for (const Event& e : run.Events()) {
    if (e.type == "STEP_OUTPUT" && e.step == "fan") outputs = nlohmann::json::parse(e.message);
  }
  EXPECT_EQ(outputs["succeeded"], 2);
  EXPECT_EQ(outputs["failed"], 1);
  EXPECT_EQ(outputs["statuses"], nlohmann::json({"succeeded", "failed", "succeeded"}));
}

TEST(EachTest, CancellingTheRunCancelsEveryRunningIteration) {
  ScheduledRun run(R"(name: t
steps:
  fan: { kind: each, with: { items: [a, b], step: { kind: sleep, with: { duration: 10s } } } }
)");
  ASSERT_TRUE(run.clock.WaitForWaiters(2));
  run.cancel.Cancel("interrupted by SIGINT");
  RunOutcome outcome = run.Wait();
  EXPECT_TRUE(outcome.interrupted);
  EXPECT_EQ(Step(outcome, "fan").status, StepStatus::kCancelled);
  EXPECT_NE(run.log.IndexOf("cancel:fan[0]"), -1);
  EXPECT_NE(run.log.IndexOf("cancel:fan[1]"), -1);
  EXPECT_EQ(run.log.IndexOf("end:fan[0]"), -1);
}

}  // namespace
}  // namespace drone::flow
