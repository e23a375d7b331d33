// `drone` subcommands. Each returns the process exit code (DESIGN.md: 0 pass, 1 fail, 2 bad input,
// 3 could not complete, 4 unknown). Called from main() only.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace drone::cli {

struct RunFlags {
  std::string flow_path;
  std::map<std::string, std::string> params;
  std::string json_path;
  std::string history_path;
  bool quiet = false;
  bool progress = true;  // live line on a TTY
  std::string data_dir;  // run store; see docs/store.md
  bool no_store = false;
  int metrics_port = -1;   // >= 0: serve GET /metrics on 127.0.0.1 (0: an ephemeral port)
  std::string junit_path;  // JUnit XML of the checks and delivery verdicts
  int workers = 0;          // > 0: run workloads on this many local `drone worker` processes
  std::string workers_at;   // or on these running workers (URL,URL); docs/workers.md
  std::string worker_token;
  std::string run_id;      // empty: a new one (`drone ui` passes the id it returned)
  std::string from_failure;  // a stored run id: resume it (cli/from_failure.h) instead of flow_path
  // --platform kubernetes: the flow's clusters run there (cli/k8s_command.h).
  std::string platform;
  std::string kube_context;
  std::string kube_provider;
  std::string kube_image;
};

int RunCommand(const RunFlags& flags);
int ValidateCommand(const std::string& flow_path, const std::map<std::string, std::string>& params,
                    bool json);
int PluginsCommand(bool json);
// Prints the JSON Schema of the flow format (spec/flow_schema.h).
int SchemaCommand();
int EmbeddedKafkaCommand(int brokers, const std::vector<std::string>& topics);

// Parses "key=value" items of -p; on error prints a message and returns false.
bool ParseParams(const std::vector<std::string>& items, std::map<std::string, std::string>* out);

}  // namespace drone::cli
