#include "flow/engine.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "core/units.h"
#include "flow/step_executor.h"
#include "spec/condition.h"

namespace drone::flow {
namespace {

bool Terminal(StepStatus s) {
  return s == StepStatus::kSucceeded || s == StepStatus::kFailed || s == StepStatus::kSkipped ||
         s == StepStatus::kCancelled;
}

enum class Readiness { kWait, kReady, kNever };

// FNV-1a: a stable seed for retry jitter (std::hash may differ between builds).
uint64_t StableHash(const std::string& text, uint64_t salt) {
  uint64_t h = 1469598103934665603ull ^ salt;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

struct FlowEngine::StepState {
  const spec::Step* step = nullptr;
  StepRecord record;
  bool started = false;
  // The token of the current attempt (or of the backoff before it). Replaced, under the
  // scheduler's mutex, for each attempt; earlier ones are kept so that no reference dangles.
  std::vector<std::unique_ptr<CancelToken>> tokens;
  CancelToken* cancel = nullptr;
  bool stopping = false;      // the run (or the flow's end) stopped the step: never retry
  bool timed_out = false;     // the current attempt hit its timeout
  std::thread thread;

  CancelToken* NewToken() {
    tokens.push_back(std::make_unique<CancelToken>());
    cancel = tokens.back().get();
    return cancel;
  }
};

const char* StepStatusName(StepStatus status) {
  switch (status) {
    case StepStatus::kPending: return "pending";
    case StepStatus::kRunning: return "running";
    case StepStatus::kSucceeded: return "succeeded";
    case StepStatus::kFailed: return "failed";
    case StepStatus::kSkipped: return "skipped";
    case StepStatus::kCancelled: return "cancelled";
  }
  return "pending";
}

int64_t RetryBackoffNs(const spec::RetryPolicy& policy, const std::string& step_id, int retry) {
  double wait = static_cast<double>(policy.backoff_ns);
  for (int i = 1; i < retry && wait < static_cast<double>(policy.max_backoff_ns); ++i) wait *= 2;
  wait = std::min(wait, static_cast<double>(policy.max_backoff_ns));
  if (policy.jitter > 0) {
    std::mt19937_64 rng(StableHash(step_id, static_cast<uint64_t>(retry)));
    std::uniform_real_distribution<double> factor(1 - policy.jitter, 1 + policy.jitter);
    wait *= factor(rng);
  }
  return std::max<int64_t>(0, static_cast<int64_t>(wait));
}

FlowEngine::FlowEngine(RunContext& run, const Registry<StepExecutor>* step_kinds)
    : run_(run), step_kinds_(step_kinds != nullptr ? *step_kinds : StepKindRegistry()) {}

void FlowEngine::RunStepThread(StepState& st, std::mutex& mu, std::condition_variable& cv,
                               bool finally) {
  const spec::Step& step = *st.step;
  const Clock& clock = run_.clock();
  // Sets the step's final state; called with `mu` held.
  auto finish = [&](StepStatus status, Status error) {
    st.record.status = status;
    st.record.error = std::move(error);
    st.record.finished_ns = clock.NowNs();
    cv.notify_all();
  };
  // A step taken from an earlier run (`--from-failure`) is not run: its stored outputs stand.
  if (!finally) {
    if (std::optional<nlohmann::json> reused = run_.Reused(step.id)) {
      run_.Emit("STEP_REUSED", step.id, "outputs of run " + run_.reused_from());
      run_.SetOutputs(step.id, std::move(*reused));
      std::lock_guard<std::mutex> lock(mu);
      st.started = true;
      st.record.reused = true;
      st.record.started_ns = clock.NowNs();
      finish(StepStatus::kSucceeded, Status::Ok());
      return;
    }
  }
  CancelToken* token = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    token = st.cancel;
  }
  if (step.after_ns > 0 && clock.WaitFor(*token, step.after_ns)) {
    std::lock_guard<std::mutex> lock(mu);
    finish(StepStatus::kCancelled, Cancelled("cancelled before its `after` delay passed"));
    return;
  }
  RunContext::StepScope scope(step.id);
  while (true) {
    Result<std::unique_ptr<StepExecutor>> executor =
        step_kinds_.Create(spec::StepKindName(step.kind));
    auto mark_started = [&] {
      std::lock_guard<std::mutex> lock(mu);
      st.started = true;
      cv.notify_all();
    };
    int attempt = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (st.stopping) {
        finish(StepStatus::kCancelled, Cancelled(token->reason()));
        return;
      }
      attempt = ++st.record.attempts;
      if (attempt == 1) st.record.started_ns = clock.NowNs();
      st.timed_out = false;
      if (executor.ok() && !(*executor)->MarksStarted()) st.started = true;
      token = st.cancel;
      cv.notify_all();
    }
    std::string what = st.record.kind;
    if (finally) what += " (finally)";
    if (attempt > 1) what += " (attempt " + std::to_string(attempt) + ")";
    run_.Emit("STEP_START", step.id, what);
    // The attempt's timeout: a watchdog on the clock that cancels the attempt's token.
    CancelToken attempt_over;
    std::thread watchdog;
    if (step.timeout_ns) {
      watchdog = std::thread([&, token] {
        if (clock.WaitFor(attempt_over, *step.timeout_ns)) return;
        std::lock_guard<std::mutex> lock(mu);
        if (token->cancelled()) return;  // stopped for another reason first
        st.timed_out = true;
        token->Cancel("timeout");
        cv.notify_all();
      });
    }
    Status status = executor.status();
    if (executor.ok()) {
      StepContext ctx{run_, step, *token, mark_started};
      ctx.step_kinds = &step_kinds_;
      status = (*executor)->Run(ctx);
    }
    attempt_over.Cancel("the attempt ended");
    if (watchdog.joinable()) watchdog.join();

    Status error;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (status.ok()) {
        finish(StepStatus::kSucceeded, Status::Ok());
        return;
      }
      if (st.timed_out && !st.stopping) {
        error = DeadlineExceeded("step timed out after " + FormatDuration(*step.timeout_ns));
      } else if (st.stopping || token->cancelled() || status.code() == StatusCode::kCancelled) {
        finish(StepStatus::kCancelled,
               status.code() == StatusCode::kCancelled ? status : Cancelled(token->reason()));
        return;
      } else {
        error = status;
      }
      if (attempt > step.retry.limit) {
        finish(StepStatus::kFailed, error);
        return;
      }
      token = st.NewToken();  // the backoff's token: the scheduler cancels it to cut the wait
    }
    // Retry: undo what the failed attempt created, wait the backoff, go again.
    const int64_t backoff = RetryBackoffNs(step.retry, step.id, attempt);
    run_.Emit("STEP_RETRY", step.id,
              "attempt " + std::to_string(attempt) + " of " + std::to_string(step.retry.limit + 1) +
                  " failed: " + error.message() + "; retrying in " + FormatDuration(backoff));
    Status undone = run_.UndoStep(step.id);
    if (!undone.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      finish(StepStatus::kFailed, Internal("cannot retry: undoing the failed attempt failed: " +
                                           undone.message() + "; the attempt: " + error.message()));
      return;
    }
    if (clock.WaitFor(*token, backoff)) {
      std::lock_guard<std::mutex> lock(mu);
      finish(StepStatus::kCancelled, Cancelled("cancelled while waiting to retry (" +
                                               token->reason() + "); the last attempt: " +
                                               error.message()));
      return;
    }
  }
}

std::vector<StepRecord> FlowEngine::Schedule(const std::vector<const spec::Step*>& steps,
                                             CancelToken& cancel, bool finally) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<StepState> states(steps.size());
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < steps.size(); ++i) {
    states[i].step = steps[i];
    states[i].record.id = steps[i]->id;
    states[i].record.kind = spec::StepKindName(steps[i]->kind);
    states[i].record.finally = finally;
    states[i].NewToken();
    index[steps[i]->id] = i;
  }

  // Evaluated under `mu`.
  auto readiness = [&](const StepState& s) {
    Readiness r = Readiness::kReady;
    for (const spec::Need& need : s.step->needs) {
      auto it = index.find(need.step);
      if (it == index.end()) continue;  // outside this schedule: already done
      const StepState& dep = states[it->second];
      StepStatus st = dep.record.status;
      switch (need.state) {
        case spec::NeedState::kSucceeded:
          if (st == StepStatus::kSucceeded) continue;
          if (Terminal(st)) return Readiness::kNever;
          r = Readiness::kWait;
          break;
        case spec::NeedState::kStarted:
          if (dep.started || st == StepStatus::kSucceeded) continue;
          if (Terminal(st)) return Readiness::kNever;
          r = Readiness::kWait;
          break;
        case spec::NeedState::kDone:
          if (Terminal(st)) continue;
          r = Readiness::kWait;
          break;
        case spec::NeedState::kFailed:
          if (st == StepStatus::kFailed) continue;
          if (Terminal(st)) return Readiness::kNever;
          r = Readiness::kWait;
          break;
      }
    }
    return r;
  };

  auto launch = [&](size_t i) {
    StepState& s = states[i];
    s.record.status = StepStatus::kRunning;
    s.thread = std::thread([this, &s, &mu, &cv, finally] { RunStepThread(s, mu, cv, finally); });
  };

  // Stops a running step for good (no retry): the run was cancelled or the flow ended.
  auto stop = [](StepState& s, const std::string& reason, bool graceful) {
    s.stopping = true;
    s.cancel->Cancel(reason, graceful);
  };

  {
    std::unique_lock<std::mutex> lock(mu);
    size_t emitted = 0;
    std::vector<bool> announced(states.size(), false);
    while (true) {
      // Announce terminal transitions (outside hot paths; Emit takes its own lock only).
      for (size_t i = 0; i < states.size(); ++i) {
        StepState& s = states[i];
        if (!announced[i] && Terminal(s.record.status)) {
          announced[i] = true;
          ++emitted;
          std::string type = s.record.status == StepStatus::kSucceeded ? "STEP_SUCCESS"
                             : s.record.status == StepStatus::kSkipped ? "STEP_SKIPPED"
                             : s.record.status == StepStatus::kCancelled ? "STEP_CANCELLED"
                                                                         : "STEP_FAILURE";
          std::string message = s.record.error.ok() ? "" : s.record.error.message();
          lock.unlock();
          run_.Emit(type, s.record.id, message);
          lock.lock();
          if (!finally && s.record.status == StepStatus::kFailed &&
              s.step->on_error == spec::OnError::kStop && !cancel.cancelled()) {
            cancel.Cancel("step " + s.record.id + " failed");
          }
        }
      }
      if (emitted == states.size()) break;

      if (cancel.cancelled()) {
        for (StepState& s : states) {
          if (s.record.status == StepStatus::kPending) {
            s.record.status = StepStatus::kCancelled;
            s.record.error = Cancelled(cancel.reason());
          } else if (s.record.status == StepStatus::kRunning) {
            if (!s.stopping) stop(s, cancel.reason(), cancel.graceful());
            if (cancel.hurried() && !s.cancel->hurried()) s.cancel->Hurry(cancel.reason());
          }
        }
      } else {
        bool progressed = false;
        for (size_t i = 0; i < states.size(); ++i) {
          StepState& s = states[i];
          if (s.record.status != StepStatus::kPending) continue;
          Readiness r = readiness(s);
          if (r == Readiness::kReady && !s.step->when.empty()) {
            // `when:` is decided once the needs are met, from the outputs known by then.
            Result<spec::Condition> condition = spec::ParseCondition(s.step->when);
            Result<spec::ConditionResult> value =
                condition.ok() ? spec::EvaluateCondition(*condition, run_.ExpressionContext())
                               : Result<spec::ConditionResult>(condition.status());
            if (!value.ok()) {
              s.record.status = StepStatus::kFailed;
              s.record.error = InvalidArgument("when: " + value.status().message());
              progressed = true;
              continue;
            }
            if (!value->value) {
              s.record.status = StepStatus::kSkipped;
              s.record.error = Cancelled("when: " + value->explanation);
              progressed = true;
              continue;
            }
          }
          if (r == Readiness::kReady) {
            launch(i);
            progressed = true;
          } else if (r == Readiness::kNever) {
            s.record.status = StepStatus::kSkipped;
            s.record.error = Cancelled("a step it needs did not reach the required state");
            progressed = true;
          }
        }
        if (progressed) continue;
        // Background steps end with the flow: once nothing else is pending or running.
        bool others_active = false;
        for (const StepState& s : states) {
          if (!s.step->background && !Terminal(s.record.status)) others_active = true;
        }
        if (!others_active) {
          for (StepState& s : states) {
            if (s.step->background && s.record.status == StepStatus::kRunning && !s.stopping) {
              stop(s, "the flow ended", /*graceful=*/true);
            }
          }
        }
      }
      cv.wait_for(lock, std::chrono::milliseconds(20));
    }
  }
  std::vector<StepRecord> records;
  for (StepState& s : states) {
    if (s.thread.joinable()) s.thread.join();
    records.push_back(s.record);
  }
  return records;
}

RunOutcome FlowEngine::Run(CancelToken& cancel) {
  const Clock& clock = run_.clock();
  RunOutcome outcome;
  outcome.started_ns = clock.NowNs();
  const spec::FlowSpec& flow = run_.flow();
  run_.Emit("RUN_START", "", flow.name + " (run " + run_.run_id() + ")");

  std::vector<const spec::Step*> main_steps;
  for (const spec::Step& s : flow.steps) main_steps.push_back(&s);
  outcome.steps = Schedule(main_steps, cancel, /*finally=*/false);
  outcome.interrupted = cancel.cancelled() && cancel.reason().rfind("interrupted", 0) == 0;
  if (before_teardown_) before_teardown_(outcome.steps);

  // Teardown: undo in reverse order, then the finally steps, one after another (each on its own
  // so that `timeout` and `retry` apply to it; they are not cancelled by the run's token).
  outcome.teardown = run_.Teardown();
  for (const spec::Step& step : flow.finally) {
    CancelToken finally_cancel;
    std::vector<StepRecord> one = Schedule({&step}, finally_cancel, /*finally=*/true);
    outcome.steps.push_back(one.front());
  }

  // Verdict.
  bool infra_failed = false;
  bool bad_input = false;
  bool check_failed = false;
  for (const StepRecord& r : outcome.steps) {
    if (r.status != StepStatus::kFailed) continue;
    const spec::Step* step = nullptr;
    for (const spec::Step& s : flow.steps) {
      if (s.id == r.id) step = &s;
    }
    // A sub-flow fails this way when one of its checks (or delivery verdicts) did.
    if ((r.kind == "check" || r.kind == "flow") &&
        r.error.code() == StatusCode::kFailedPrecondition) {
      check_failed = true;
      outcome.reasons.push_back("check " + r.id + ": " + r.error.message());
    } else if (r.error.code() == StatusCode::kInvalidArgument && step != nullptr) {
      // Bad input that only a run could discover (an unreachable address): exit 2, with the
      // step's place in the flow file.
      bad_input = true;
      outcome.reasons.push_back(step->loc.file + ":" + std::to_string(step->loc.line) + ":" +
                                std::to_string(step->loc.column) + ": steps." + r.id + ": " +
                                r.error.message());
    } else if (step == nullptr || step->on_error == spec::OnError::kStop) {
      infra_failed = true;
      outcome.reasons.push_back("step " + r.id + " failed: " + r.error.message());
    }
  }
  bool delivery_failed = false, delivery_unknown = false;
  for (const auto& [id, w] : run_.Workloads()) {
    if (!w.result.consumed) continue;
    verify::Judgement j = verify::Judge(w.result.delivery, w.guarantee);
    for (const std::string& reason : j.reasons) outcome.reasons.push_back(id + ": " + reason);
    delivery_failed = delivery_failed || j.verdict == verify::Verdict::kFail;
    delivery_unknown = delivery_unknown || j.verdict == verify::Verdict::kUnknown;
  }
  if (outcome.interrupted) {
    outcome.verdict = verify::Verdict::kUnknown;
    outcome.exit_code = 3;
    outcome.reasons.insert(outcome.reasons.begin(), cancel.reason());
  } else if (bad_input) {
    outcome.verdict = verify::Verdict::kUnknown;
    outcome.exit_code = 2;
  } else if (infra_failed) {
    outcome.verdict = check_failed || delivery_failed ? verify::Verdict::kFail : verify::Verdict::kUnknown;
    outcome.exit_code = 3;
  } else if (check_failed || delivery_failed) {
    outcome.verdict = verify::Verdict::kFail;
    outcome.exit_code = 1;
  } else if (delivery_unknown) {
    outcome.verdict = verify::Verdict::kUnknown;
    outcome.exit_code = 4;
  } else {
    outcome.verdict = verify::Verdict::kPass;
    outcome.exit_code = 0;
  }
  if (!outcome.teardown.ok()) {
    outcome.reasons.push_back("teardown: " + outcome.teardown.message());
    if (outcome.exit_code == 0) outcome.exit_code = 3;
  }
  outcome.finished_ns = clock.NowNs();
  run_.Emit("RUN_END", "", std::string(verify::VerdictName(outcome.verdict)));
  return outcome;
}

}  // namespace drone::flow
