// WorkerServer: `drone worker` — serves the workload engine to a coordinator over HTTP/JSON
// (docs/workers.md). A coordinator POSTs a share of a workload (which producers and consumers,
// the broker endpoint, every workload option), then starts it, polls its status (live totals,
// drain progress, per-second series), ends its drain and fetches its result as binary
// (workload/part.h). Several shares run at once, each under the id its coordinator gave, up to
// `max_shares`. Every request for a share renews its lease; a share whose coordinator stays
// silent for the lease is aborted, and a finished share nobody fetched is dropped after another
// lease, so a vanished coordinator leaves nothing running. With a token, every request must
// carry `Authorization: Bearer TOKEN`.
//
// Thread-safety: Start() and the destructor on one thread; requests are served on the server's
// threads, each share runs on a thread of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace drone::worker {

struct WorkerServerOptions {
  std::string host = "127.0.0.1";
  int port = 7700;    // 0: an ephemeral port
  std::string token;  // empty: no authentication (loopback only; the CLI enforces it)
  int max_shares = 8;
  int64_t reap_interval_ns = 200'000'000;  // how often leases are checked
};

class WorkerServer {
 public:
  // Binds and starts serving. Unavailable naming the address when it cannot be bound.
  static Result<std::unique_ptr<WorkerServer>> Start(const WorkerServerOptions& options);
  // Stops serving, aborts every share and joins their threads.
  ~WorkerServer();
  WorkerServer(const WorkerServer&) = delete;
  WorkerServer& operator=(const WorkerServer&) = delete;

  int port() const;
  // "http://HOST:PORT".
  std::string url() const;
  // Shares currently held (running or waiting to be fetched).
  int shares() const;

 private:
  struct Impl;
  explicit WorkerServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace drone::worker
