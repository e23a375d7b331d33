#include "report/result.h"

#include <cstdio>

#include "core/clock.h"

namespace drone::report {
namespace {

std::string Fixed(double v, int digits) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string Num(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_number_float()) return Fixed(v.get<double>(), v.get<double>() < 10 ? 2 : 1);
  return v.dump();
}

}  // namespace

nlohmann::json BuildResult(const flow::RunContext& run, const flow::RunOutcome& outcome) {
  nlohmann::json steps = nlohmann::json::array();
  for (const flow::StepRecord& r : outcome.steps) {
    nlohmann::json s = {{"id", r.id},
                        {"kind", r.kind},
                        {"status", flow::StepStatusName(r.status)},
                        {"started_at", r.started_ns ? nlohmann::json(FormatTimestamp(r.started_ns)) : nlohmann::json()},
                        {"finished_at", r.finished_ns ? nlohmann::json(FormatTimestamp(r.finished_ns)) : nlohmann::json()},
                        {"outputs", run.Outputs(r.id)}};
    if (r.finally) s["finally"] = true;
    s["attempts"] = r.attempts;
    if (r.reused) s["reused"] = true;
    if (!r.error.ok()) s["error"] = r.error.message();
    steps.push_back(std::move(s));
  }
  nlohmann::json workloads = nlohmann::json::object();
  for (const auto& [id, w] : run.Workloads()) {
    nlohmann::json j = w.result.ToJson();
    j["phases"] = workload::PhasesJson(w.result, run.FaultWindows());
    j["guarantee"] = verify::GuaranteeName(w.guarantee);
    if (w.result.consumed) {
      verify::Judgement judgement = verify::Judge(w.result.delivery, w.guarantee);
      j["verdict"] = verify::VerdictName(judgement.verdict);
      j["reasons"] = judgement.reasons;
    }
    workloads[id] = std::move(j);
  }
  nlohmann::json faults = nlohmann::json::array();
  for (const faults::FaultRecord& f : run.Faults()) faults.push_back(f.ToJson());
  nlohmann::json checks = nlohmann::json::array();
  for (const flow::CheckRecord& c : run.Checks()) {
    checks.push_back({{"step", c.step}, {"workload", c.workload}, {"expect", c.expect},
                      {"observed", c.observed}, {"passed", c.passed}, {"message", c.message}});
  }
  nlohmann::json artifacts = nlohmann::json::array();
  for (const flow::Artifact& a : run.Artifacts()) {
    artifacts.push_back({{"step", a.step}, {"name", a.name}, {"path", a.path}, {"bytes", a.bytes}});
  }
  nlohmann::json events = nlohmann::json::array();
  for (const flow::Event& e : run.Events()) events.push_back(e.ToJson());
  nlohmann::json result = {{"run_id", run.run_id()},
          {"flow", run.flow().name},
          {"file", run.flow().file},
          {"params", run.flow().params},
          {"verdict", verify::VerdictName(outcome.verdict)},
          {"exit_code", outcome.exit_code},
          {"reasons", outcome.reasons},
          {"started_at", FormatTimestamp(outcome.started_ns)},
          {"finished_at", FormatTimestamp(outcome.finished_ns)},
          {"steps", steps},
          {"workloads", workloads},
          {"faults", faults},
          {"checks", checks},
          {"events", events}};
  // Only runs that kept files have artifacts (a collect step ran).
  if (!artifacts.empty()) result["artifacts"] = std::move(artifacts);
  return result;
}

std::string HumanSummary(const nlohmann::json& result, bool color) {
  auto paint = [color](const std::string& text, const char* code) {
    return color ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
  };
  std::string out;
  for (const auto& [id, w] : result["workloads"].items()) {
    out += "\nworkload " + paint(id, "1") + " (" + w.value("guarantee", std::string()) + ")\n";
    out += "  messages   sent " + Num(w["sent"]) + "  acked " + Num(w["acked"]) + "  failed " +
           Num(w["failed"]) + "  indeterminate " + Num(w["indeterminate"]) + "  received " +
           Num(w["received"]) + "\n";
    // The three most frequent reasons sends did not succeed.
    if (w.contains("errors")) {
      size_t shown = 0;
      for (const nlohmann::json& e : w["errors"]) {
        if (shown++ == 3) break;
        out += std::string(shown == 1 ? "  errors     " : "             ") + Num(e["count"]) + " " +
               e.value("outcome", std::string()) + ": " + e.value("error", std::string()) + "\n";
      }
    }
    const nlohmann::json& d = w["delivery"];
    if (w.value("delivery_checked", false)) {
      std::string cats;
      for (const char* k : {"ok", "recovered", "unknown", "failed", "phantom", "lost", "unseen",
                            "duplicated", "reordered", "corrupt", "unexpected"}) {
        uint64_t v = d.value(k, uint64_t{0});
        if (v == 0 && std::string(k) != "ok" && std::string(k) != "lost") continue;
        std::string item = std::string(k) + " " + std::to_string(v);
        if (std::string(k) == "lost" && v > 0) {
          item += " (gap " + std::to_string(d.value("lost_gap", uint64_t{0})) + ", tail " +
                  std::to_string(d.value("lost_tail", uint64_t{0}));
          if (d.contains("lost_stored")) {
            item += "; the broker still holds " + std::to_string(d.value("lost_stored", int64_t{0}));
          }
          item += ")";
        }
        bool bad = v > 0 && std::string(k) != "ok" && std::string(k) != "recovered";
        cats += "  " + (bad ? paint(item, "31") : item);
      }
      out += "  delivery " + cats + "\n";
    } else {
      out += "  delivery   not checked (no consumers)\n";
    }
    for (const char* kind : {"publish", "end_to_end"}) {
      const nlohmann::json& l = w["latency_ms"][kind];
      if (l.value("count", 0) == 0) continue;
      out += std::string("  latency    ") + (std::string(kind) == "publish" ? "publish   " : "end-to-end") +
             "  p50 " + Num(l["p50"]) + " ms  p90 " + Num(l["p90"]) + "  p99 " + Num(l["p99"]) +
             "  p99.9 " + Num(l["p999"]) + "  max " + Num(l["max"]) + " ms\n";
    }
    const nlohmann::json& t = w["throughput"];
    out += "  throughput " + Num(t["sent_per_s"]) + " msg/s sent, " + Num(t["received_per_s"]) +
           " msg/s received, " + Num(t["mb_per_s"]) + " MB/s over " + Num(w["load_seconds"]) + " s\n";
  }
  if (!result["faults"].empty()) {
    out += "\nfaults\n";
    for (const nlohmann::json& f : result["faults"]) {
      out += "  " + f["step"].get<std::string>() + ": " + f["kind"].get<std::string>() + " " +
             f["target"].get<std::string>() + " via " + f["backend"].get<std::string>() + ", " +
             f["start"].get<std::string>().substr(11) + " .. " +
             (f["end"].is_null() ? std::string("(not healed)") : f["end"].get<std::string>().substr(11)) + "\n";
    }
  }
  if (!result["checks"].empty()) {
    out += "\nchecks\n";
    for (const nlohmann::json& c : result["checks"]) {
      bool passed = c["passed"].get<bool>();
      out += "  " + (passed ? paint("pass", "32") : paint("FAIL", "31")) + "  " +
             c["expect"].get<std::string>() + "  (observed " + c["observed"].dump() + ")\n";
    }
  }
  std::string verdict = result["verdict"].get<std::string>();
  const char* code = verdict == "pass" ? "1;32" : verdict == "fail" ? "1;31" : "1;33";
  out += "\nverdict " + paint(verdict, code) + "  (run " + result["run_id"].get<std::string>() + ")\n";
  for (const nlohmann::json& r : result["reasons"]) out += "  - " + r.get<std::string>() + "\n";
  return out;
}

}  // namespace drone::report
