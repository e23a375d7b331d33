// A real broker server process for driver unit tests: spawned from an argv array (never a shell)
// in its own process group, with a temporary directory for its data and log, and always killed
// and reaped when the object goes away. Tests skip when the server binary is not installed.
//
// Thread-safety: one TestServer is used by one thread (the test body).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

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
  bool running() const { return pid_ > 0; }
  std::string LogTail() const;

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace drone::drivers::testing
