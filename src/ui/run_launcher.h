// Starts flows for the UI: each run is `drone run FLOW --run-id ID --data-dir DIR
// --metrics-port 0 -p ...` as a child process (platforms/local/child_process.h: argv, never a shell; its own process group;
// PR_SET_PDEATHSIG so it dies with the server), its output in a log file in a temporary directory
// of the launcher's own. A reaper thread collects children as they exit. The destructor stops
// the runs still going (SIGTERM, so they tear down what they started, then SIGKILL after a
// grace period), and removes the temporary directory. A run that ended without undoing what it
// created (killed, or still tearing down when the grace period ran out) leaves its undo journal;
// the launcher then undoes it as `drone clean` would (journal/undo_journal.h), so that no server,
// run directory or lab network of a UI-started run outlives it.
//
// Thread-safety: all member functions are safe to call from several threads.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "platforms/local/child_process.h"

namespace drone::ui {

struct LaunchState {
  bool running = false;
  int exit_code = -1;    // once exited normally
  std::string exit;      // "exited with status 1", "running", ...
  std::string log_tail;  // the last few KiB of its output
};

class RunLauncher {
 public:
  // `drone_path`: the drone binary; `data_dir`: the run store the runs write to.
  static Result<std::unique_ptr<RunLauncher>> Create(std::string drone_path, std::string data_dir);
  ~RunLauncher();
  RunLauncher(const RunLauncher&) = delete;
  RunLauncher& operator=(const RunLauncher&) = delete;

  // Starts the flow at `flow_path` with `params`; returns the new run's id.
  Result<std::string> Launch(const std::string& flow_path,
                             const std::map<std::string, std::string>& params);

  // What became of a run this launcher started; nullopt for runs it did not start.
  std::optional<LaunchState> State(const std::string& run_id);
  int running() const;
  int launched() const;
  // The metrics ports of the runs still going (each serves its own /metrics on loopback), as
  // each printed it; a run that has not printed it yet is left out.
  std::vector<int> MetricsPorts();

 private:
  RunLauncher(std::string drone_path, std::string data_dir, std::string temp_dir);
  void ReapLoop();
  // Undoes what run `run_id`'s journal still lists, if its owner is gone.
  void CleanAfter(const std::string& run_id) const;

  const std::string drone_path_;
  const std::string data_dir_;
  const std::string temp_dir_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<platforms::local::ChildProcess>> children_;  // GUARDED_BY(mu_)
  std::map<std::string, bool> running_;  // GUARDED_BY(mu_)
  std::map<std::string, std::string> log_paths_;  // GUARDED_BY(mu_)
  std::map<std::string, int> metrics_ports_;      // GUARDED_BY(mu_); once read from the log
  std::thread reaper_;
};

}  // namespace drone::ui
