#include "ui/flow_catalog.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>

#include "flow/preflight.h"
#include "spec/loader.h"

namespace drone::ui {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFlowSuffix = ".yaml";

const char* NeedStateName(spec::NeedState s) {
  switch (s) {
    case spec::NeedState::kSucceeded: return "succeeded";
    case spec::NeedState::kStarted: return "started";
    case spec::NeedState::kDone: return "done";
    case spec::NeedState::kFailed: return "failed";
  }
  return "succeeded";
}

nlohmann::json DiagnosticJson(const spec::Diagnostic& d) {
  return {{"line", d.loc.line},      {"column", d.loc.column}, {"field", d.field},
          {"message", d.message},    {"hint", d.hint},         {"text", d.ToString()}};
}

nlohmann::json StepJson(const spec::Step& s, bool is_finally) {
  nlohmann::json needs = nlohmann::json::array();
  for (const spec::Need& n : s.needs) needs.push_back({{"step", n.step}, {"state", NeedStateName(n.state)}});
  return {{"id", s.id},       {"kind", spec::StepKindName(s.kind)}, {"needs", needs},
          {"background", s.background}, {"finally", is_finally}, {"line", s.loc.line}};
}

// The declared parameters and their defaults, read from the YAML itself so that they are known
// even when the flow does not load.
nlohmann::json DeclaredParams(const std::string& path) {
  nlohmann::json out = nlohmann::json::object();
  try {
    YAML::Node root = YAML::LoadFile(path);
    YAML::Node params = root.IsMap() ? root["params"] : YAML::Node();
    if (params && params.IsMap()) {
      for (const auto& kv : params) {
        if (kv.second.IsScalar()) out[kv.first.as<std::string>()] = kv.second.as<std::string>();
      }
    }
  } catch (const YAML::Exception&) {
    // The loader reports the syntax error with its position.
  }
  return out;
}

std::vector<spec::Diagnostic> LoadErrors(const std::string& path,
                                         const std::map<std::string, std::string>& params,
                                         std::optional<spec::FlowSpec>* flow) {
  spec::LoadResult loaded = spec::LoadFlowFile(path, params);
  std::vector<spec::Diagnostic> errors = loaded.errors;
  if (loaded.flow) {
    std::vector<spec::Diagnostic> more = flow::Preflight(*loaded.flow);
    errors.insert(errors.end(), more.begin(), more.end());
  }
  *flow = std::move(loaded.flow);
  return errors;
}

}  // namespace

bool IsPlainName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

std::vector<std::string> ListFlowNames(const std::string& flows_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(flows_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string file = it->path().filename().string();
    if (!it->is_regular_file(ec) || file.size() <= 5 ||
        file.compare(file.size() - 5, 5, kFlowSuffix) != 0) {
      continue;
    }
    std::string name = file.substr(0, file.size() - 5);
    if (IsPlainName(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> FlowPath(const std::string& flows_dir, const std::string& name) {
  if (!IsPlainName(name)) return NotFound("no flow '" + name + "' (not a flow name)");
  fs::path path = fs::path(flows_dir) / (name + kFlowSuffix);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return NotFound("no flow '" + name + "' in " + flows_dir + "; GET /api/flows lists them");
  }
  return path.string();
}

nlohmann::json DescribeFlow(const std::string& name, const std::string& path) {
  std::optional<spec::FlowSpec> flow;
  std::vector<spec::Diagnostic> errors = LoadErrors(path, {}, &flow);
  nlohmann::json out = {{"name", name}, {"file", path}, {"params", DeclaredParams(path)}};
  nlohmann::json steps = nlohmann::json::array();
  if (flow) {
    out["title"] = flow->name;
    out["description"] = flow->description;
    for (const spec::Step& s : flow->steps) steps.push_back(StepJson(s, false));
    for (const spec::Step& s : flow->finally) steps.push_back(StepJson(s, true));
  } else {
    out["title"] = name;
    out["description"] = "";
  }
  out["steps"] = steps;
  nlohmann::json errs = nlohmann::json::array();
  for (const spec::Diagnostic& d : errors) errs.push_back(DiagnosticJson(d));
  out["errors"] = errs;
  return out;
}

nlohmann::json ValidateFlow(const std::string& path,
                            const std::map<std::string, std::string>& params) {
  std::optional<spec::FlowSpec> flow;
  std::vector<spec::Diagnostic> errors = LoadErrors(path, params, &flow);
  nlohmann::json errs = nlohmann::json::array();
  for (const spec::Diagnostic& d : errors) errs.push_back(DiagnosticJson(d));
  return {{"ok", errors.empty()}, {"errors", errs}};
}

}  // namespace drone::ui
