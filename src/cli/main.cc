// drone — a test bench for message brokers. See README.md and docs/.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>

#include "cli/clean_command.h"
#include "cli/commands.h"
#include "cli/k8s_command.h"
#include "cli/report_command.h"
#include "cli/runs_command.h"
#include "cli/signals.h"
#include "cli/ui_command.h"
#include "cli/worker_command.h"
#include "core/log.h"
#include "journal/undo_journal.h"
#include "platforms/kubernetes/kubernetes_platform.h"

#ifndef DRONE_VERSION
#define DRONE_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  drone::cli::BlockTerminationSignals();
  drone::platforms::kubernetes::RegisterUndoKinds(drone::journal::UndoKindRegistry());
  drone::cli::IgnoreBrokenPipes();
  CLI::App app{
      "drone: a test bench for message brokers.\n"
      "Describe a test as a flow (YAML): a broker cluster, producers and consumers, faults while the\n"
      "load runs, checks. Drone runs it, measures throughput, latency and per-message delivery\n"
      "(lost, duplicated, reordered, corrupt), and tears everything down.\n\n"
      "Start here:  drone run flows/quickstart.yaml",
      "drone"};
  app.require_subcommand(1);
  app.set_version_flag("--version", DRONE_VERSION);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "more log output on stderr (-vv for debug)");

  drone::cli::RunFlags run_flags;
  std::vector<std::string> run_params;
  CLI::App* run = app.add_subcommand("run", "run a flow and print its result");
  run->add_option("flow", run_flags.flow_path, "flow file (YAML)")->check(CLI::ExistingFile);
  run->add_option("--from-failure", run_flags.from_failure,
                  "instead of FLOW: run stored run RUN_ID again from its failed step, reusing the\n"
                  "outputs of steps that succeeded and left nothing running (docs/store.md)");
  run->add_option("-p,--param", run_params, "override a flow parameter: -p rate=5000 (repeatable)");
  run->add_option("--json", run_flags.json_path, "write the result (DESIGN.md result contract) to FILE");
  run->add_option("--history", run_flags.history_path,
                  "write every send attempt and receive as JSON lines to FILE");
  run->add_flag("-q,--quiet", run_flags.quiet, "print nothing but errors (use with --json)");
  run_flags.data_dir = drone::cli::DefaultDataDir();
  run->add_option("--data-dir", run_flags.data_dir, "where the run store (runs.db) lives")
      ->capture_default_str();
  run->add_flag("--no-store", run_flags.no_store, "do not keep this run in the run store");
  run->add_option("--metrics-port", run_flags.metrics_port,
                  "serve Prometheus metrics on http://127.0.0.1:N/metrics while the flow runs\n"
                  "(0: any free port; the address is printed on stderr; see docs/metrics.md)")
      ->check(CLI::Range(0, 65535));
  run->add_option("--junit", run_flags.junit_path,
                  "write JUnit XML (one test case per check and per delivery verdict) to FILE");
  run->add_option("--workers", run_flags.workers,
                  "run workloads on N local `drone worker` processes (docs/workers.md)")
      ->check(CLI::Range(1, 64));
  run->add_option("--workers-at", run_flags.workers_at,
                  "run workloads on running workers: URL,URL (http://HOST:PORT)");
  run->add_option("--worker-token", run_flags.worker_token,
                  "token for --workers-at (default: $DRONE_WORKER_TOKEN)");
  run->add_option("--run-id", run_flags.run_id,
                  "the run's id (default: a new one, YYYYMMDD-HHMMSS-xxxx)");
  bool no_progress = false;
  run->add_flag("--no-progress", no_progress, "no live progress line, even on a terminal");
  run->add_option("--platform", run_flags.platform,
                  "run the flow's clusters on this platform instead (kubernetes)")
      ->check(CLI::IsMember({"kubernetes"}));
  run->add_option("--context", run_flags.kube_context, "--platform kubernetes: the kubeconfig context");
  run->add_option("--provider", run_flags.kube_provider,
                  "--platform kubernetes: the provider profile (eks, gke, aks, kind, ...)");
  run->add_option("--image", run_flags.kube_image, "--platform kubernetes: Drone's image for pods");
  run->footer(
      "Exit codes: 0 pass, 1 a check or the delivery verdict failed, 2 bad input (nothing was\n"
      "started), 3 the run could not complete (infrastructure error, interrupted), 4 verdict unknown\n"
      "(the drain did not catch up).");

  std::string validate_path;
  std::vector<std::string> validate_params;
  bool validate_json = false;
  CLI::App* validate = app.add_subcommand("validate", "check a flow without running it; print its steps");
  validate->add_option("flow", validate_path, "flow file (YAML)")->required()->check(CLI::ExistingFile);
  validate->add_option("-p,--param", validate_params, "override a flow parameter: -p rate=5000");
  validate->add_flag("--json", validate_json, "print the step graph as JSON");

  bool plugins_json = false;
  CLI::App* plugins = app.add_subcommand("plugins", "list built-in drivers, platforms and step kinds");
  plugins->add_flag("--json", plugins_json, "print as JSON");

  CLI::App* schema = app.add_subcommand(
      "schema", "print the JSON Schema (draft 2020-12) of the flow format, for editors and tools");

  std::string runs_action;
  std::vector<std::string> runs_ids;
  std::string runs_data_dir = drone::cli::DefaultDataDir();
  std::string runs_flow;
  std::string runs_verdict;
  int runs_limit = 50;
  bool runs_json = false;
  CLI::App* runs = app.add_subcommand(
      "runs", "stored runs: list, show RUN_ID, rm RUN_ID... (data: --data-dir, see docs/store.md)");
  runs->add_option("action", runs_action, "list | show | rm")->required();
  runs->add_option("ids", runs_ids, "run ids (show: one; rm: one or more)");
  runs->add_option("--data-dir", runs_data_dir, "where runs.db lives")->capture_default_str();
  runs->add_option("--flow", runs_flow, "list: only runs of this flow");
  runs->add_option("--verdict", runs_verdict, "list: only runs with this verdict (pass|fail|unknown)");
  std::string runs_matrix;
  runs->add_option("--matrix", runs_matrix, "list: only the runs of this matrix id");
  runs->add_option("--limit", runs_limit, "list: at most N runs, newest first (0: all)")
      ->capture_default_str();
  runs->add_flag("--json", runs_json, "print JSON (show: the stored result exactly)");

  std::string report_run_id;
  std::string report_output;
  std::string report_data_dir = drone::cli::DefaultDataDir();
  CLI::App* report_cmd = app.add_subcommand(
      "report", "write a stored run as one self-contained HTML file (charts, tables; opens offline)");
  report_cmd->add_option("run_id", report_run_id, "the run (drone runs list)")->required();
  report_cmd->add_option("-o,--output", report_output, "the HTML file to write")->required();
  report_cmd->add_option("--data-dir", report_data_dir, "where runs.db lives")->capture_default_str();
  std::string clean_data_dir = drone::cli::DefaultDataDir();
  bool clean_dry_run = false;
  bool clean_json = false;
  CLI::App* clean = app.add_subcommand(
      "clean",
      "undo what killed runs left behind (processes, directories), from their undo journals");
  clean->add_option("--data-dir", clean_data_dir, "where the journals live (DATA_DIR/journal)")
      ->capture_default_str();
  clean->add_flag("--dry-run", clean_dry_run, "only print what would be undone");
  clean->add_flag("--json", clean_json, "print what was done as JSON");
  bool clean_kubernetes = false;
  bool clean_all_hosts = false;
  std::string clean_context;
  clean->add_flag("--kubernetes", clean_kubernetes,
                  "also delete namespaces labelled app.kubernetes.io/managed-by=drone whose run is\n"
                  "not live (docs/platforms/kubernetes.md)");
  clean->add_option("--context", clean_context, "--kubernetes: the kubeconfig context");
  clean->add_flag("--all-hosts", clean_all_hosts, "--kubernetes: also runs started on other hosts");
  clean->footer(
      "Every run journals what outlives a step (a process group, a directory) before creating it.\n"
      "A run killed with SIGKILL cannot tear down; `drone clean` reads its journal and undoes the\n"
      "rest: process groups get SIGTERM, then SIGKILL; Drone's own directories are removed. The\n"
      "journal of a run that is still alive is left alone. See docs/teardown.md.");

  CLI::App* k8s = app.add_subcommand(
      "k8s", "Kubernetes: synthesise a flow's manifests, check a cluster (docs/platforms/kubernetes.md)");
  k8s->require_subcommand(1);
  drone::cli::K8sSynthFlags synth_flags;
  std::vector<std::string> synth_params;
  CLI::App* synth = k8s->add_subcommand(
      "synth", "write a flow's Kubernetes manifests, one file per phase, for kubectl or GitOps");
  synth->add_option("flow", synth_flags.flow_path, "flow file (YAML)")->required()->check(CLI::ExistingFile);
  synth->add_option("--provider", synth_flags.provider,
                    "eks, gke, gke-autopilot, aks, kind, minikube, k3s, microk8s, generic")
      ->capture_default_str();
  synth->add_option("-p,--param", synth_params, "override a flow parameter: -p rate=5000");
  synth->add_option("-o,--output", synth_flags.out_dir, "the directory to write")->required();
  synth->add_option("--run-id", synth_flags.run_id,
                    "the run id in names and labels (namespace drone-RUN_ID; default: the flow's name)");
  synth->add_option("--nodes", synth_flags.nodes,
                    "the cluster's schedulable nodes: with at least one per broker, anti-affinity is\n"
                    "required, otherwise preferred (default: unknown, preferred)")
      ->check(CLI::Range(0, 100000));
  synth->add_option("--image", synth_flags.image, "Drone's image for worker pods and the sidecar");
  synth->add_option("--storage-class", synth_flags.storage_class, "instead of the provider's");
  synth->add_option("--workers", synth_flags.workers,
                    "worker pods (default: one per producer and consumer, at most 3)")
      ->check(CLI::Range(0, 256));
  synth->add_option("--worker-token", synth_flags.worker_token,
                    "also write the Secret drone-worker-token with this token (default: left out;\n"
                    "create it beside the manifests: docs/platforms/kubernetes.md)");
  std::string doctor_context;
  std::string doctor_provider = "generic";
  CLI::App* doctor = k8s->add_subcommand(
      "doctor", "check kubectl, the API server, permissions, storage and load balancers; exit 2 on a problem");
  doctor->add_option("--context", doctor_context, "the kubeconfig context (default: the current one)");
  doctor->add_option("--provider", doctor_provider, "the provider profile to check for")->capture_default_str();

  drone::cli::WorkerFlags worker_flags;
  CLI::App* worker_cmd = app.add_subcommand(
      "worker",
      "serve the workload engine to coordinators over HTTP (docs/workers.md); prints its URL on\n"
      "the first line of stdout; runs until Ctrl-C or SIGTERM");
  worker_cmd->add_option("--listen", worker_flags.listen,
                         "HOST:PORT to listen on (port 0: any free one); other than loopback needs a token")
      ->capture_default_str();
  worker_cmd->add_option("--token", worker_flags.token,
                         "require 'Authorization: Bearer T' (default: $DRONE_WORKER_TOKEN)");
  worker_cmd->add_option("--port-file", worker_flags.port_file, "write the port to FILE once listening");
  worker_cmd->add_option("--max-shares", worker_flags.max_shares, "workload shares held at once (1..64)")
      ->capture_default_str();

  drone::ui::UiOptions ui_options;
  ui_options.data_dir = drone::cli::DefaultDataDir();
  ui_options.flows_dir = "flows";
  CLI::App* ui_cmd = app.add_subcommand(
      "ui", "serve the web UI and its REST API (flows, launchpad, live runs, history, compare)");
  ui_cmd->add_option("--data-dir", ui_options.data_dir, "where runs.db lives")->capture_default_str();
  ui_cmd->add_option("--flows", ui_options.flows_dir, "the directory of flows to offer")
      ->capture_default_str();
  ui_cmd->add_option("--host", ui_options.host, "address to listen on (not loopback: needs --token)")
      ->capture_default_str();
  ui_cmd->add_option("--port", ui_options.port, "port (0: any free one)")
      ->capture_default_str()->check(CLI::Range(0, 65535));
  ui_cmd->add_option("--token", ui_options.token,
                     "require this token on every request (Authorization: Bearer, or ?token=)");

  int brokers = 3;
  std::vector<std::string> topics;
  CLI::App* embedded = app.add_subcommand(
      "embedded-kafka",
      "run an embedded Kafka cluster in the foreground until Ctrl-C; prints its bootstrap\n"
      "addresses on the first line of stdout (for kcat and other clients)");
  embedded->add_option("--brokers", brokers, "number of brokers (1..16)")->capture_default_str();
  embedded->add_option("--topic", topics, "create a topic: name[:partitions[:replication]] (repeatable)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (verbosity > 0) {
    drone::SetLogLevel(verbosity >= 2 ? drone::LogLevel::kDebug : drone::LogLevel::kInfo);
  }
  if (run->parsed()) {
    if (run_flags.flow_path.empty() == run_flags.from_failure.empty()) {
      std::cerr << "drone run: give a flow file or --from-failure RUN_ID (not both)\n";
      return 2;
    }
    run_flags.progress = !no_progress;
    if (!drone::cli::ParseParams(run_params, &run_flags.params)) return 2;
    return drone::cli::RunCommand(run_flags);
  }
  if (validate->parsed()) {
    std::map<std::string, std::string> params;
    if (!drone::cli::ParseParams(validate_params, &params)) return 2;
    return drone::cli::ValidateCommand(validate_path, params, validate_json);
  }
  if (plugins->parsed()) return drone::cli::PluginsCommand(plugins_json);
  if (schema->parsed()) return drone::cli::SchemaCommand();
  if (runs->parsed()) {
    return drone::cli::RunsCommand(runs_data_dir, runs_action, runs_ids, runs_json, runs_flow,
                                   runs_verdict, runs_limit, runs_matrix);
  }
  if (ui_cmd->parsed()) return drone::cli::UiCommand(ui_options);
  if (report_cmd->parsed()) {
    return drone::cli::ReportCommand(report_data_dir, report_run_id, report_output);
  }
  if (clean->parsed()) {
    const int journals = drone::cli::CleanCommand(clean_data_dir, clean_dry_run, clean_json);
    if (!clean_kubernetes) return journals;
    const int namespaces = drone::cli::CleanKubernetesCommand(clean_context, clean_all_hosts);
    return std::max(journals, namespaces);
  }
  if (embedded->parsed()) return drone::cli::EmbeddedKafkaCommand(brokers, topics);
  if (synth->parsed()) {
    if (!drone::cli::ParseParams(synth_params, &synth_flags.params)) return 2;
    return drone::cli::K8sSynthCommand(synth_flags);
  }
  if (doctor->parsed()) return drone::cli::K8sDoctorCommand(doctor_context, doctor_provider);
  if (worker_cmd->parsed()) return drone::cli::WorkerCommand(worker_flags);
  return 2;
}
