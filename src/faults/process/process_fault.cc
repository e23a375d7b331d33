#include "faults/process/process_fault.h"

namespace drone::faults {
namespace {

class ProcessFault : public Fault {
 public:
  ProcessFault(ProcessAction action, platforms::NodeControl& control, std::vector<std::string> nodes,
               bool failback, std::string backend)
      : action_(action),
        control_(control),
        nodes_(std::move(nodes)),
        failback_(failback),
        backend_(std::move(backend)) {}

  std::string Kind() const override { return ProcessActionName(action_); }
  std::string Target() const override {
    std::string out;
    for (const std::string& n : nodes_) out += (out.empty() ? "" : ",") + n;
    return out;
  }
  std::string Backend() const override { return backend_; }
  nlohmann::json Details() const override {
    nlohmann::json d = nlohmann::json::object();
    if (nodes_.size() > 1) d["nodes"] = nodes_;
    if (action_ == ProcessAction::kKill) d["failback"] = failback_;
    return d;
  }

  Status Inject() override {
    for (const std::string& node : nodes_) {
      Status s = Disturb(node);
      if (!s.ok()) {
        (void)Heal();
        return s.WithContext(Kind() + " " + node);
      }
      disturbed_.push_back(node);
    }
    return Status::Ok();
  }

  Status Heal() override {
    Status first;
    while (!disturbed_.empty()) {
      const std::string node = disturbed_.back();
      Status s = action_ == ProcessAction::kPause ? control_.Resume(node) : control_.Start(node, failback_);
      if (!s.ok() && first.ok()) first = s.WithContext("bring back " + node);
      disturbed_.pop_back();
    }
    return first;
  }

 private:
  Status Disturb(const std::string& node) {
    switch (action_) {
      case ProcessAction::kKill: return control_.Kill(node);
      case ProcessAction::kStop:
      case ProcessAction::kRestart: return control_.Stop(node);
      case ProcessAction::kPause: return control_.Pause(node);
    }
    return Internal("unknown process action");
  }

  const ProcessAction action_;
  platforms::NodeControl& control_;
  const std::vector<std::string> nodes_;
  const bool failback_;
  const std::string backend_;
  std::vector<std::string> disturbed_;  // in the order they were disturbed
};

}  // namespace

const char* ProcessActionName(ProcessAction action) {
  switch (action) {
    case ProcessAction::kKill: return "kill";
    case ProcessAction::kStop: return "stop";
    case ProcessAction::kPause: return "pause";
    case ProcessAction::kRestart: return "restart";
  }
  return "kill";
}

std::vector<std::string> SplitNodes(const std::string& resolved) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= resolved.size()) {
    size_t end = resolved.find(',', start);
    if (end == std::string::npos) end = resolved.size();
    if (end > start) out.push_back(resolved.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::unique_ptr<Fault> NewProcessFault(ProcessAction action, platforms::NodeControl& control,
                                       std::vector<std::string> nodes, bool failback,
                                       std::string backend) {
  return std::make_unique<ProcessFault>(action, control, std::move(nodes), failback, std::move(backend));
}

}  // namespace drone::faults
