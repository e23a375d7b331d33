// The state of one run, shared by the scheduler and the step executors: step outputs, the
// clusters that steps started, workload results, fault records, check outcomes, the event log
// and the undo stack that guarantees teardown.
//
// Thread-safety: every member function is thread-safe (one mutex); steps run on threads of their
// own. Objects handed out by pointer (clusters) stay valid until Teardown() has run.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/status.h"
#include "faults/fault.h"
#include "journal/undo_journal.h"
#include "platforms/platform.h"
#include "spec/flow_spec.h"
#include "verify/delivery.h"
#include "worker/coordinator.h"
#include "workload/phases.h"
#include "workload/workload.h"

namespace drone::workload {
class HistoryWriter;
}

namespace drone::flow {

struct Event {
  int64_t t_ns = 0;
  std::string type;  // RUN_START, STEP_START, STEP_SUCCESS, STEP_FAILURE, STEP_SKIPPED,
                     // FAULT_INJECTED, FAULT_HEALED, CHECK_PASSED, CHECK_FAILED, UNDO, RUN_END
  std::string step;
  std::string message;
  // FAULT_INJECTED and FAULT_HEALED: the fault's record {kind, target, backend, details}, so that
  // a live view can draw what the fault touches (the hosts of a link, a partition's blocked
  // pairs) before the result exists. Empty otherwise, and then left out of ToJson().
  nlohmann::json fault = nlohmann::json::object();
  nlohmann::json ToJson() const;
};

struct CheckRecord {
  std::string step;
  std::string workload;
  std::string expect;  // "lost == 0", "latency.end_to_end.p99 < 2s"
  nlohmann::json observed;
  bool passed = false;
  std::string message;
};

// Receives what a run does as it happens (the CLI's progress line and log). Called from step
// threads; implementations synchronise themselves.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void OnEvent(const Event& /*event*/) {}
  virtual void OnWorkloadSecond(const std::string& /*step*/, const workload::SeriesPoint& /*point*/,
                                const workload::LiveTotals& /*totals*/, double /*elapsed_s*/,
                                double /*planned_s*/, bool /*draining*/) {}
  // After each OnWorkloadSecond(): the workload's latency histograms since its load started.
  virtual void OnWorkloadHistograms(const std::string& /*step*/,
                                    const metrics::Histogram& /*publish*/,
                                    const metrics::Histogram& /*end_to_end*/) {}
};

// A file that a step kept in the run directory (`collect`). The result JSON lists these under
// `artifacts` with exactly these field names.
struct Artifact {
  std::string step;  // the step the file belongs to (a collect step, or the step whose log it is)
  std::string name;  // relative to the collect step's directory: "app.log", "logs/probe.stdout"
  std::string path;  // absolute path of the copy
  int64_t bytes = 0;
};

struct WorkloadRecord {
  workload::WorkloadResult result;
  verify::Guarantee guarantee = verify::Guarantee::kAtLeastOnce;
};

class RunContext {
 public:
  // `clock` (default: SystemClock()) times events, `after:` delays, timeouts and retry backoff;
  // tests pass a FakeClock.
  RunContext(const spec::FlowSpec& flow, std::string run_id, uint64_t run_number,
             RunObserver* observer, workload::HistoryWriter* history,
             const Clock* clock = nullptr);
  // The context of a sub-flow run by step `step` of `parent` (kind: flow). Outputs and
  // expressions are the sub-flow's own; everything else — events, clusters, workloads, faults,
  // checks, artifacts and undo actions — goes to `parent` under the name "<step>/<id>", so that
  // it shows in the parent's result and is undone by the parent's Teardown(). `parent` must
  // outlive this context.
  RunContext(const spec::FlowSpec& flow, RunContext& parent, const std::string& step);

  const spec::FlowSpec& flow() const { return flow_; }
  const std::string& run_id() const { return run_id_; }
  uint64_t run_number() const { return run_number_; }  // numeric id carried in envelopes
  workload::HistoryWriter* history() const { return history_; }
  RunObserver* observer() const { return observer_; }
  const Clock& clock() const { return clock_; }

  // The run's undo journal on disk (journal/undo_journal.h); a journal that records nothing until
  // AttachJournal(). Anything that outlives a step journals itself BEFORE it is created: through
  // PushUndo(description, record, fn) below, or directly (Add, then Done once it is gone) for
  // what a step both creates and removes, such as the exec step's process group.
  void AttachJournal(journal::Journal* journal) { journal_ = journal != nullptr ? journal : &no_journal_; }
  journal::Journal& journal() const { return *journal_; }

  // The `drone worker` processes that workload steps run on (`drone run --workers`, docs/
  // workers.md); empty: workloads run in this process. Set before the engine runs.
  void SetWorkers(std::vector<worker::WorkerAddress> workers);
  std::vector<worker::WorkerAddress> workers() const;
  // How many of them `drone run --workers N` started on this machine (0 for --workers-at): a
  // workload on a lab network starts as many again inside the lab's clients host.
  void SetLocalWorkerCount(int count) { local_worker_count_ = count; }
  int local_worker_count() const { return local_worker_count_; }

  void Emit(std::string type, std::string step, std::string message);
  // With the time it happened (a fault's exact injection time, the same as its record's).
  void Emit(std::string type, std::string step, std::string message, int64_t t_ns);
  std::vector<Event> Events() const;

  // Step outputs, addressable as ${{ steps.ID.outputs.PATH }}. Emits STEP_OUTPUT with the outputs
  // as JSON (the first 1 KiB).
  void SetOutputs(const std::string& step, nlohmann::json outputs);
  nlohmann::json Outputs(const std::string& step) const;
  // {"params": {...}, "steps": {"id": {"outputs": {...}}}} for spec::Interpolate.
  nlohmann::json ExpressionContext() const;

  // Steps to reuse from an earlier run (`drone run --from-failure`): the engine does not run them
  // but gives them these outputs, emits STEP_REUSED and counts them as succeeded. Set before
  // FlowEngine::Run().
  void SetReused(std::map<std::string, nlohmann::json> outputs, std::string from_run_id);
  std::optional<nlohmann::json> Reused(const std::string& step) const;
  const std::string& reused_from() const { return reused_from_; }

  void AddCluster(const std::string& step, std::unique_ptr<platforms::Cluster> cluster);
  // Stops and forgets the cluster of `step` (no-op when there is none).
  Status StopCluster(const std::string& step);
  // The cluster of step `id`, or of the flow's only cluster step when `id` is empty.
  Result<platforms::Cluster*> FindCluster(const std::string& id) const;

  void AddWorkload(const std::string& step, WorkloadRecord record);
  std::map<std::string, WorkloadRecord> Workloads() const;
  Result<nlohmann::json> WorkloadJson(const std::string& id) const;  // empty id: the only one
  std::string OnlyWorkloadStep() const;
  // Live totals of workload `step` so far, as JSON {sent, acked, failed, indeterminate, received,
  // lag, elapsed_s, draining, finished}: updated once a second while it runs, and to its final
  // counts when it ends (finished: true). For `wait` and for checks on a running workload.
  void SetLiveWorkload(const std::string& step, nlohmann::json totals);
  // NotFound while the workload has not reported its first second; empty id: the only one.
  Result<nlohmann::json> LiveWorkloadJson(const std::string& id) const;

  // Returns an index for UpdateFault().
  size_t AddFault(faults::FaultRecord record);
  void EndFault(size_t index, int64_t end_ns);
  // Adds `value` to the fault's details under `key` (what it observed, once healed).
  void AddFaultDetail(size_t index, const std::string& key, nlohmann::json value);
  std::vector<faults::FaultRecord> Faults() const;
  // The faults' windows, for the workloads' phases (workload/phases.h).
  std::vector<workload::FaultWindow> FaultWindows() const;

  void AddCheck(CheckRecord record);
  std::vector<CheckRecord> Checks() const;

  // The run directory, where `collect` copies files: <data-dir>/runs/<run id> normally; a
  // temporary directory (`temporary`), removed by whoever set it, when the run store is off.
  // Empty until set; created by the first step that needs it.
  void SetRunDir(std::string dir, bool temporary);
  std::string run_dir() const;
  bool run_dir_temporary() const;
  void AddArtifact(Artifact artifact);
  std::vector<Artifact> Artifacts() const;

  // Registers an undo action; actions run in reverse order of registration in Teardown(). The
  // action belongs to the step whose thread registers it (see StepScope), so that UndoStep() can
  // run the undo actions of one step's failed attempt before it is retried. In a sub-flow's
  // context the action goes to the parent's stack, under "<step>/<id>".
  void PushUndo(std::string description, std::function<Status()> undo);
  // As above, and first writes `record` to the journal, so that `drone clean` can undo it should
  // this process die before teardown; the entry is marked done once `undo` has succeeded. Call it
  // BEFORE creating the thing; on an error (the journal cannot be written) do not create it.
  Status PushUndo(std::string description, journal::UndoRecord record, std::function<Status()> undo);
  // Runs the undo actions registered by `step` so far (reverse order) and forgets them; UNDO
  // events name the step. Returns the first error, after trying all of them.
  Status UndoStep(const std::string& step);
  // Runs every undo action (reverse order), then stops every cluster. Returns the first error,
  // after trying all of them. Idempotent.
  Status Teardown();

  // While alive, undo actions registered on this thread belong to `step`. The engine opens one
  // around each step attempt.
  class StepScope {
   public:
    explicit StepScope(std::string step);
    ~StepScope();
    StepScope(const StepScope&) = delete;
    StepScope& operator=(const StepScope&) = delete;

   private:
    std::string previous_;
  };

 private:
  // "<step>/<id>" in the parent of a sub-flow; `id` itself otherwise.
  std::string Scoped(const std::string& id) const;
  // PushUndo() on behalf of `step` (a sub-flow's steps register in the parent's stack).
  void PushUndoFor(const std::string& step, std::string description, std::function<Status()> undo);
  // Event::fault for an event of `step`; needs mu_ held.
  nlohmann::json FaultPayloadLocked(const std::string& step) const;
  std::vector<workload::FaultWindow> FaultWindowsLocked() const;  // mu_ held

  const spec::FlowSpec& flow_;
  RunContext* const parent_ = nullptr;
  const std::string scope_;  // the sub-flow's step id in `parent_`
  const std::string run_id_;
  const uint64_t run_number_;
  RunObserver* const observer_;
  workload::HistoryWriter* const history_;
  const Clock& clock_;
  journal::Journal no_journal_;
  journal::Journal* journal_ = &no_journal_;

  mutable std::mutex mu_;
  std::vector<Event> events_;
  std::map<std::string, nlohmann::json> outputs_;
  std::map<std::string, nlohmann::json> reused_;  // set before the run, read-only after
  std::string reused_from_;
  std::map<std::string, std::unique_ptr<platforms::Cluster>> clusters_;
  std::map<std::string, WorkloadRecord> workloads_;
  std::map<std::string, nlohmann::json> live_workloads_;
  std::vector<faults::FaultRecord> faults_;
  std::vector<CheckRecord> checks_;
  std::string run_dir_;
  bool run_dir_temporary_ = false;
  std::vector<Artifact> artifacts_;
  struct UndoAction {
    std::string step;  // empty when registered outside a step
    std::string description;
    std::function<Status()> fn;
  };
  std::vector<UndoAction> undo_;
  std::vector<worker::WorkerAddress> workers_;
  int local_worker_count_ = 0;  // set before the engine runs, read-only after
};

}  // namespace drone::flow
