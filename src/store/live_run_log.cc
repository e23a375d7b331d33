#include "store/live_run_log.h"

#include <signal.h>
#include <sqlite3.h>

#include <cerrno>
#include <filesystem>

#include "store/run_store.h"

namespace drone::store {
namespace fs = std::filesystem;
namespace {

constexpr int kBusyTimeoutMs = 10000;

// Separate from the run store's schema: these tables hold only transient rows, so they are created
// when missing rather than migrated.
constexpr const char* kLiveSchema = R"sql(
CREATE TABLE IF NOT EXISTS live_runs (
  run_id TEXT PRIMARY KEY, flow TEXT NOT NULL, started_at TEXT NOT NULL, pid INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS live_events (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, event_json TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS live_series (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, workload TEXT NOT NULL, point_json TEXT NOT NULL,
  PRIMARY KEY (run_id, seq));
)sql";

Status Error(sqlite3* db, const std::string& path, const char* what) {
  return Internal("live run log " + path + ": " + what + ": " + sqlite3_errmsg(db));
}

// A prepared statement, finalised on every path.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  void Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int i) {
    const unsigned char* t = sqlite3_column_text(stmt_, i);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  int64_t Int(int i) { return sqlite3_column_int64(stmt_, i); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

bool ProcessAlive(int64_t pid) {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

Result<std::unique_ptr<LiveRunLog>> LiveRunLog::Open(const std::string& data_dir) {
  if (data_dir.empty()) return InvalidArgument("no data directory for the live run log");
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  std::string path = (fs::path(data_dir) / kDatabaseFileName).string();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<LiveRunLog> log(new LiveRunLog(db, path));
  if (rc != SQLITE_OK) return Error(db, path, "opening");
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  std::lock_guard<std::mutex> lock(log->mu_);
  RETURN_IF_ERROR(log->ExecLocked("PRAGMA journal_mode = WAL", "switching to WAL mode"));
  // As the run store: durable across process crashes, and no fsync per event on the run's threads.
  RETURN_IF_ERROR(log->ExecLocked("PRAGMA synchronous = NORMAL", "setting synchronous mode"));
  RETURN_IF_ERROR(log->ExecLocked(kLiveSchema, "creating the live tables"));
  // Rows of writers that died (killed -9, a crash) would read as runs in progress forever.
  std::vector<std::string> stale;
  {
    Stmt q(db, "SELECT run_id, pid FROM live_runs");
    if (!q.ok()) return Error(db, path, "reading live runs");
    while (q.Step() == SQLITE_ROW) {
      if (!ProcessAlive(q.Int(1))) stale.push_back(q.Text(0));
    }
  }
  for (const std::string& id : stale) {
    for (const char* sql : {"DELETE FROM live_runs WHERE run_id = ?1",
                            "DELETE FROM live_events WHERE run_id = ?1",
                            "DELETE FROM live_series WHERE run_id = ?1"}) {
      Stmt d(db, sql);
      d.Bind(1, id);
      if (!d.ok() || d.Step() != SQLITE_DONE) return Error(db, path, "removing a stale live run");
    }
  }
  return log;
}

LiveRunLog::~LiveRunLog() { sqlite3_close_v2(db_); }

Status LiveRunLog::ExecLocked(const char* sql, const char* what) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    return Internal("live run log " + path_ + ": " + what + ": " + message);
  }
  return Status::Ok();
}

Status LiveRunLog::Begin(const LiveRunInfo& info) {
  std::lock_guard<std::mutex> lock(mu_);
  next_event_seq_ = 1;
  next_point_seq_ = 1;
  Stmt q(db_, "INSERT OR REPLACE INTO live_runs (run_id, flow, started_at, pid) "
              "VALUES (?1, ?2, ?3, ?4)");
  if (!q.ok()) return Error(db_, path_, "preparing");
  q.Bind(1, info.run_id);
  q.Bind(2, info.flow);
  q.Bind(3, info.started_at);
  q.Bind(4, info.pid);
  if (q.Step() != SQLITE_DONE) return Error(db_, path_, "starting a live run");
  return Status::Ok();
}

Status LiveRunLog::AppendEvent(const std::string& run_id, const nlohmann::json& event) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "INSERT INTO live_events (run_id, seq, event_json) VALUES (?1, ?2, ?3)");
  if (!q.ok()) return Error(db_, path_, "preparing");
  q.Bind(1, run_id);
  q.Bind(2, next_event_seq_++);
  q.Bind(3, event.dump());
  if (q.Step() != SQLITE_DONE) return Error(db_, path_, "appending an event");
  return Status::Ok();
}

Status LiveRunLog::AppendPoint(const std::string& run_id, const std::string& workload,
                               const nlohmann::json& point) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "INSERT INTO live_series (run_id, seq, workload, point_json) "
              "VALUES (?1, ?2, ?3, ?4)");
  if (!q.ok()) return Error(db_, path_, "preparing");
  q.Bind(1, run_id);
  q.Bind(2, next_point_seq_++);
  q.Bind(3, workload);
  q.Bind(4, point.dump());
  if (q.Step() != SQLITE_DONE) return Error(db_, path_, "appending a series point");
  return Status::Ok();
}

Status LiveRunLog::Finish(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(ExecLocked("BEGIN IMMEDIATE", "starting a transaction"));
  for (const char* sql : {"DELETE FROM live_runs WHERE run_id = ?1",
                          "DELETE FROM live_events WHERE run_id = ?1",
                          "DELETE FROM live_series WHERE run_id = ?1"}) {
    Stmt d(db_, sql);
    d.Bind(1, run_id);
    if (!d.ok() || d.Step() != SQLITE_DONE) {
      Status s = Error(db_, path_, "removing a live run");
      (void)ExecLocked("ROLLBACK", "rolling back");
      return s;
    }
  }
  return ExecLocked("COMMIT", "committing");
}

Result<std::optional<LiveRunInfo>> LiveRunLog::Find(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT run_id, flow, started_at, pid FROM live_runs WHERE run_id = ?1");
  if (!q.ok()) return Error(db_, path_, "preparing");
  q.Bind(1, run_id);
  if (q.Step() != SQLITE_ROW || !ProcessAlive(q.Int(3))) return std::optional<LiveRunInfo>();
  return std::optional<LiveRunInfo>(LiveRunInfo{q.Text(0), q.Text(1), q.Text(2), q.Int(3)});
}

Result<std::vector<LiveRunInfo>> LiveRunLog::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT run_id, flow, started_at, pid FROM live_runs ORDER BY started_at DESC");
  if (!q.ok()) return Error(db_, path_, "preparing");
  std::vector<LiveRunInfo> out;
  while (q.Step() == SQLITE_ROW) {
    if (ProcessAlive(q.Int(3))) out.push_back({q.Text(0), q.Text(1), q.Text(2), q.Int(3)});
  }
  return out;
}

Result<std::vector<LiveRow>> LiveRunLog::RowsAfter(const char* sql, const std::string& run_id,
                                                   int64_t after, int limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, sql);
  if (!q.ok()) return Error(db_, path_, "preparing");
  q.Bind(1, run_id);
  q.Bind(2, after);
  q.Bind(3, static_cast<int64_t>(limit));
  std::vector<LiveRow> out;
  while (q.Step() == SQLITE_ROW) {
    nlohmann::json value = nlohmann::json::parse(q.Text(1), nullptr, false);
    if (value.is_discarded()) continue;  // written by this code; never expected
    out.push_back({q.Int(0), std::move(value)});
  }
  return out;
}

Result<std::vector<LiveRow>> LiveRunLog::EventsAfter(const std::string& run_id, int64_t after,
                                                     int limit) const {
  return RowsAfter("SELECT seq, event_json FROM live_events WHERE run_id = ?1 AND seq > ?2 "
                   "ORDER BY seq LIMIT ?3",
                   run_id, after, limit);
}

Result<std::vector<LiveRow>> LiveRunLog::PointsAfter(const std::string& run_id, int64_t after,
                                                     int limit) const {
  return RowsAfter("SELECT seq, json_object('workload', workload, 'point', json(point_json)) "
                   "FROM live_series WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                   run_id, after, limit);
}

}  // namespace drone::store
