// A real broker server process for driver unit tests, on the local platform's ChildProcess
// (argv array, own process group, dies with the test through PR_SET_PDEATHSIG, always reaped),
// with a temporary directory for its data and log that is removed when the object goes away.
// Tests skip when the server binary is not installed.
//
// Thread-safety: one TestServer is used by one thread (the test body).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "platforms/local/child_process.h"

namespace drone::drivers::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and released).
Result<int> FreeLoopbackPort();

// Whether `program` is an executable on PATH.
bool OnPath(const std::string& program);

class TestServer {
 public:
  TestServer();  // creates the temporary directory
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  const std::string& dir() const { return dir_; }

  // Spawns argv[0] (looked up on PATH) with stdout/stderr to dir()/server.log, then waits until
  // 127.0.0.1:`port` accepts connections or `timeout_ns` passes (DeadlineExceeded, with the
  // log's tail).
  Status Start(const std::vector<std::string>& argv, int port, int64_t timeout_ns);
  // SIGTERM, then SIGKILL after `grace_ns`; reaped in both cases. No-op when not running.
  void Stop(int64_t grace_ns = 5'000'000'000);
  void Kill();    // SIGKILL and reap
  void Pause();   // SIGSTOP
  void Resume();  // SIGCONT
  bool running() const { return process_ != nullptr; }
  std::string LogTail() const;

 private:
  std::string dir_;
  std::vector<std::string> argv_;
  std::unique_ptr<platforms::local::ChildProcess> process_;
};

}  // namespace drone::drivers::testing
