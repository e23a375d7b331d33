// kubectl, spawned with argv arrays (never a shell): the only way Drone talks to a Kubernetes
// cluster. The *Args functions render the exact command lines (unit-tested); Kubectl::Run runs
// one with optional stdin (manifests for `apply -f -`), a deadline and a cancel token. The child
// runs in its own process group, dies with Drone (PR_SET_PDEATHSIG) and is always reaped; on a
// timeout or a cancel its group is killed.
//
// Thread-safety: Kubectl is immutable after construction; Run may be called from several
// threads at once (each call forks its own child). KubectlBackground's members are safe to call
// from several threads.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"

namespace drone::platforms::kubernetes {

using Argv = std::vector<std::string>;

struct KubectlResult {
  int exit_code = -1;  // 128 + signal when a signal ended it
  std::string out;     // stdout, at most 4 MiB
  std::string err;     // stderr, at most 64 KiB
};

// Server-side apply of the manifests on stdin, owned by field manager "drone".
Argv ApplyArgs();
// `rollout status` of a workload ("statefulset/NAME") with a deadline.
Argv RolloutStatusArgs(const std::string& ns, const std::string& what, int timeout_s);
// `wait --for=condition=Ready` on an object ("kafka/NAME", "pod/NAME").
Argv WaitReadyArgs(const std::string& ns, const std::string& what, int timeout_s);
// Deletes the run's namespace (and so everything in it), waiting at most timeout_s.
Argv DeleteNamespaceArgs(const std::string& ns, int timeout_s);
// Runs argv in a container of a pod.
Argv ExecArgs(const std::string& ns, const std::string& pod, const std::string& container,
              const Argv& argv);
// Deletes a pod: `graceful` lets the broker shut down; otherwise it is killed at once.
Argv DeletePodArgs(const std::string& ns, const std::string& pod, bool graceful);
// The pod's UID and Ready condition, as "UID True|False".
Argv PodStateArgs(const std::string& ns, const std::string& pod);
// The pod's IP address.
Argv PodIpArgs(const std::string& ns, const std::string& pod);
// Forwards a free port of 127.0.0.1, which kubectl picks and prints ("Forwarding from
// 127.0.0.1:PORT -> REMOTE"), to the pod's remote_port (a worker's control port).
Argv PortForwardArgs(const std::string& ns, const std::string& pod, int remote_port);
Argv NodeNamesArgs();
// Namespaces carrying Drone's label, as JSON.
Argv ManagedNamespacesArgs();

class Kubectl {
 public:
  // `context` empty: kubeconfig's current context. `program`: what to run (looked up in PATH).
  explicit Kubectl(std::string context, std::string program = "kubectl");

  const std::string& context() const { return context_; }
  // The full command line: program, --context CTX (when set), then args.
  Argv CommandLine(const Argv& args) const;
  // Runs it to completion. Errors: the program cannot be started (NotFound), the deadline passed
  // (DeadlineExceeded), the token was cancelled (Cancelled). A non-zero exit is a result, not an
  // error.
  Result<KubectlResult> Run(const Argv& args, const std::string& stdin_text, int64_t timeout_ns,
                            const CancelToken* cancel = nullptr) const;
  // Run, failing on a non-zero exit with the command line and kubectl's stderr.
  Result<KubectlResult> RunChecked(const Argv& args, const std::string& stdin_text,
                                   int64_t timeout_ns, const CancelToken* cancel = nullptr) const;

 private:
  std::string context_;
  std::string program_;
};

// A kubectl that runs until stopped (`port-forward`). It is forked by a thread of its own that
// lives as long as the child, so PR_SET_PDEATHSIG (which follows the forking thread) kills it only
// when Drone dies; stdin is /dev/null, stdout and stderr are kept together (at most 64 KiB).
// Stop() and the destructor kill its process group and reap it.
class KubectlBackground {
 public:
  // Fails (NotFound) when kubectl cannot be executed; then nothing is left running.
  static Result<std::unique_ptr<KubectlBackground>> Start(const Kubectl& kubectl, const Argv& args);
  ~KubectlBackground();
  KubectlBackground(const KubectlBackground&) = delete;
  KubectlBackground& operator=(const KubectlBackground&) = delete;

  bool Running() const;
  // Waits until its output contains `text`; false when it exited, the time ran out or `cancel`
  // was cancelled first.
  bool WaitForOutput(const std::string& text, int64_t timeout_ns, const CancelToken* cancel) const;
  std::string Output() const;
  // The command line, whether it still runs or how it exited, and its output.
  std::string Describe() const;
  pid_t pid() const;
  void Stop();

 private:
  KubectlBackground() = default;
  std::string command_;
  mutable std::mutex mu_;
  pid_t pid_ = 0;          // guarded by mu_
  bool running_ = true;    // guarded by mu_
  int exit_code_ = -1;     // guarded by mu_
  std::string output_;     // guarded by mu_
  mutable std::condition_variable cv_;  // output_ grew or the child exited
  std::thread thread_;
};

std::string JoinArgv(const Argv& argv);  // for messages only, never for a shell

}  // namespace drone::platforms::kubernetes
