#include "cli/commands.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/k8s_command.h"
#include "cli/from_failure.h"
#include "cli/live_observer.h"
#include "cli/matrix_command.h"
#include "cli/signals.h"
#include "cli/stored_run.h"
#include "cli/worker_command.h"
#include "core/clock.h"
#include "core/run_id.h"
#include "core/log.h"
#include "drivers/builtin_drivers.h"
#include "flow/engine.h"
#include "flow/preflight.h"
#include "flow/run_context.h"
#include "flow/step_executor.h"
#include "journal/undo_journal.h"
#include "platforms/builtin_platforms.h"
#include "metrics/metrics_http_server.h"
#include "metrics/prometheus.h"
#include "report/junit.h"
#include "report/result.h"
#include "report/run_metrics.h"
#include "spec/flow_schema.h"
#include "spec/loader.h"
#include "spec/matrix.h"
#include "store/run_store.h"
#include "workload/history.h"

namespace drone::cli {
namespace {

constexpr int kExitBadInput = 2;
constexpr int kExitIncomplete = 3;

// Loads, validates and preflights a flow; prints every problem; nullopt when there was one.
std::optional<spec::FlowSpec> LoadChecked(
    const std::string& path, const std::map<std::string, std::string>& params,
    const std::function<void(spec::FlowSpec&)>& adjust = nullptr) {
  spec::LoadResult loaded = spec::LoadFlowFile(path, params);
  std::vector<spec::Diagnostic> errors = loaded.errors;
  if (loaded.flow && adjust) adjust(*loaded.flow);
  if (loaded.flow) {
    std::vector<spec::Diagnostic> more = flow::Preflight(*loaded.flow);
    errors.insert(errors.end(), more.begin(), more.end());
  }
  if (errors.empty() && loaded.flow) return loaded.flow;
  for (const spec::Diagnostic& d : errors) std::cerr << d.ToString() << "\n";
  std::cerr << "drone: " << errors.size() << (errors.size() == 1 ? " problem" : " problems")
            << " in " << path << "; nothing was started\n";
  return std::nullopt;
}

std::string Rate(uint64_t per_s) {
  char buf[32];
  if (per_s >= 10000) {
    snprintf(buf, sizeof(buf), "%.1fk", static_cast<double>(per_s) / 1000);
  } else {
    snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(per_s));
  }
  return buf;
}

// Prints events as lines and, on a TTY, one live progress line per workload second.
class ConsoleObserver : public flow::RunObserver {
 public:
  ConsoleObserver(bool quiet, bool live) : quiet_(quiet), live_(live), start_ns_(NowNs()) {}

  void OnEvent(const flow::Event& e) override {
    if (quiet_) return;
    static const std::set<std::string> kShown = {"FAULT_INJECTED", "FAULT_HEALED", "STEP_FAILURE",
                                                 "CHECK_FAILED", "STEP_START", "UNDO"};
    if (kShown.count(e.type) == 0) return;
    if (e.type == "STEP_START" && e.message.find("workload") == std::string::npos &&
        e.message.find("cluster") == std::string::npos) {
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    ClearLine();
    char t[32];
    snprintf(t, sizeof(t), "%7.1fs", static_cast<double>(e.t_ns - start_ns_) / kNsPerSec);
    std::string what = e.step;
    if (!e.message.empty()) what += (what.empty() ? "" : ": ") + e.message;
    std::fprintf(stderr, "%s  %-15s %s\n", t, e.type.c_str(), what.c_str());
  }

  void OnWorkloadSecond(const std::string& step, const workload::SeriesPoint& p,
                        const workload::LiveTotals& totals, double elapsed_s, double planned_s,
                        bool draining) override {
    if (quiet_ || !live_) return;
    std::lock_guard<std::mutex> lock(mu_);
    char line[256];
    std::string when = draining ? "draining" :
                       planned_s > 0 ? Fixed(elapsed_s) + "/" + Fixed(planned_s) + "s" : Fixed(elapsed_s) + "s";
    snprintf(line, sizeof(line),
             "  %s %s  sent %s/s acked %s/s recv %s/s  lag %lld  failed %llu indet %llu  e2e p99 %.1fms",
             step.c_str(), when.c_str(), Rate(p.sent).c_str(), Rate(p.acked).c_str(),
             Rate(p.received).c_str(), static_cast<long long>(p.lag),
             static_cast<unsigned long long>(totals.failed),
             static_cast<unsigned long long>(totals.indeterminate), p.end_to_end.p99_ms);
    std::fprintf(stderr, "\r\033[2K%s", line);
    std::fflush(stderr);
    line_open_ = true;
  }

  void Finish() {
    std::lock_guard<std::mutex> lock(mu_);
    ClearLine();
  }

 private:
  static std::string Fixed(double v) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  void ClearLine() {
    if (line_open_) std::fprintf(stderr, "\r\033[2K");
    line_open_ = false;
  }

  const bool quiet_;
  const bool live_;
  const int64_t start_ns_;
  std::mutex mu_;
  bool line_open_ = false;
};

}  // namespace

bool ParseParams(const std::vector<std::string>& items, std::map<std::string, std::string>* out) {
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "drone: -p expects key=value, got '" << item << "'\n";
      return false;
    }
    (*out)[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return true;
}

int ValidateCommand(const std::string& flow_path, const std::map<std::string, std::string>& params,
                    bool json) {
  std::optional<spec::FlowSpec> flow = LoadChecked(flow_path, params);
  if (!flow) return kExitBadInput;
  nlohmann::json combinations = nlohmann::json::array();
  if (!flow->matrix.empty() && !ValidateMatrix(flow_path, params, *flow, &combinations)) {
    std::cerr << "drone: some matrix combinations of " << flow_path << " are not valid\n";
    return kExitBadInput;
  }
  if (json) {
    nlohmann::json steps = nlohmann::json::array();
    for (const spec::Step& s : flow->steps) {
      nlohmann::json needs = nlohmann::json::array();
      for (const spec::Need& n : s.needs) needs.push_back(n.step);
      steps.push_back({{"id", s.id}, {"kind", spec::StepKindName(s.kind)}, {"needs", needs},
                       {"background", s.background}});
      if (!s.when.empty()) steps.back()["when"] = s.when;
      if (s.retry.limit > 0) steps.back()["retry"] = s.retry.limit;
    }
    nlohmann::json out = {{"flow", flow->name}, {"valid", true}, {"steps", steps}};
    if (!flow->matrix.empty()) out["matrix"] = combinations;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << flow->name << ": valid, " << flow->steps.size() << " steps\n";
  static const char* kStates[] = {"", ".started", ".done", ".failed"};
  for (const spec::Step& s : flow->steps) {
    std::cout << "  " << s.id << " (" << spec::StepKindName(s.kind) << (s.background ? ", background" : "") << ")";
    if (!s.needs.empty()) {
      std::cout << " <- ";
      for (size_t i = 0; i < s.needs.size(); ++i) {
        std::cout << (i ? ", " : "") << s.needs[i].step << kStates[static_cast<int>(s.needs[i].state)];
      }
    }
    if (!s.when.empty()) std::cout << " when " << s.when;
    if (s.retry.limit > 0) std::cout << " retry " << s.retry.limit;
    std::cout << "\n";
  }
  for (const spec::Step& s : flow->finally) {
    std::cout << "  finally " << s.id << " (" << spec::StepKindName(s.kind) << ")\n";
  }
  if (!flow->matrix.empty()) {
    std::cout << "matrix: " << combinations.size() << " combinations, each a run\n";
    for (const nlohmann::json& c : combinations) {
      std::cout << "  " << spec::DescribeCombination(flow->matrix, c["params"]) << "\n";
    }
  }
  return 0;
}

int RunCommand(const RunFlags& flags) {
  if (!flags.run_id.empty()) {
    bool plain = flags.run_id.size() <= 64 && flags.run_id.find_first_not_of(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == std::string::npos;
    if (!plain) {
      std::cerr << "drone: --run-id '" << flags.run_id
                << "': use at most 64 letters, digits, '.', '_' or '-'; nothing was started\n";
      return kExitBadInput;
    }
  }
  std::optional<spec::FlowSpec> flow;
  std::string flow_text;
  ResumePlan resume;
  if (!flags.from_failure.empty()) {
    flow.emplace();
    if (!PrepareFromFailure(flags.data_dir, flags.from_failure, flags.params, &*flow, &flow_text,
                            &resume)) {
      return kExitBadInput;
    }
  } else {
    std::function<void(spec::FlowSpec&)> adjust;
    if (flags.platform == "kubernetes") {
      adjust = [&flags](spec::FlowSpec& f) {
        MoveClustersToKubernetes(f, flags.kube_context, flags.kube_provider, flags.kube_image);
      };
    }
    flow = LoadChecked(flags.flow_path, flags.params, adjust);
    if (!flow) return kExitBadInput;
    if (!flow->matrix.empty()) return MatrixRunCommand(flags, *flow);
    flow_text = ReadFlowText(flags.flow_path);
  }
  std::unique_ptr<workload::HistoryWriter> history;
  if (!flags.history_path.empty()) {
    auto opened = workload::HistoryWriter::Open(flags.history_path);
    if (!opened.ok()) {
      std::cerr << "drone: " << opened.status().message() << "\n";
      return kExitBadInput;
    }
    history = std::move(opened).value();
  }
  // Fail now, not after a long run, when an output cannot be written.
  for (const auto& [option, path] : {std::pair{"--json", &flags.json_path},
                                     std::pair{"--junit", &flags.junit_path}}) {
    if (path->empty()) continue;
    std::ofstream probe(*path, std::ios::app);
    if (!probe) {
      std::cerr << "drone: cannot write " << option << " file " << *path << "\n";
      return kExitBadInput;
    }
  }

  const std::string run_id = flags.run_id.empty() ? NewRunId() : flags.run_id;
  // The undo journal (docs/teardown.md): written before anything outlives a step (or the local
  // workers' directory), so that `drone clean` can undo it should this process be killed.
  // Nothing is written until then.
  Result<std::unique_ptr<journal::Journal>> journal =
      journal::Journal::Create(flags.data_dir, run_id, flow->name);
  if (!journal.ok()) {
    std::cerr << "drone: cannot keep an undo journal: " << journal.status().message() << "\n";
    return kExitIncomplete;
  }

  // Workers before anything else starts: a bad address is bad input.
  RunWorkers workers;
  if (flags.workers > 0 || !flags.workers_at.empty()) {
    if (history) {
      std::cerr << "drone: --history is not available with workers yet (each worker would have to "
                   "ship its history); run without --workers for it\n";
      return kExitBadInput;
    }
    Result<RunWorkers> started =
        StartRunWorkers(flags.workers, flags.workers_at, flags.worker_token, journal->get());
    if (!started.ok()) {
      std::cerr << "drone: " << started.status().message() << "; nothing was started\n";
      return started.status().code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitIncomplete;
    }
    workers = std::move(*started);
    if (!flags.quiet) {
      std::cerr << "drone: workloads run on " << workers.addresses.size() << " worker"
                << (workers.addresses.size() == 1 ? "" : "s");
      if (workers.pool) {
        std::cerr << " (pids";
        for (int pid : workers.pool->pids()) std::cerr << " " << pid;
        std::cerr << ")";
      }
      std::cerr << "\n";
    }
  }

  CancelToken cancel;
  SignalWatcher signals(cancel);
  bool tty = isatty(STDERR_FILENO) != 0;
  ConsoleObserver observer(flags.quiet, flags.progress && tty);
  metrics::PrometheusRegistry metrics_registry;
  report::RunMetrics run_metrics(metrics_registry, &observer);
  std::unique_ptr<metrics::MetricsHttpServer> metrics_server;
  if (flags.metrics_port >= 0) {
    auto started = metrics::MetricsHttpServer::Start("127.0.0.1", flags.metrics_port, metrics_registry);
    if (!started.ok()) {
      std::cerr << "drone: --metrics-port: " << started.status().message() << "; nothing was started\n";
      return kExitBadInput;
    }
    metrics_server = std::move(started).value();
    std::cerr << "drone: metrics on " << metrics_server->url() << "\n";
  }
  flow::RunObserver* first_observer = metrics_server ? static_cast<flow::RunObserver*>(&run_metrics) : &observer;
  std::random_device rd;
  uint64_t run_number = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(NowNs());
  // The live run log lets `drone ui` follow the run; without it the run is shown once stored.
  std::unique_ptr<LiveObserver> live;
  if (!flags.no_store) {
    auto opened = store::LiveRunLog::Open(flags.data_dir);
    if (opened.ok() && (*opened)->Begin({run_id, flow->name, FormatTimestamp(NowNs()), getpid()}).ok()) {
      live = std::make_unique<LiveObserver>(std::move(opened).value(), run_id, first_observer);
      first_observer = live.get();
    }
  }
  flow::RunContext run(*flow, run_id, run_number, first_observer, history.get());
  run_metrics.Attach(run);
  run.SetWorkers(workers.addresses);
  if (workers.pool) run.SetLocalWorkerCount(static_cast<int>(workers.addresses.size()));
  if (!flags.from_failure.empty()) run.SetReused(resume.reused, flags.from_failure);
  run.AttachJournal(journal->get());
  // Where `collect` keeps files: beside the run store, or (store off) a temporary directory that
  // goes when drone does. Created only when a step needs it.
  const bool temporary_run_dir = flags.no_store || flags.data_dir.empty();
  run.SetRunDir(temporary_run_dir ? (std::filesystem::temp_directory_path() /
                                     ("drone-run-" + run.run_id())).string()
                                  : (std::filesystem::path(flags.data_dir) / "runs" /
                                     run.run_id()).string(),
                temporary_run_dir);
  if (!flags.quiet) {
    std::cerr << "drone: running " << flow->name << " (run " << run.run_id() << ")\n";
    if (!flags.from_failure.empty()) {
      std::cerr << "drone: from the failure of run " << flags.from_failure << ": reusing "
                << resume.reused.size() << " steps, running " << resume.rerun.size() << " again\n";
    }
  }
  flow::FlowEngine engine(run);
  flow::RunOutcome outcome = engine.Run(cancel);
  observer.Finish();
  int exit_code = outcome.exit_code;
  workers.pool.reset();  // stops the local workers and removes their (journaled) directory
  const size_t left_open = (*journal)->open_entries();
  Status journal_closed = (*journal)->Close();
  if (!journal_closed.ok()) std::cerr << "drone: " << journal_closed.message() << "\n";
  if (left_open > 0) {
    std::cerr << "drone: " << left_open << " undo action(s) failed; `drone clean --data-dir "
              << flags.data_dir << "` retries them (journal " << (*journal)->path() << ")\n";
  }
  if (history) {
    Status s = history->Close();
    if (!s.ok()) {
      std::cerr << "drone: " << s.message() << "\n";
      exit_code = kExitIncomplete;
    }
  }
  nlohmann::json result = report::BuildResult(run, outcome);
  if (!flags.from_failure.empty()) {
    result["from_failure"] = {{"run_id", flags.from_failure}, {"rerun", resume.rerun}};
  }
  if (!flags.json_path.empty()) {
    std::ofstream out(flags.json_path, std::ios::trunc);
    out << result.dump(2) << "\n";
    if (!out) {
      std::cerr << "drone: writing " << flags.json_path << " failed\n";
      exit_code = kExitIncomplete;
    }
  }
  if (!flags.junit_path.empty()) {
    std::ofstream out(flags.junit_path, std::ios::trunc);
    out << report::JunitXml(result);
    if (!out) {
      std::cerr << "drone: writing " << flags.junit_path << " failed\n";
      exit_code = kExitIncomplete;
    }
  }
  if (!flags.no_store) {
    // Keeping the run is a convenience: a store problem is reported but does not change the
    // verdict or the exit code.
    Result<std::unique_ptr<store::RunStore>> opened = store::RunStore::Open(flags.data_dir);
    Status saved =
        opened.ok() ? (*opened)->SaveResult(result, RunExtrasOf(run, flow_text)) : opened.status();
    if (!saved.ok()) std::cerr << "drone: warning: run not stored: " << saved.message() << "\n";
    if (live) live->Finish();
  }
  if (!flags.quiet) {
    std::cout << report::HumanSummary(result, isatty(STDOUT_FILENO) != 0);
    if (!flags.no_store) std::cout << "  (stored: drone runs show " << run.run_id() << ")\n";
  }
  if (temporary_run_dir) {
    std::error_code ec;
    std::filesystem::remove_all(run.run_dir(), ec);
  }
  return exit_code;
}

int PluginsCommand(bool json) {
  nlohmann::json out = {{"drivers", nlohmann::json::object()},
                        {"platforms", nlohmann::json::object()},
                        {"step_kinds", nlohmann::json::object()}};
  for (const auto& [name, d] : drivers::DriverRegistry().List()) out["drivers"][name] = d;
  for (const auto& [name, d] : platforms::PlatformRegistry().List()) out["platforms"][name] = d;
  for (const auto& [name, d] : flow::StepKindRegistry().List()) out["step_kinds"][name] = d;
  if (json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const char* section : {"drivers", "platforms", "step_kinds"}) {
    std::cout << section << ":\n";
    for (const auto& [name, d] : out[section].items()) {
      std::cout << "  " << name << std::string(name.size() < 14 ? 14 - name.size() : 1, ' ')
                << d.get<std::string>() << "\n";
    }
  }
  return 0;
}

int SchemaCommand() {
  std::cout << spec::FlowJsonSchema().dump(2) << "\n";
  return 0;
}

int EmbeddedKafkaCommand(int brokers, const std::vector<std::string>& topics) {
  Result<std::unique_ptr<platforms::Platform>> platform = platforms::PlatformRegistry().Create("embedded");
  platforms::ClusterRequest request{"standalone", "kafka", brokers, ""};
  Status valid = (*platform)->Validate(request);
  if (!valid.ok()) {
    std::cerr << "drone: " << valid.message() << "\n";
    return kExitBadInput;
  }
  std::vector<drivers::TopicRequest> wanted;
  for (const std::string& t : topics) {
    // name[:partitions[:replication]]
    drivers::TopicRequest r;
    size_t a = t.find(':');
    r.name = t.substr(0, a);
    r.partitions = 1;
    r.replication = std::min(brokers, 3);
    try {
      if (a != std::string::npos) {
        size_t b = t.find(':', a + 1);
        r.partitions = std::stoi(t.substr(a + 1, b - a - 1));
        if (b != std::string::npos) r.replication = std::stoi(t.substr(b + 1));
      }
    } catch (const std::exception&) {
      std::cerr << "drone: --topic expects name[:partitions[:replication]], got '" << t << "'\n";
      return kExitBadInput;
    }
    if (r.name.empty() || r.partitions < 1 || r.replication < 1 || r.replication > brokers) {
      std::cerr << "drone: bad --topic '" << t << "'\n";
      return kExitBadInput;
    }
    wanted.push_back(r);
  }
  CancelToken cancel;
  SignalWatcher signals(cancel);
  Result<std::unique_ptr<platforms::Cluster>> cluster = (*platform)->CreateCluster(request);
  if (!cluster.ok()) {
    std::cerr << "drone: " << cluster.status().message() << "\n";
    return kExitIncomplete;
  }
  for (const drivers::TopicRequest& r : wanted) {
    Status s = (*cluster)->CreateTopic(r);
    if (!s.ok()) {
      std::cerr << "drone: " << s.message() << "\n";
      return kExitIncomplete;
    }
  }
  // The first stdout line is the bootstrap list: scripts read it.
  std::cout << (*cluster)->Endpoint().bootstrap << std::endl;
  std::cerr << "drone: embedded Kafka with " << brokers << " brokers is up; Ctrl-C (or SIGTERM) stops it\n";
  while (!cancel.WaitFor(3600 * kNsPerSec)) {
  }
  Status stopped = (*cluster)->Stop();
  return stopped.ok() ? 0 : kExitIncomplete;
}

}  // namespace drone::cli
