#include "cli/from_failure.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "flow/preflight.h"
#include "spec/loader.h"
#include "store/run_store.h"

namespace drone::cli {
namespace {

using nlohmann::json;

bool Reusable(spec::StepKind kind) {
  const std::string name = spec::StepKindName(kind);
  return std::any_of(std::begin(kReusableKinds), std::end(kReusableKinds),
                     [&](const char* k) { return name == k; });
}

}  // namespace

Result<ResumePlan> PlanFromFailure(const spec::FlowSpec& flow, const json& stored) {
  std::map<std::string, const json*> earlier;  // step id -> its entry in the stored steps[]
  bool any_unfinished = false;
  if (stored.contains("steps") && stored["steps"].is_array()) {
    for (const json& s : stored["steps"]) {
      if (!s.is_object() || !s.contains("id") || !s["id"].is_string()) continue;
      if (s.value("finally", false)) continue;
      earlier[s["id"].get<std::string>()] = &s;
      if (s.value("status", std::string()) != "succeeded") any_unfinished = true;
    }
  }
  if (!any_unfinished) {
    return FailedPrecondition("run " + stored.value("run_id", std::string("?")) +
                              " has no failed, skipped or cancelled step to resume from (verdict " +
                              stored.value("verdict", std::string("?")) +
                              "); run the flow again instead");
  }
  ResumePlan plan;
  std::set<std::string> rerun;
  // flow.steps is in topological order: every need is decided before the step that has it.
  for (const spec::Step& step : flow.steps) {
    auto it = earlier.find(step.id);
    bool reuse = it != earlier.end() && it->second->value("status", std::string()) == "succeeded" &&
                 Reusable(step.kind);
    for (const spec::Need& need : step.needs) {
      if (rerun.count(need.step) != 0) reuse = false;
    }
    if (reuse) {
      const json& outputs = it->second->contains("outputs") ? (*it->second)["outputs"] : json();
      plan.reused[step.id] = outputs.is_object() ? outputs : json::object();
    } else {
      rerun.insert(step.id);
      plan.rerun.push_back(step.id);
    }
  }
  return plan;
}

bool PrepareFromFailure(const std::string& data_dir, const std::string& run_id,
                        const std::map<std::string, std::string>& params, spec::FlowSpec* flow,
                        std::string* flow_text, ResumePlan* plan) {
  auto fail = [](const std::string& message) {
    std::cerr << "drone run --from-failure: " << message << "\n";
    return false;
  };
  std::error_code ec;
  if (data_dir.empty() ||
      !std::filesystem::exists(std::filesystem::path(data_dir) / store::kDatabaseFileName, ec)) {
    return fail("no runs are stored in " + (data_dir.empty() ? "(no data directory)" : data_dir) +
                " (is --data-dir right?)");
  }
  Result<std::unique_ptr<store::RunStore>> opened = store::RunStore::Open(data_dir);
  if (!opened.ok()) return fail(opened.status().message());
  Result<json> stored = (*opened)->GetResult(run_id);
  if (!stored.ok()) return fail(stored.status().message());
  Result<std::string> text = (*opened)->FlowText(run_id);
  if (!text.ok()) return fail(text.status().message());
  if (text->empty()) {
    return fail("run " + run_id +
                " was stored without its flow text (by an older drone); run its flow file again");
  }
  std::map<std::string, std::string> overrides;
  if (stored->contains("params") && (*stored)["params"].is_object()) {
    for (const auto& [k, v] : (*stored)["params"].items()) {
      overrides[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  for (const auto& [k, v] : params) overrides[k] = v;
  const std::string file = stored->value("file", std::string("(stored flow)"));
  spec::LoadResult loaded = spec::LoadFlowText(*text, file, overrides);
  std::vector<spec::Diagnostic> errors = loaded.errors;
  if (loaded.flow) {
    std::vector<spec::Diagnostic> more = flow::Preflight(*loaded.flow);
    errors.insert(errors.end(), more.begin(), more.end());
  }
  if (!errors.empty()) {
    for (const spec::Diagnostic& d : errors) std::cerr << d.ToString() << "\n";
    return fail("the stored flow of run " + run_id + " does not load; nothing was started");
  }
  Result<ResumePlan> planned = PlanFromFailure(*loaded.flow, *stored);
  if (!planned.ok()) return fail(planned.status().message());
  *flow = std::move(*loaded.flow);
  // A run of a matrix is resumed as the one combination it was.
  flow->matrix.clear();
  *flow_text = std::move(*text);
  *plan = std::move(planned).value();
  return true;
}

}  // namespace drone::cli
