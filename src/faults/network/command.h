// Running the network tools (`ip`, `tc`, `iptables`) and test programs, optionally inside a
// network namespace: argv arrays only, never a shell. A forked child enters the namespace with
// setns() before exec, dies with Drone (PR_SET_PDEATHSIG) and leads its own process group, so a
// kill reaches everything it started. Thread-safe: every call forks its own child.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace drone::faults::network {

struct CommandResult {
  int exit_code = -1;  // 128 + signal number when a signal ended it
  std::string output;  // stdout and stderr, interleaved, at most 64 KiB
};

// Runs argv (argv[0] looked up in PATH) to completion, inside the namespace named `netns` (as
// under /run/netns) when it is not empty. Errors: the program is missing, the namespace does not
// exist, or the timeout passed (the child's process group is killed and reaped).
Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 const std::string& netns = "",
                                 int64_t timeout_ns = 10'000'000'000);

// RunCommand that also fails on a non-zero exit, with the command line and its output.
Status RunChecked(const std::vector<std::string>& argv, const std::string& netns = "",
                  int64_t timeout_ns = 10'000'000'000);

// One command line for messages: words joined by spaces (for reading only, never for a shell).
std::string CommandLine(const std::vector<std::string>& argv);

// A child process in a namespace, running in the background. Its stdout and stderr go to
// /dev/null. The destructor kills its process group (SIGKILL) and reaps it.
// Thread-safety: one owner; Stop() and the destructor are not concurrent with each other.
class NetnsProcess {
 public:
  static Result<NetnsProcess> Spawn(const std::vector<std::string>& argv, const std::string& netns);
  NetnsProcess() = default;
  NetnsProcess(NetnsProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  NetnsProcess& operator=(NetnsProcess&& other) noexcept;
  NetnsProcess(const NetnsProcess&) = delete;
  NetnsProcess& operator=(const NetnsProcess&) = delete;
  ~NetnsProcess() { Stop(); }

  pid_t pid() const { return pid_; }
  bool Running() const { return pid_ > 0; }
  // Kills the process group and reaps the child; returns its exit code (as CommandResult's).
  int Stop();
  // Waits up to `timeout_ns` for the child to exit on its own; -1 if it is still running.
  int Wait(int64_t timeout_ns);

 private:
  explicit NetnsProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

// Opens a socket inside the namespace: the calling thread enters it, creates the socket, and
// returns to its own namespace (setns affects only the calling thread). The socket stays bound to
// the namespace it was created in.
Result<int> SocketInNetns(const std::string& netns, int domain, int type, int protocol);

// Runs `fn` on the calling thread while it is inside `netns`, then returns to the thread's own
// namespace. For libraries that open their sockets themselves (libnetfilter_queue).
Status WithNetns(const std::string& netns, const std::function<Status()>& fn);

}  // namespace drone::faults::network
