// The run store: finished runs kept in an SQLite database (`runs.db`, WAL mode) in a data
// directory, so that `drone runs` (and later the server and the UI) can list, show and compare
// them. A run goes in as the result JSON that `drone run --json` writes (docs/results.md) and comes
// back out unchanged; its steps, events, per-second series points, checks and artifacts are also
// stored as rows so they can be queried without parsing the whole result. Next to the result, a
// run keeps what the JSON does not carry: its latency histograms (serialised, mergeable, so that
// runs can be compared at any percentile later) and the text of the flow it ran (so it can be run
// again). Schema: docs/store.md.
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
inline constexpr int kSchemaVersion = 3;

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

// One serialised latency histogram of a run (metrics::Histogram::Serialize()).
struct StoredHistogram {
  std::string workload;     // the workload step's id
  std::string measurement;  // publish, end_to_end, service or send_delay
  uint64_t count = 0;       // values recorded, for queries that do not decode the histogram
  std::string bytes;        // Histogram::Serialize() output

  bool operator==(const StoredHistogram&) const = default;
};

// A file a step collected into the run directory: an entry of the result's `artifacts[]`.
struct StoredArtifact {
  std::string step;
  std::string name;
  std::string path;
  int64_t bytes = 0;

  bool operator==(const StoredArtifact&) const = default;
};

// What a run stores besides its result JSON.
struct RunExtras {
  std::vector<StoredHistogram> histograms;
  std::string flow_text;  // the flow file as it was when the run started; empty: not kept
};

struct RunFilter {
  std::optional<std::string> flow;     // exact flow name
  std::optional<std::string> verdict;  // "pass", "fail" or "unknown"
  std::optional<std::string> matrix_id;  // only the runs of this matrix
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

  // Stores one result JSON as `drone run --json` writes it, with `extras`, in one transaction.
  // Saving a run_id that is already stored replaces it (with all its rows). Artifacts come from
  // the result's top-level `artifacts` array of {step, name, path, bytes} (none when it is
  // missing); a run of a matrix is tagged with the result's `matrix.id`. InvalidArgument when
  // `result` is not an object with a non-empty string `run_id`.
  Status SaveResult(const nlohmann::json& result, const RunExtras& extras = {});

  // Stored runs, newest first (by started_at, then run_id).
  Result<std::vector<RunSummary>> ListRuns(const RunFilter& filter) const;

  // The result JSON exactly as it was saved. NotFound (with how to list run ids) when missing.
  Result<nlohmann::json> GetResult(const std::string& run_id) const;

  // The run's events in their original order, each {t, t_ns, type[, step][, message][, fault]} as in the
  // result's `events[]`. NotFound when the run is missing; empty when it had no events.
  Result<std::vector<nlohmann::json>> Events(const std::string& run_id) const;

  // The run's histograms, by workload then measurement. NotFound when the run is missing.
  Result<std::vector<StoredHistogram>> Histograms(const std::string& run_id) const;

  // The run's artifacts in result order. NotFound when the run is missing.
  Result<std::vector<StoredArtifact>> Artifacts(const std::string& run_id) const;

  // The flow text the run was started with; empty when it was not kept (runs stored by a Drone
  // before schema version 2). NotFound when the run is missing.
  Result<std::string> FlowText(const std::string& run_id) const;

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
