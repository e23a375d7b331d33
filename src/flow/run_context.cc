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

void RunContext::Emit(std::string type, std::string step, std::string message) {
  Emit(std::move(type), std::move(step), std::move(message), clock_.NowNs());
}

void RunContext::Emit(std::string type, std::string step, std::string message, int64_t t_ns) {
  Event e{t_ns, std::move(type), std::move(step), std::move(message)};
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e);
  }
  LogInfo(e.type + (e.step.empty() ? "" : " " + e.step) + (e.message.empty() ? "" : ": " + e.message));
  if (observer_ != nullptr) observer_->OnEvent(e);
}

std::vector<Event> RunContext::Events() const {
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
  std::lock_guard<std::mutex> lock(mu_);
  clusters_[step] = std::move(cluster);
}

Status RunContext::StopCluster(const std::string& step) {
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
  std::lock_guard<std::mutex> lock(mu_);
  workloads_[step] = std::move(record);
}

std::map<std::string, WorkloadRecord> RunContext::Workloads() const {
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
  std::lock_guard<std::mutex> lock(mu_);
  return FaultWindowsLocked();
}

size_t RunContext::AddFault(faults::FaultRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(record));
  return faults_.size() - 1;
}

void RunContext::EndFault(size_t index, int64_t end_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index < faults_.size() && faults_[index].end_ns == 0) faults_[index].end_ns = end_ns;
}

std::vector<faults::FaultRecord> RunContext::Faults() const {
  std::lock_guard<std::mutex> lock(mu_);
  return faults_;
}

void RunContext::AddCheck(CheckRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  checks_.push_back(std::move(record));
}

std::vector<CheckRecord> RunContext::Checks() const {
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

void RunContext::PushUndo(std::string description, std::function<Status()> undo) {
  std::lock_guard<std::mutex> lock(mu_);
  undo_.push_back({current_step, std::move(description), std::move(undo)});
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
  Status first;
  while (true) {
    UndoAction action;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = std::find_if(undo_.rbegin(), undo_.rend(),
                             [&](const UndoAction& a) { return a.step == step; });
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

}  // namespace drone::flow
