// Standing environments: `drone up` runs only a flow's set-up steps (spec/setup_steps.h) and leaves
// what they started running, `drone status` lists what is up, `drone down` tears it down.
//
// What `up` starts lives in a holder: `up` re-executes its own binary (/proc/self/exe) as the
// hidden subcommand `drone __hold`, in a session of its own (setsid), with its stdout and stderr
// going to the environment's log. The holder loads the flow again, runs the set-up steps, tells
// `up` through an inherited pipe that they are ready (or why they failed), and then owns the
// clusters until SIGTERM or SIGINT (the embedded Kafka cluster lives in-process, so a process
// must stay alive; local servers are its children). It keeps an undo journal like every run
// (docs/teardown.md), created at once, so that `drone down` — or `drone clean` — can undo what a
// dead holder left. Files, under the data directory:
//   envs/NAME.json     the environment: name, flow, run id, holder pid and start time, outputs
//   envs/NAME.log      the holder's log
//   journal/RUN.jsonl  the holder's undo journal (owner: the holder; extra field "env": NAME)
//
// Thread-safety: called from main() only, once per process.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace drone::cli {

struct UpFlags {
  std::string flow_path;
  std::map<std::string, std::string> params;
  std::string name;       // empty: the flow's name
  std::string data_dir;
  int64_t ready_timeout_s = 300;  // how long `up` waits for the set-up steps
  bool json = false;      // print the environment as JSON (as `drone status --json` lists it)
};

// 0 once the environment is up; 2 for bad input (nothing left running); 3 when the set-up failed
// or took too long (then everything it started has been torn down).
int UpCommand(const UpFlags& flags);

// Tears down environment `name`, or every one with `all`: SIGTERM to the holder and a bounded
// wait for it to tear down; if it is dead (or does not finish), its journal is undone. 0 when
// everything is gone, 2 when there is no such environment, 3 when something could not be undone.
int DownCommand(const std::string& data_dir, const std::string& name, bool all,
                int64_t timeout_s);

// Lists the environments: name, flow, started, pid, alive, outputs.
int StatusCommand(const std::string& data_dir, bool json);

// For `drone clean`: forgets (removes envs/NAME.json and its log of) every environment whose
// holder is dead and whose journal is gone — cleaned, or never needed. Returns their names.
std::vector<std::string> ForgetDeadEnvironments(const std::string& data_dir);

// The `up`, `down`, `status` and hidden `__hold` subcommands of `app`, with their options and
// help. Run() returns the exit code of the one that was parsed, nullopt when none was.
class EnvSubcommands {
 public:
  explicit EnvSubcommands(CLI::App& app);
  std::optional<int> Run();

 private:
  UpFlags up_flags_;
  std::vector<std::string> up_params_;
  std::string down_name_;
  bool down_all_ = false;
  int64_t down_timeout_s_ = 120;
  std::string down_data_dir_;
  std::string status_data_dir_;
  bool status_json_ = false;
  // __hold (run by `up` only)
  UpFlags hold_flags_;
  std::vector<std::string> hold_params_;
  std::string hold_run_id_;
  int hold_ready_fd_ = -1;
  CLI::App* up_ = nullptr;
  CLI::App* down_ = nullptr;
  CLI::App* status_ = nullptr;
  CLI::App* hold_ = nullptr;
};

}  // namespace drone::cli
