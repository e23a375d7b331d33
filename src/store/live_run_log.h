// The live log of runs in progress: while `drone run` runs, it appends the run's events and
// per-second series points to three tables of its own in the run store's database (`live_runs`,
// `live_events`, `live_series`), so that another process (the UI server) can follow a run as it
// goes by polling them; WAL lets it read while the run writes. When the finished run is saved in
// the run store (RunStore::SaveResult), its live rows are removed (Finish). Runs that were killed
// before finishing leave their rows behind, marked by the pid that wrote them; Open() removes the
// rows of writers that are no longer alive. Schema: docs/store.md.
//
// Thread-safety: a LiveRunLog is safe for concurrent use from multiple threads (one connection,
// guarded by a mutex); several processes may open the same data directory.
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

struct LiveRunInfo {
  std::string run_id;
  std::string flow;
  std::string started_at;  // UTC, as in results
  int64_t pid = 0;         // the `drone run` process writing it
};

// One row read back: `seq` orders rows of one run (events and series each number from 1).
struct LiveRow {
  int64_t seq = 0;
  nlohmann::json value;  // an event {t, t_ns, type, step, message} or {workload, point}
};

class LiveRunLog {
 public:
  // Opens `data_dir/runs.db` (creating the directory and file when missing) and the live tables.
  static Result<std::unique_ptr<LiveRunLog>> Open(const std::string& data_dir);
  ~LiveRunLog();
  LiveRunLog(const LiveRunLog&) = delete;
  LiveRunLog& operator=(const LiveRunLog&) = delete;

  // Writer side, for one run at a time.
  Status Begin(const LiveRunInfo& info);
  Status AppendEvent(const std::string& run_id, const nlohmann::json& event);
  Status AppendPoint(const std::string& run_id, const std::string& workload,
                     const nlohmann::json& point);
  // Removes the run's live rows (once the finished run is stored, or when it was not started).
  Status Finish(const std::string& run_id);

  // Reader side; rows whose writer process is gone are not runs in progress. The run, when it is
  // in progress; nullopt when it is not (finished, killed, or unknown).
  Result<std::optional<LiveRunInfo>> Find(const std::string& run_id) const;
  // Runs in progress, newest first.
  Result<std::vector<LiveRunInfo>> List() const;
  // Rows with seq > `after`, in order, at most `limit`.
  Result<std::vector<LiveRow>> EventsAfter(const std::string& run_id, int64_t after,
                                           int limit) const;
  Result<std::vector<LiveRow>> PointsAfter(const std::string& run_id, int64_t after,
                                           int limit) const;

 private:
  LiveRunLog(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status ExecLocked(const char* sql, const char* what);
  Result<std::vector<LiveRow>> RowsAfter(const char* sql, const std::string& run_id,
                                         int64_t after, int limit) const;

  mutable std::mutex mu_;
  sqlite3* db_;  // GUARDED_BY(mu_); owned
  const std::string path_;
  int64_t next_event_seq_ = 1;  // GUARDED_BY(mu_); writer side
  int64_t next_point_seq_ = 1;  // GUARDED_BY(mu_)
};

}  // namespace drone::store
