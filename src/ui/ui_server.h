// The server of `drone ui`: the REST API (docs/api.md), live runs over Server-Sent Events, the
// Prometheus endpoint and the embedded front end, on cpp-httplib. It reads finished runs from the
// run store and runs in progress from the live run log in the same data directory, and starts
// flows of the flows directory as `drone run` child processes (ui/run_launcher.h).
//
// Access: every request must carry the token when one is set (`Authorization: Bearer T`, the
// `drone_token` cookie, or `?token=T`, which also sets the cookie); without a token the server
// binds loopback only and answers only requests whose Host is a loopback name, so that a page of
// another site cannot reach it by DNS rebinding. Writes (POST, DELETE) are refused unless they
// come from the UI's own origin (Origin and Sec-Fetch-Site headers, when a browser sends them).
//
// Thread-safety: Start() and the destructor are called from one thread; requests are served on
// the server's thread pool; the state they share is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"

namespace drone::ui {

struct UiOptions {
  std::string data_dir;   // the run store (runs.db)
  std::string flows_dir;  // the flows offered in the launchpad
  std::string host = "127.0.0.1";
  int port = 7777;         // 0: an ephemeral port
  std::string token;       // required unless `host` is a loopback address
  std::string drone_path;  // the binary that runs flows (normally this one)
  int stream_poll_ms = 200;  // how often a live stream looks for new rows
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

class UiServer {
 public:
  // Checks the options (InvalidArgument: a non-loopback host without a token, a data directory
  // that cannot be opened), binds (Unavailable when the address is in use) and starts serving.
  static Result<std::unique_ptr<UiServer>> Start(const UiOptions& options);
  // Stops accepting, ends live streams, stops the runs it started, joins its threads.
  ~UiServer();
  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  int port() const;
  std::string url() const;  // "http://HOST:PORT/"

 private:
  struct Impl;
  explicit UiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace drone::ui
