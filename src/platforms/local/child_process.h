// ChildProcess: one server process that Drone started (a broker node, a sentinel, HAProxy). It is
// spawned from an argv array (never a shell) in a process group of its own, with stdin from
// /dev/null and stdout/stderr appended to a log file, and with PR_SET_PDEATHSIG(SIGKILL) so that it
// dies with Drone. The death signal follows the thread that forked: every ChildProcess is forked by
// one long-lived spawner thread, so a child outlives the step thread that asked for it.
//
// Signals go to the whole process group (servers that fork helpers lose them too). Every exit is
// reaped: Stop() and Kill() return only once the process is gone, and the destructor kills what is
// still running.
//
// With a journal (ProcessSpec::journal), the process group is an undo-journal entry: the child is
// forked, its group journaled, and only then does it exec; the entry is marked done once the
// group is gone. So `drone clean` can stop what a killed Drone left (journal/undo_journal.h).
//
// Thread-safety: all member functions are safe to call from several threads (a fault's thread and
// the teardown thread); they serialise on an internal mutex.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace drone::journal {
class Journal;
}

namespace drone::platforms::local {

struct ProcessSpec {
  std::string name;               // for messages: "redis-1"
  std::vector<std::string> argv;  // argv[0]: a program name looked up in PATH, or a path
  std::map<std::string, std::string> env;  // added to (or replacing in) Drone's environment
  std::string cwd;                // empty: Drone's working directory
  std::string log_path;           // stdout and stderr are appended here; empty: /dev/null
  journal::Journal* journal = nullptr;  // not owned; outlives the process; null: not journaled
  std::string netns;              // a network namespace (under /run/netns) the child enters
                                  // before exec; empty: Drone's own
};

// The absolute path of `program` (a name looked up in $PATH, or a path with a '/'), or NotFound.
Result<std::string> FindExecutable(const std::string& program);

class ChildProcess {
 public:
  // Starts the process. Fails (NotFound, Internal) when the program cannot be found or executed;
  // then nothing is left running.
  static Result<std::unique_ptr<ChildProcess>> Start(const ProcessSpec& spec);

  ~ChildProcess();  // SIGKILL to the group if still running, then reaped
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const ProcessSpec& spec() const { return spec_; }

  // True while the process has not exited (reaps it if it has).
  bool Running();
  // Waits up to `timeout_ns` for the process to exit on its own; true when it has.
  bool WaitExit(int64_t timeout_ns);
  // "exited with status 1", "killed by signal 9", or "running".
  std::string DescribeExit();
  // The exit status once it exited normally; -1 while running or when killed by a signal.
  int ExitCode();

  // SIGTERM (after SIGCONT, in case it is paused), up to `grace_ns` to exit, then SIGKILL. Returns
  // when the process is reaped; OK also when it had already exited.
  Status Stop(int64_t grace_ns);
  // SIGKILL; returns when the process is reaped.
  Status Kill();
  // SIGSTOP / SIGCONT to the process group.
  Status Pause();
  Status Resume();
  bool paused() const;

  // The last `bytes` of the log file (for error messages when a server fails to start).
  std::string LogTail(size_t bytes) const;

 private:
  ChildProcess(ProcessSpec spec, pid_t pid, uint64_t journal_id)
      : spec_(std::move(spec)), pid_(pid), journal_id_(journal_id) {}
  // Both with mu_ held.
  bool PollExitLocked(bool block);
  void KillGroupAndReapLocked();
  // Once the group is gone: its journal entry is done.
  void JournalDoneLocked();

  const ProcessSpec spec_;
  const pid_t pid_;
  uint64_t journal_id_ = 0;      // guarded by mu_; 0: not journaled (or done)
  mutable std::mutex mu_;
  bool reaped_ = false;          // guarded by mu_
  int wait_status_ = 0;          // guarded by mu_; valid once reaped_
  bool paused_ = false;          // guarded by mu_
};

}  // namespace drone::platforms::local
