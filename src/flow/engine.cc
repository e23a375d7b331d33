#include "flow/engine.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "core/units.h"
#include "flow/step_executor.h"

namespace drone::flow {
namespace {

bool Terminal(StepStatus s) {
  return s == StepStatus::kSucceeded || s == StepStatus::kFailed || s == StepStatus::kSkipped ||
         s == StepStatus::kCancelled;
}

enum class Readiness { kWait, kReady, kNever };

struct StepState {
  const spec::Step* step = nullptr;
  StepRecord record;
  bool started = false;
  std::unique_ptr<CancelToken> cancel = std::make_unique<CancelToken>();
  int64_t deadline_mono = 0;  // 0 = no timeout
  std::thread thread;
};

}  // namespace

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

RunOutcome FlowEngine::Run(CancelToken& cancel) {
  RunOutcome outcome;
  outcome.started_ns = NowNs();
  const spec::FlowSpec& flow = run_.flow();
  run_.Emit("RUN_START", "", flow.name + " (run " + run_.run_id() + ")");

  std::mutex mu;
  std::condition_variable cv;
  std::vector<StepState> states(flow.steps.size());
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < flow.steps.size(); ++i) {
    states[i].step = &flow.steps[i];
    states[i].record.id = flow.steps[i].id;
    states[i].record.kind = spec::StepKindName(flow.steps[i].kind);
    index[flow.steps[i].id] = i;
  }

  // Evaluated under `mu`.
  auto readiness = [&](const StepState& s) {
    Readiness r = Readiness::kReady;
    for (const spec::Need& need : s.step->needs) {
      const StepState& dep = states[index.at(need.step)];
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
    s.thread = std::thread([&, i] {
      StepState& st = states[i];
      const spec::Step& step = *st.step;
      if (std::optional<nlohmann::json> reused = run_.Reused(step.id)) {
        run_.Emit("STEP_REUSED", step.id, "outputs of run " + run_.reused_from());
        run_.SetOutputs(step.id, std::move(*reused));
        std::lock_guard<std::mutex> lock(mu);
        st.started = true;
        st.record.reused = true;
        st.record.started_ns = st.record.finished_ns = NowNs();
        st.record.status = StepStatus::kSucceeded;
        cv.notify_all();
        return;
      }
      if (step.after_ns > 0 && st.cancel->WaitFor(step.after_ns)) {
        std::lock_guard<std::mutex> lock(mu);
        st.record.status = StepStatus::kCancelled;
        st.record.error = Cancelled("cancelled before its `after` delay passed");
        cv.notify_all();
        return;
      }
      Result<std::unique_ptr<StepExecutor>> executor =
          StepKindRegistry().Create(spec::StepKindName(step.kind));
      auto mark_started = [&] {
        std::lock_guard<std::mutex> lock(mu);
        st.started = true;
        cv.notify_all();
      };
      {
        std::lock_guard<std::mutex> lock(mu);
        st.record.started_ns = NowNs();
        if (step.timeout_ns) st.deadline_mono = MonotonicNs() + *step.timeout_ns;
        if (executor.ok() && !(*executor)->MarksStarted()) st.started = true;
      }
      run_.Emit("STEP_START", step.id, st.record.kind);
      Status status = executor.status();
      if (executor.ok()) {
        StepContext ctx{run_, step, *st.cancel, mark_started};
        status = (*executor)->Run(ctx);
      }
      std::lock_guard<std::mutex> lock(mu);
      st.record.finished_ns = NowNs();
      if (status.ok()) {
        st.record.status = StepStatus::kSucceeded;
      } else if (st.cancel->cancelled() && !st.record.error.ok()) {
        st.record.status = StepStatus::kFailed;  // timed out: error already set
      } else if (st.cancel->cancelled() || status.code() == StatusCode::kCancelled) {
        st.record.status = StepStatus::kCancelled;
        st.record.error = status.ok() ? Cancelled(st.cancel->reason()) : status;
      } else {
        st.record.status = StepStatus::kFailed;
        st.record.error = status;
      }
      cv.notify_all();
    });
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
          if (s.record.status == StepStatus::kFailed && s.step->on_error == spec::OnError::kStop &&
              !cancel.cancelled()) {
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
            s.cancel->Cancel(cancel.reason());
          }
        }
      } else {
        bool progressed = false;
        for (size_t i = 0; i < states.size(); ++i) {
          StepState& s = states[i];
          if (s.record.status != StepStatus::kPending) continue;
          Readiness r = readiness(s);
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
        // Timeouts.
        int64_t now = MonotonicNs();
        for (StepState& s : states) {
          if (s.record.status == StepStatus::kRunning && s.deadline_mono > 0 &&
              now >= s.deadline_mono && !s.cancel->cancelled()) {
            s.record.error = DeadlineExceeded("step timed out after " + FormatDuration(*s.step->timeout_ns));
            s.cancel->Cancel("timeout");
          }
        }
        // Background steps end with the flow: once nothing else is pending or running.
        bool others_active = false;
        for (const StepState& s : states) {
          if (!s.step->background && !Terminal(s.record.status)) others_active = true;
        }
        if (!others_active) {
          for (StepState& s : states) {
            if (s.step->background && s.record.status == StepStatus::kRunning && !s.cancel->cancelled()) {
              s.cancel->Cancel("the flow ended", /*graceful=*/true);
            }
          }
        }
      }
      cv.wait_for(lock, std::chrono::milliseconds(20));
    }
  }
  for (StepState& s : states) {
    if (s.thread.joinable()) s.thread.join();
  }
  outcome.interrupted = cancel.cancelled() && cancel.reason().rfind("interrupted", 0) == 0;
  for (const StepState& s : states) outcome.steps.push_back(s.record);

  // Teardown: undo in reverse order, then finally steps.
  outcome.teardown = run_.Teardown();
  CancelToken finally_cancel;
  for (const spec::Step& step : flow.finally) {
    StepRecord record{step.id, spec::StepKindName(step.kind), true, false, StepStatus::kRunning, NowNs(), 0, {}};
    run_.Emit("STEP_START", step.id, record.kind + " (finally)");
    Result<std::unique_ptr<StepExecutor>> executor = StepKindRegistry().Create(record.kind);
    Status status = executor.status();
    if (executor.ok()) {
      StepContext ctx{run_, step, finally_cancel, [] {}};
      status = (*executor)->Run(ctx);
    }
    record.finished_ns = NowNs();
    record.status = status.ok() ? StepStatus::kSucceeded : StepStatus::kFailed;
    record.error = status;
    run_.Emit(status.ok() ? "STEP_SUCCESS" : "STEP_FAILURE", step.id, status.ok() ? "" : status.message());
    outcome.steps.push_back(record);
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
    if (r.kind == "check" && r.error.code() == StatusCode::kFailedPrecondition) {
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
  outcome.finished_ns = NowNs();
  run_.Emit("RUN_END", "", std::string(verify::VerdictName(outcome.verdict)));
  return outcome;
}

}  // namespace drone::flow
