#include "spec/setup_steps.h"

#include <map>
#include <set>

namespace drone::spec {

bool IsSetupKind(StepKind kind) { return kind == StepKind::kCluster || kind == StepKind::kTopic; }

std::vector<std::string> SetupStepIds(const FlowSpec& flow) {
  std::map<std::string, const Step*> by_id;
  for (const Step& s : flow.steps) by_id[s.id] = &s;
  std::set<std::string> chosen;
  std::vector<const Step*> todo;
  for (const Step& s : flow.steps) {
    if (s.setup.value_or(IsSetupKind(s.kind))) todo.push_back(&s);
  }
  // What a chosen step needs is chosen too, whatever its kind: it must have run first.
  while (!todo.empty()) {
    const Step* s = todo.back();
    todo.pop_back();
    if (!chosen.insert(s->id).second) continue;
    for (const Need& n : s->needs) {
      auto it = by_id.find(n.step);
      if (it != by_id.end()) todo.push_back(it->second);
    }
  }
  std::vector<std::string> ids;
  for (const Step& s : flow.steps) {
    if (chosen.count(s.id) != 0) ids.push_back(s.id);
  }
  return ids;
}

FlowSpec SetupFlow(const FlowSpec& flow) {
  const std::vector<std::string> ids = SetupStepIds(flow);
  const std::set<std::string> keep(ids.begin(), ids.end());
  FlowSpec out = flow;
  out.steps.clear();
  out.finally.clear();
  for (const Step& s : flow.steps) {
    if (keep.count(s.id) != 0) out.steps.push_back(s);
  }
  return out;
}

}  // namespace drone::spec
