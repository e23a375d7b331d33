#include "cli/matrix_command.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <vector>

#include "cli/signals.h"
#include "cli/stored_run.h"
#include "core/clock.h"
#include "core/run_id.h"
#include "flow/engine.h"
#include "flow/preflight.h"
#include "flow/run_context.h"
#include "report/result.h"
#include "spec/loader.h"
#include "spec/matrix.h"
#include "store/run_store.h"

namespace drone::cli {
namespace {

using nlohmann::json;

constexpr int kExitBadInput = 2;
constexpr int kExitIncomplete = 3;

// Severity of an exit code: bad input, then could-not-complete, fail, unknown, pass.
int Severity(int code) {
  switch (code) {
    case 0:
      return 0;
    case 4:
      return 1;
    case 1:
      return 2;
    case 3:
      return 3;
    default:
      return 4;
  }
}

// Prints what matters while a matrix runs: faults, failures and failed checks, one line each.
class MatrixObserver : public flow::RunObserver {
 public:
  MatrixObserver(bool quiet, std::string label) : quiet_(quiet), label_(std::move(label)) {}
  void OnEvent(const flow::Event& e) override {
    if (quiet_) return;
    if (e.type != "FAULT_INJECTED" && e.type != "FAULT_HEALED" && e.type != "STEP_FAILURE" &&
        e.type != "CHECK_FAILED") {
      return;
    }
    std::fprintf(stderr, "  [%s] %-15s %s%s%s\n", label_.c_str(), e.type.c_str(), e.step.c_str(),
                 e.message.empty() ? "" : ": ", e.message.c_str());
  }

 private:
  const bool quiet_;
  const std::string label_;
};

std::string Number(const json& v, int digits) {
  if (!v.is_number()) return "-";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  char buf[32];
  snprintf(buf, sizeof(buf), "%.*f", digits, v.get<double>());
  return buf;
}

// Over all workloads of a result: rates and counts add up, latency is the worst workload's.
struct RowNumbers {
  json sent_per_s, received_per_s, p50, p99, lost, duplicated;
};

RowNumbers Summarize(const json& result) {
  RowNumbers n;
  auto workloads = result.find("workloads");
  if (workloads == result.end() || !workloads->is_object()) return n;
  double sent = 0, received = 0, p50 = 0, p99 = 0;
  int64_t lost = 0, duplicated = 0;
  bool any = false, latency = false, delivery = false;
  for (const auto& [id, w] : workloads->items()) {
    any = true;
    const json& t = w.value("throughput", json::object());
    sent += t.value("sent_per_s", 0.0);
    received += t.value("received_per_s", 0.0);
    const json& e2e = w.value("latency_ms", json::object()).value("end_to_end", json::object());
    if (e2e.value("count", 0) > 0) {
      latency = true;
      p50 = std::max(p50, e2e.value("p50", 0.0));
      p99 = std::max(p99, e2e.value("p99", 0.0));
    }
    if (w.value("delivery_checked", false)) {
      delivery = true;
      lost += w.value("delivery", json::object()).value("lost", int64_t{0});
      duplicated += w.value("delivery", json::object()).value("duplicated", int64_t{0});
    }
  }
  if (!any) return n;
  n.sent_per_s = sent;
  n.received_per_s = received;
  if (latency) {
    n.p50 = p50;
    n.p99 = p99;
  }
  if (delivery) {
    n.lost = lost;
    n.duplicated = duplicated;
  }
  return n;
}

std::string NewMatrixId() { return "m-" + NewRunId(); }

}  // namespace

int WorseExitCode(int a, int b) { return Severity(b) > Severity(a) ? b : a; }

std::string MatrixTable(const json& document) {
  const json& entries = document.at("matrix");
  std::vector<std::string> keys;
  for (const json& e : entries) {
    for (const auto& [k, v] : e.at("params").items()) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
  }
  if (document.contains("axes")) keys = document.at("axes").get<std::vector<std::string>>();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = keys;
  for (const char* h :
       {"verdict", "sent/s", "received/s", "e2e p50 ms", "e2e p99 ms", "lost", "duplicated"}) {
    header.push_back(h);
  }
  rows.push_back(header);
  for (const json& e : entries) {
    std::vector<std::string> row;
    for (const std::string& k : keys) row.push_back(e.at("params").value(k, std::string("-")));
    const json& result = e.at("result");
    if (result.is_null()) {
      row.push_back("not run");
      for (int i = 0; i < 6; ++i) row.push_back("-");
    } else {
      const RowNumbers n = Summarize(result);
      row.push_back(result.value("verdict", std::string("-")));
      row.push_back(Number(n.sent_per_s, 1));
      row.push_back(Number(n.received_per_s, 1));
      row.push_back(Number(n.p50, 2));
      row.push_back(Number(n.p99, 2));
      row.push_back(Number(n.lost, 0));
      row.push_back(Number(n.duplicated, 0));
    }
    rows.push_back(std::move(row));
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      // Parameters and the verdict read left to right; numbers line up on the right.
      const bool left = i <= keys.size();
      const std::string pad(widths[i] - row[i].size(), ' ');
      line += left ? row[i] + pad : pad + row[i];
      if (i + 1 < row.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

bool ValidateMatrix(const std::string& path, const std::map<std::string, std::string>& params,
                    const spec::FlowSpec& flow, json* combinations,
                    std::vector<spec::FlowSpec>* flows) {
  bool ok = true;
  *combinations = json::array();
  for (const spec::MatrixCombination& c : spec::MatrixCombinations(flow.matrix)) {
    std::map<std::string, std::string> overrides = params;
    for (const auto& [k, v] : c) overrides[k] = v;
    spec::LoadResult loaded = spec::LoadFlowFile(path, overrides);
    std::vector<spec::Diagnostic> errors = loaded.errors;
    if (loaded.flow) {
      std::vector<spec::Diagnostic> more = flow::Preflight(*loaded.flow);
      errors.insert(errors.end(), more.begin(), more.end());
    }
    if (!errors.empty()) {
      ok = false;
      std::cerr << "matrix combination " << spec::DescribeCombination(flow.matrix, c) << ":\n";
      for (const spec::Diagnostic& d : errors) std::cerr << "  " << d.ToString() << "\n";
    } else if (flows != nullptr) {
      flows->push_back(std::move(*loaded.flow));
    }
    combinations->push_back({{"params", c}, {"valid", errors.empty()}});
  }
  return ok;
}

int MatrixRunCommand(const RunFlags& flags, const spec::FlowSpec& base) {
  if (!flags.history_path.empty()) {
    std::cerr << "drone: --history is not available for a flow with a matrix (one history per "
                 "run would be needed); fix the matrix with -p to run one combination\n";
    return kExitBadInput;
  }
  const std::vector<spec::MatrixCombination> combinations = spec::MatrixCombinations(base.matrix);
  // Every combination is loaded and checked before the first one starts.
  std::vector<spec::FlowSpec> flows;
  json checked;
  if (!ValidateMatrix(flags.flow_path, flags.params, base, &checked, &flows)) {
    std::cerr << "drone: some matrix combinations of " << flags.flow_path
              << " are not valid; nothing was started\n";
    return kExitBadInput;
  }
  if (!flags.json_path.empty()) {
    std::ofstream probe(flags.json_path, std::ios::app);
    if (!probe) {
      std::cerr << "drone: cannot write --json file " << flags.json_path << "\n";
      return kExitBadInput;
    }
  }

  const std::string matrix_id = NewMatrixId();
  const std::string flow_text = ReadFlowText(flags.flow_path);
  std::unique_ptr<store::RunStore> store;
  if (!flags.no_store) {
    Result<std::unique_ptr<store::RunStore>> opened = store::RunStore::Open(flags.data_dir);
    if (opened.ok()) {
      store = std::move(opened).value();
    } else {
      std::cerr << "drone: warning: runs not stored: " << opened.status().message() << "\n";
    }
  }
  if (!flags.quiet) {
    std::cerr << "drone: running " << base.name << " as a matrix of " << combinations.size()
              << " combinations (matrix " << matrix_id << ")\n";
  }

  CancelToken cancel;
  SignalWatcher signals(cancel);
  std::random_device rd;
  json entries = json::array();
  int exit_code = 0;
  for (size_t i = 0; i < flows.size(); ++i) {
    const std::string label = spec::DescribeCombination(base.matrix, combinations[i]);
    if (cancel.cancelled()) {
      entries.push_back({{"params", combinations[i]}, {"result", nullptr}});
      exit_code = WorseExitCode(exit_code, kExitIncomplete);
      continue;
    }
    const uint64_t run_number =
        (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(NowNs());
    MatrixObserver observer(flags.quiet, label);
    flow::RunContext run(flows[i], NewRunId(), run_number, &observer, nullptr);
    if (!flags.quiet) {
      std::cerr << "drone: [" << i + 1 << "/" << flows.size() << "] " << label << " (run "
                << run.run_id() << ")\n";
    }
    flow::FlowEngine engine(run);
    flow::RunOutcome outcome = engine.Run(cancel);
    json result = report::BuildResult(run, outcome);
    result["matrix"] = {{"id", matrix_id},
                        {"index", i},
                        {"combinations", flows.size()},
                        {"params", combinations[i]}};
    if (store) {
      Status saved = store->SaveResult(result, RunExtrasOf(run, flow_text));
      if (!saved.ok()) std::cerr << "drone: warning: run not stored: " << saved.message() << "\n";
    }
    if (!flags.quiet) {
      std::cerr << "drone: [" << i + 1 << "/" << flows.size() << "] " << label << " -> "
                << result.value("verdict", std::string()) << "\n";
    }
    exit_code = WorseExitCode(exit_code, outcome.exit_code);
    entries.push_back({{"params", combinations[i]}, {"result", std::move(result)}});
  }

  std::vector<std::string> axes;
  for (const spec::MatrixAxis& a : base.matrix) axes.push_back(a.param);
  json document = {{"matrix_id", matrix_id},
                   {"flow", base.name},
                   {"axes", axes},
                   {"exit_code", exit_code},
                   {"matrix", std::move(entries)}};
  if (!flags.json_path.empty()) {
    std::ofstream out(flags.json_path, std::ios::trunc);
    out << document.dump(2) << "\n";
    if (!out) {
      std::cerr << "drone: writing " << flags.json_path << " failed\n";
      exit_code = WorseExitCode(exit_code, kExitIncomplete);
    }
  }
  if (!flags.quiet) {
    std::cout << "\nmatrix " << matrix_id << " (" << base.name << ")\n" << MatrixTable(document);
    if (cancel.cancelled()) std::cout << "interrupted: " << cancel.reason() << "\n";
    if (store) std::cout << "  (stored: drone runs list --matrix " << matrix_id << ")\n";
  }
  return exit_code;
}

}  // namespace drone::cli
