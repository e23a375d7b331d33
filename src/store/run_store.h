// The run store: finished runs kept in an SQLite database (`runs.db`, WAL mode) in a data
// directory, so that `drone runs` (and later the server and the UI) can list, show and compare
// them. A run goes in as the result JSON that `drone run --json` writes (docs/results.md) and comes
// back out unchanged; its steps, events, per-second series points and checks are also stored as
// rows so they can be queried without parsing the whole result. Schema: docs/store.md.
//
// Thread-safety: a RunStore is safe for concurrent use from multiple threads (one connection,
// guarded by a mutex). Several RunStore instances, in one process or in several, may open the same
// data directory: WAL lets readers proceed while one writer writes, and writers wait for each other
// up to a busy timeout.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

struct sqlite3;

namespace drone::store {

// The schema this code writes; Open() migrates older stores up to it and refuses newer ones.
inline constexpr int kSchemaVersion = 1;

// The database file inside a data directory.
inline constexpr const char* kDatabaseFileName = "runs.db";

// The default data directory by the XDG rule: `$XDG_DATA_HOME/drone` when XDG_DATA_HOME is set to
// an absolute path, else `$HOME/.local/share/drone`; empty when neither is usable. Pure: callers
// pass getenv("XDG_DATA_HOME") and getenv("HOME") (either may be null).
std::string DefaultDataDir(const char* xdg_data_home, const char* home);

struct RunSummary {
  std::string run_id;
  std::string flow;
  std::string verdict;
  int exit_code = 0;
  std::string started_at;  // "2026-11-24T04:29:42.123Z", as in the result
  std::string finished_at;
};

struct RunFilter {
  std::optional<std::string> flow;     // exact flow name
  std::optional<std::string> verdict;  // "pass", "fail" or "unknown"
  int limit = 50;                      // <= 0: no limit
};

class RunStore {
 public:
  // Opens (creating when missing) `data_dir` (mkdir -p) and `data_dir/runs.db`; switches the
  // database to WAL and creates or migrates the schema. Errors name the path and what to do:
  // InvalidArgument for an empty path, FailedPrecondition for a directory or file that cannot be
  // created or opened, is not a run store, or was written by a newer Drone.
  static Result<std::unique_ptr<RunStore>> Open(const std::string& data_dir);

  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  // Stores one result JSON as `drone run --json` writes it, in one transaction. Saving a run_id
  // that is already stored replaces it (with all its rows). InvalidArgument when `result` is not an
  // object with a non-empty string `run_id`.
  Status SaveResult(const nlohmann::json& result);

  // Stored runs, newest first (by started_at, then run_id).
  Result<std::vector<RunSummary>> ListRuns(const RunFilter& filter) const;

  // The result JSON exactly as it was saved. NotFound (with how to list run ids) when missing.
  Result<nlohmann::json> GetResult(const std::string& run_id) const;

  // The run's events in their original order, each {t, t_ns, type[, step][, message]} as in the
  // result's `events[]`. NotFound when the run is missing; empty when it had no events.
  Result<std::vector<nlohmann::json>> Events(const std::string& run_id) const;

  // Removes a run and all its rows. NotFound when missing.
  Status DeleteRun(const std::string& run_id);

  // The database file, for messages.
  const std::string& path() const { return path_; }

 private:
  RunStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  Status NotFoundError(const std::string& run_id) const;
  Result<bool> RunExistsLocked(const std::string& run_id) const;

  mutable std::mutex mu_;
  sqlite3* db_;  // GUARDED_BY(mu_); owned, closed in the destructor
  const std::string path_;
};

}  // namespace drone::store
