#include "flow/run_context.h"

#include <algorithm>
#include <iterator>

#include "core/clock.h"
#include "core/log.h"

namespace drone::flow {

nlohmann::json Event::ToJson() const {
  nlohmann::json j = {{"t", FormatTimestamp(t_ns)}, {"t_ns", t_ns}, {"type", type}};
  if (!step.empty()) j["step"] = step;
  if (!message.empty()) j["message"] = message;
  if (!fault.empty()) j["fault"] = fault;
  return j;
}

RunContext::RunContext(const spec::FlowSpec& flow, std::string run_id, uint64_t run_number,
                       RunObserver* observer, workload::HistoryWriter* history,
                       const Clock* clock)
    : flow_(flow),
      run_id_(std::move(run_id)),
      run_number_(run_number),
      observer_(observer),
      history_(history),
      clock_(clock != nullptr ? *clock : SystemClock()) {}

RunContext::RunContext(const spec::FlowSpec& flow, RunContext& parent, const std::string& step)
    : flow_(flow),
      parent_(&parent),
      scope_(step),
      run_id_(parent.run_id()),
      run_number_(parent.run_number()),
      observer_(parent.observer()),  // for live workload lines; events go through the parent
      history_(parent.history()),
      clock_(parent.clock()),
      journal_(&parent.journal()) {}

std::string RunContext::Scoped(const std::string& id) const {
  return parent_ == nullptr ? id : scope_ + "/" + id;
}

void RunContext::Emit(std::string type, std::string step, std::string message) {
  Emit(std::move(type), std::move(step), std::move(message), clock_.NowNs());
}

void RunContext::Emit(std::string type, std::string step, std::string message, int64_t t_ns) {
  if (parent_ != nullptr) {
    // The sub-flow's start and end are moments of the parent's run, not runs of their own.
    if (type == "RUN_START") type = "FLOW_START";
    if (type == "RUN_END") type = "FLOW_END";
    parent_->Emit(std::move(type), step.empty() ? scope_ : Scoped(step), std::move(message), t_ns);
    return;
  }
  Event e{t_ns, std::move(type), std::move(step), std::move(message)};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e.type == "FAULT_INJECTED" || e.type == "FAULT_HEALED") e.fault = FaultPayloadLocked(e.step);
    events_.push_back(e);
  }
  LogInfo(e.type + (e.step.empty() ? "" : " " + e.step) + (e.message.empty() ? "" : ": " + e.message));
  if (observer_ != nullptr) observer_->OnEvent(e);
}

std::vector<Event> RunContext::Events() const {
  if (parent_ != nullptr) return parent_->Events();
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

void RunContext::SetOutputs(const std::string& step, nlohmann::json outputs) {
  // The event carries the outputs as compact JSON, cut short: an exec step's stdout may be large,
  // and the whole value is in the result's steps[] anyway.
  constexpr size_t kMaxEventOutputBytes = 1024;
  std::string text = outputs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxEventOutputBytes) text = text.substr(0, kMaxEventOutputBytes) + "...";
  {
    std::lock_guard<std::mutex> lock(mu_);
    outputs_[step] = std::move(outputs);
  }
  Emit("STEP_OUTPUT", step, std::move(text));
}

void RunContext::SetReused(std::map<std::string, nlohmann::json> outputs,
                           std::string from_run_id) {
  reused_ = std::move(outputs);
  reused_from_ = std::move(from_run_id);
}

std::optional<nlohmann::json> RunContext::Reused(const std::string& step) const {
  auto it = reused_.find(step);
  if (it == reused_.end()) return std::nullopt;
  return it->second;
}

nlohmann::json RunContext::Outputs(const std::string& step) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = outputs_.find(step);
  return it == outputs_.end() ? nlohmann::json::object() : it->second;
}

nlohmann::json RunContext::ExpressionContext() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json ctx = {{"params", nlohmann::json::object()}, {"steps", nlohmann::json::object()}};
  for (const auto& [k, v] : flow_.params) ctx["params"][k] = v;
  for (const auto& [id, out] : outputs_) ctx["steps"][id] = {{"outputs", out}};
  return ctx;
}

void RunContext::AddCluster(const std::string& step, std::unique_ptr<platforms::Cluster> cluster) {
  if (parent_ != nullptr) return parent_->AddCluster(Scoped(step), std::move(cluster));
  std::lock_guard<std::mutex> lock(mu_);
  clusters_[step] = std::move(cluster);
}

Status RunContext::StopCluster(const std::string& step) {
  if (parent_ != nullptr) return parent_->StopCluster(Scoped(step));
  std::unique_ptr<platforms::Cluster> cluster;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = clusters_.find(step);
    if (it == clusters_.end()) return Status::Ok();
    cluster = std::move(it->second);
    clusters_.erase(it);
  }
  return cluster ? cluster->Stop() : Status::Ok();
}

Result<platforms::Cluster*> RunContext::FindCluster(const std::string& id) const {
  if (parent_ != nullptr) {
    std::string only = id;
    if (only.empty()) {
      int count = 0;
      for (const spec::Step& s : flow_.steps) {
        if (s.kind == spec::StepKind::kCluster) {
          only = s.id;
          ++count;
        }
      }
      if (count != 1) return FailedPrecondition("name a cluster with `cluster:`");
    }
    return parent_->FindCluster(Scoped(only));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (id.empty()) {
    if (clusters_.size() == 1) return clusters_.begin()->second.get();
    if (clusters_.empty()) return FailedPrecondition("no cluster is running");
    return InvalidArgument("several clusters are running; name one with `cluster:`");
  }
  auto it = clusters_.find(id);
  if (it == clusters_.end() || !it->second) return NotFound("cluster step '" + id + "' has no running cluster");
  return it->second.get();
}

void RunContext::AddWorkload(const std::string& step, WorkloadRecord record) {
  if (parent_ != nullptr) return parent_->AddWorkload(Scoped(step), std::move(record));
  std::lock_guard<std::mutex> lock(mu_);
  workloads_[step] = std::move(record);
}

std::map<std::string, WorkloadRecord> RunContext::Workloads() const {
  if (parent_ != nullptr) {
    std::map<std::string, WorkloadRecord> mine;
    for (auto& [id, w] : parent_->Workloads()) {
      if (id.rfind(scope_ + "/", 0) == 0) mine.emplace(id, std::move(w));
    }
    return mine;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return workloads_;
}

std::string RunContext::OnlyWorkloadStep() const {
  std::string only;
  int count = 0;
  for (const spec::Step& s : flow_.steps) {
    if (s.kind == spec::StepKind::kWorkload) {
      only = s.id;
      ++count;
    }
  }
  return count == 1 ? only : "";
}

Result<nlohmann::json> RunContext::WorkloadJson(const std::string& id) const {
  std::string step = id.empty() ? OnlyWorkloadStep() : id;
  if (parent_ != nullptr) return parent_->WorkloadJson(Scoped(step));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = workloads_.find(step);
  if (it == workloads_.end()) {
    return FailedPrecondition("workload '" + step + "' has no result (did it run?)");
  }
  nlohmann::json j = it->second.result.ToJson();
  j["phases"] = workload::PhasesJson(it->second.result, FaultWindowsLocked());
  return j;
}

std::vector<workload::FaultWindow> RunContext::FaultWindowsLocked() const {
  std::vector<workload::FaultWindow> out;
  for (const faults::FaultRecord& f : faults_) out.push_back({f.step, f.kind, f.start_ns, f.end_ns});
  return out;
}

std::vector<workload::FaultWindow> RunContext::FaultWindows() const {
  if (parent_ != nullptr) return parent_->FaultWindows();
  std::lock_guard<std::mutex> lock(mu_);
  return FaultWindowsLocked();
}

void RunContext::SetLiveWorkload(const std::string& step, nlohmann::json totals) {
  if (parent_ != nullptr) return parent_->SetLiveWorkload(Scoped(step), std::move(totals));
  std::lock_guard<std::mutex> lock(mu_);
  live_workloads_[step] = std::move(totals);
}

Result<nlohmann::json> RunContext::LiveWorkloadJson(const std::string& id) const {
  const std::string step = id.empty() ? OnlyWorkloadStep() : id;
  if (parent_ != nullptr) return parent_->LiveWorkloadJson(Scoped(step));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_workloads_.find(step);
  if (it == live_workloads_.end()) {
    return NotFound("workload '" + step + "' has not reported any totals yet");
  }
  return it->second;
}

size_t RunContext::AddFault(faults::FaultRecord record) {
  if (parent_ != nullptr) {
    record.step = Scoped(record.step);
    return parent_->AddFault(std::move(record));
  }
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(record));
  return faults_.size() - 1;
}

void RunContext::EndFault(size_t index, int64_t end_ns) {
  if (parent_ != nullptr) return parent_->EndFault(index, end_ns);
  std::lock_guard<std::mutex> lock(mu_);
  if (index < faults_.size() && faults_[index].end_ns == 0) faults_[index].end_ns = end_ns;
}

void RunContext::AddFaultDetail(size_t index, const std::string& key, nlohmann::json value) {
  if (parent_ != nullptr) return parent_->AddFaultDetail(index, key, std::move(value));
  std::lock_guard<std::mutex> lock(mu_);
  if (index < faults_.size()) faults_[index].details[key] = std::move(value);
}

nlohmann::json RunContext::FaultPayloadLocked(const std::string& step) const {
  // The step's latest record: a fault step records its fault before it emits the event.
  for (auto it = faults_.rbegin(); it != faults_.rend(); ++it) {
    if (it->step != step) continue;
    nlohmann::json j = {{"kind", it->kind}, {"target", it->target}, {"backend", it->backend}};
    if (!it->details.empty()) j["details"] = it->details;
    return j;
  }
  return nlohmann::json::object();
}

std::vector<faults::FaultRecord> RunContext::Faults() const {
  if (parent_ != nullptr) return parent_->Faults();
  std::lock_guard<std::mutex> lock(mu_);
  return faults_;
}

void RunContext::AddCheck(CheckRecord record) {
  if (parent_ != nullptr) {
    record.step = Scoped(record.step);
    if (!record.workload.empty()) record.workload = Scoped(record.workload);
    return parent_->AddCheck(std::move(record));
  }
  std::lock_guard<std::mutex> lock(mu_);
  checks_.push_back(std::move(record));
}

std::vector<CheckRecord> RunContext::Checks() const {
  if (parent_ != nullptr) return parent_->Checks();
  std::lock_guard<std::mutex> lock(mu_);
  return checks_;
}

namespace {
// The step whose attempt runs on this thread (RunContext::StepScope).
thread_local std::string current_step;
}  // namespace

RunContext::StepScope::StepScope(std::string step) : previous_(std::move(current_step)) {
  current_step = std::move(step);
}

RunContext::StepScope::~StepScope() { current_step = std::move(previous_); }

void RunContext::SetRunDir(std::string dir, bool temporary) {
  std::lock_guard<std::mutex> lock(mu_);
  run_dir_ = std::move(dir);
  run_dir_temporary_ = temporary;
}

std::string RunContext::run_dir() const {
  if (parent_ != nullptr) return parent_->run_dir();
  std::lock_guard<std::mutex> lock(mu_);
  return run_dir_;
}

bool RunContext::run_dir_temporary() const {
  if (parent_ != nullptr) return parent_->run_dir_temporary();
  std::lock_guard<std::mutex> lock(mu_);
  return run_dir_temporary_;
}

void RunContext::AddArtifact(Artifact artifact) {
  if (parent_ != nullptr) {
    artifact.step = Scoped(artifact.step);
    return parent_->AddArtifact(std::move(artifact));
  }
  std::lock_guard<std::mutex> lock(mu_);
  artifacts_.push_back(std::move(artifact));
}

std::vector<Artifact> RunContext::Artifacts() const {
  if (parent_ != nullptr) return parent_->Artifacts();
  std::lock_guard<std::mutex> lock(mu_);
  return artifacts_;
}

void RunContext::PushUndo(std::string description, std::function<Status()> undo) {
  PushUndoFor(current_step, std::move(description), std::move(undo));
}

void RunContext::PushUndoFor(const std::string& step, std::string description,
                             std::function<Status()> undo) {
  if (parent_ != nullptr) {
    // A sub-flow's step (or the sub-flow as a whole, outside its steps' threads).
    return parent_->PushUndoFor(step.empty() ? scope_ : Scoped(step), scope_ + ": " + description,
                                std::move(undo));
  }
  std::lock_guard<std::mutex> lock(mu_);
  undo_.push_back({step, std::move(description), std::move(undo)});
}

Status RunContext::PushUndo(std::string description, journal::UndoRecord record,
                            std::function<Status()> undo) {
  journal::Journal* journal = journal_;
  ASSIGN_OR_RETURN(uint64_t id, journal->Add(record, description));
  PushUndo(std::move(description), [journal, id, undo = std::move(undo)] {
    Status s = undo();
    if (s.ok()) s = journal->Done(id);
    return s;
  });
  return Status::Ok();
}

Status RunContext::UndoStep(const std::string& step) {
  if (parent_ != nullptr) return parent_->UndoStep(Scoped(step));
  // A `flow` step's sub-steps registered theirs as "<step>/<id>": retrying the flow step undoes
  // them too.
  const std::string nested = step + "/";
  Status first;
  while (true) {
    UndoAction action;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = std::find_if(undo_.rbegin(), undo_.rend(),
                             [&](const UndoAction& a) {
                               return a.step == step || a.step.rfind(nested, 0) == 0;
                             });
      if (it == undo_.rend()) break;
      action = std::move(*it);
      undo_.erase(std::next(it).base());
    }
    Status s = action.fn();
    Emit("UNDO", action.step, action.description + (s.ok() ? "" : " failed: " + s.ToString()));
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status RunContext::Teardown() {
  Status first;
  while (true) {
    UndoAction action;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (undo_.empty()) break;
      action = std::move(undo_.back());
      undo_.pop_back();
    }
    Status s = action.fn();
    Emit("UNDO", action.step, action.description + (s.ok() ? "" : " failed: " + s.ToString()));
    if (!s.ok() && first.ok()) first = s;
  }
  std::map<std::string, std::unique_ptr<platforms::Cluster>> clusters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    clusters.swap(clusters_);
  }
  for (auto& [id, cluster] : clusters) {
    Status s = cluster->Stop();
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

void RunContext::SetWorkers(std::vector<worker::WorkerAddress> workers) {
  std::lock_guard<std::mutex> lock(mu_);
  workers_ = std::move(workers);
}

std::vector<worker::WorkerAddress> RunContext::workers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return workers_;
}

}  // namespace drone::flow
