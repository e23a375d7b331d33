// `drone worker` and the worker side of `drone run` (--workers N, --workers-at URL,...): see
// docs/workers.md. Called from main() and RunCommand() only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "journal/undo_journal.h"
#include "worker/coordinator.h"
#include "worker/local_workers.h"

namespace drone::cli {

struct WorkerFlags {
  std::string listen = "127.0.0.1:7700";  // HOST:PORT; port 0 = ephemeral
  std::string token;                      // or $DRONE_WORKER_TOKEN
  std::string port_file;                  // written (atomically) once listening
  int max_shares = 8;
};

// Serves until SIGINT/SIGTERM. Exit codes: 0 after a signal, 2 bad flags (a non-loopback address
// without a token, a malformed address), 3 when the address cannot be bound.
int WorkerCommand(const WorkerFlags& flags);

// The workers a run uses: N local processes, or the given URLs (each checked to answer as a
// worker). `pool` keeps local processes alive; destroying it stops them.
struct RunWorkers {
  std::unique_ptr<worker::LocalWorkerPool> pool;
  std::vector<worker::WorkerAddress> addresses;
};
// `count` > 0 starts local workers; `urls` ("http://HOST:PORT" or "HOST:PORT", comma-separated)
// names running ones, with `token` (or $DRONE_WORKER_TOKEN). InvalidArgument for bad input or
// an unreachable worker (nothing is left running), Unavailable when local ones do not start.
// Local workers journal their directory in `journal` (LocalWorkerPool::Start).
Result<RunWorkers> StartRunWorkers(int count, const std::string& urls, std::string token,
                                   journal::Journal* journal = nullptr);

}  // namespace drone::cli
