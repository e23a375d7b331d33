#include "spec/flow_spec.h"

namespace drone::spec {

std::string Diagnostic::ToString() const {
  std::string out = loc.file;
  if (loc.line > 0) {
    out += ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column);
  }
  out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  if (!hint.empty()) out += "\n  hint: " + hint;
  return out;
}

const char* StepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kCluster:
      return "cluster";
    case StepKind::kTopic:
      return "topic";
    case StepKind::kWorkload:
      return "workload";
    case StepKind::kFaultKill:
      return "fault.kill";
    case StepKind::kFaultNetwork:
      return "fault.network";
    case StepKind::kCheck:
      return "check";
    case StepKind::kSleep:
      return "sleep";
    case StepKind::kExec:
      return "exec";
    case StepKind::kFaultStop:
      return "fault.stop";
    case StepKind::kFaultPause:
      return "fault.pause";
    case StepKind::kFaultRestart:
      return "fault.restart";
    case StepKind::kWait:
      return "wait";
    case StepKind::kHttp:
      return "http";
    case StepKind::kCollect:
      return "collect";
    case StepKind::kFlow:
      return "flow";
    case StepKind::kFaultPartition:
      return "fault.partition";
  }
  return "unknown";
}

}  // namespace drone::spec
