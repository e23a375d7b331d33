#include "store/run_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>
#include <utility>

namespace drone::store {
namespace {

namespace fs = std::filesystem;

// How long a writer waits for another writer (another drone process, or a second RunStore on the
// same directory) before giving up with "busy".
constexpr int kBusyTimeoutMs = 10000;

// kMigrations[v] takes a store from schema version v to v + 1; version 0 is an empty database.
// Append a script for each new version; never edit a published one.
constexpr const char* kMigrations[] = {
    // 0 -> 1
    R"sql(
CREATE TABLE runs (
  run_id      TEXT PRIMARY KEY,
  flow        TEXT,
  file        TEXT,
  verdict     TEXT,
  exit_code   INTEGER,
  started_at  TEXT,
  finished_at TEXT,
  params_json TEXT,
  result_json TEXT NOT NULL
);
CREATE INDEX runs_by_start ON runs (started_at DESC, run_id DESC);
CREATE INDEX runs_by_flow ON runs (flow, started_at DESC);
CREATE TABLE steps (
  run_id       TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  step_id      TEXT NOT NULL,
  kind         TEXT,
  status       TEXT,
  started_at   TEXT,
  finished_at  TEXT,
  error        TEXT,
  outputs_json TEXT
);
CREATE INDEX steps_by_run ON steps (run_id);
CREATE TABLE events (
  run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  seq     INTEGER NOT NULL,
  t_ns    INTEGER,
  t       TEXT,
  type    TEXT,
  step    TEXT,
  message TEXT,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE series (
  run_id     TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  workload   TEXT NOT NULL,
  t          REAL,
  point_json TEXT NOT NULL
);
CREATE INDEX series_by_run ON series (run_id, workload, t);
CREATE TABLE checks (
  run_id        TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  step          TEXT,
  expect        TEXT,
  observed_json TEXT,
  passed        INTEGER
);
CREATE INDEX checks_by_run ON checks (run_id);
)sql",
    // 1 -> 2: histograms, artifacts, the flow text, matrix runs
    R"sql(
ALTER TABLE runs ADD COLUMN flow_text TEXT;
ALTER TABLE runs ADD COLUMN matrix_id TEXT;
CREATE INDEX runs_by_matrix ON runs (matrix_id) WHERE matrix_id IS NOT NULL;
CREATE TABLE histograms (
  run_id      TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  workload    TEXT NOT NULL,
  measurement TEXT NOT NULL,
  count       INTEGER NOT NULL,
  data        BLOB NOT NULL,
  PRIMARY KEY (run_id, workload, measurement)
);
CREATE TABLE artifacts (
  run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  seq    INTEGER NOT NULL,
  step   TEXT,
  name   TEXT,
  path   TEXT,
  bytes  INTEGER,
  PRIMARY KEY (run_id, seq)
);
)sql",
    // 2 -> 3: a fault event's `fault` payload (kind, target, backend, details), which the live
    // and stored run views need to name and place the fault
    R"sql(
ALTER TABLE events ADD COLUMN fault_json TEXT;
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration script per schema version");

// Translates an SQLite failure into a Status whose message names the file and says what to do.
Status DbError(sqlite3* db, const std::string& path, const std::string& doing) {
  int code = db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
  std::string detail = db ? sqlite3_errmsg(db) : "out of memory";
  std::string what = "run store " + path + ": " + doing + " failed: " + detail;
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(what + "; another drone is holding the database, try again");
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return FailedPrecondition(what +
                                "; it is not a usable Drone run store: move it away or "
                                "choose another --data-dir");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
      return FailedPrecondition(what + "; check the permissions or choose another --data-dir");
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return FailedPrecondition(what + "; check the disk or choose another --data-dir");
    default:
      return Internal(what);
  }
}

// A prepared statement, finalized on destruction. Binding indices start at 1, columns at 0.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  void BindText(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void BindReal(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  void BindNull(int i) { sqlite3_bind_null(stmt_, i); }
  void BindBlob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }

  // Strings as they are, other JSON values as their text, null or missing as SQL NULL.
  void BindJsonText(int i, const nlohmann::json* v) {
    if (v == nullptr || v->is_null()) {
      BindNull(i);
    } else if (v->is_string()) {
      BindText(i, v->get_ref<const std::string&>());
    } else {
      BindText(i, v->dump());
    }
  }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }

 private:
  sqlite3_stmt* stmt_;
};

Result<Statement> Prepare(sqlite3* db, const std::string& path, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return DbError(db, path, "preparing a statement");
  }
  return Statement(stmt);
}

// Runs a statement that returns no rows to completion.
Status StepDone(Statement& stmt, sqlite3* db, const std::string& path, const char* doing) {
  if (stmt.Step() != SQLITE_DONE) return DbError(db, path, doing);
  return Status::Ok();
}

Status Exec(sqlite3* db, const std::string& path, const char* sql, const char* doing) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return DbError(db, path, doing);
  }
  return Status::Ok();
}

// BEGIN IMMEDIATE ... COMMIT, rolled back when Commit() was not reached. IMMEDIATE takes the write
// lock up front, so a busy database waits in the busy handler instead of failing on upgrade.
class WriteTransaction {
 public:
  WriteTransaction(sqlite3* db, const std::string& path) : db_(db), path_(path) {}
  ~WriteTransaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Status Begin() {
    RETURN_IF_ERROR(Exec(db_, path_, "BEGIN IMMEDIATE", "starting a write transaction"));
    open_ = true;
    return Status::Ok();
  }
  Status Commit() {
    RETURN_IF_ERROR(Exec(db_, path_, "COMMIT", "committing"));
    open_ = false;
    return Status::Ok();
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool open_ = false;
};

// obj[key] when obj is an object that has it; else nullptr.
const nlohmann::json* Field(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const nlohmann::json& ArrayOrEmpty(const nlohmann::json& obj, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const nlohmann::json* v = Field(obj, key);
  return v && v->is_array() ? *v : kEmpty;
}

// Brings the schema to kSchemaVersion in one transaction.
Status Migrate(sqlite3* db, const std::string& path) {
  WriteTransaction tx(db, path);
  RETURN_IF_ERROR(tx.Begin());
  RETURN_IF_ERROR(Exec(db, path,
                       "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                       "creating the schema_version table"));
  int version = 0;
  {
    ASSIGN_OR_RETURN(Statement q, Prepare(db, path, "SELECT max(version) FROM schema_version"));
    if (q.Step() != SQLITE_ROW) return DbError(db, path, "reading the schema version");
    if (!q.IsNull(0)) version = static_cast<int>(q.Int(0));
  }
  if (version > kSchemaVersion) {
    return FailedPrecondition("run store " + path + " has schema version " +
                              std::to_string(version) + ", newer than this drone understands (" +
                              std::to_string(kSchemaVersion) +
                              "); upgrade drone or choose another --data-dir");
  }
  if (version == kSchemaVersion) return tx.Commit();
  for (int v = version; v < kSchemaVersion; ++v) {
    RETURN_IF_ERROR(Exec(db, path, kMigrations[v],
                         ("migrating the schema to version " + std::to_string(v + 1)).c_str()));
  }
  RETURN_IF_ERROR(Exec(db, path, "DELETE FROM schema_version", "updating the schema version"));
  {
    ASSIGN_OR_RETURN(Statement ins,
                     Prepare(db, path, "INSERT INTO schema_version (version) VALUES (?1)"));
    ins.BindInt(1, kSchemaVersion);
    RETURN_IF_ERROR(StepDone(ins, db, path, "updating the schema version"));
  }
  return tx.Commit();
}

RunSummary SummaryFromRow(const Statement& q) {
  RunSummary s;
  s.run_id = q.Text(0);
  s.flow = q.Text(1);
  s.verdict = q.Text(2);
  s.exit_code = q.IsNull(3) ? 0 : static_cast<int>(q.Int(3));
  s.started_at = q.Text(4);
  s.finished_at = q.Text(5);
  return s;
}

}  // namespace

std::string DefaultDataDir(const char* xdg_data_home, const char* home) {
  // The XDG base directory spec says relative values are invalid and must be ignored.
  if (xdg_data_home != nullptr && xdg_data_home[0] == '/') {
    return (fs::path(xdg_data_home) / "drone").string();
  }
  if (home != nullptr && home[0] != '\0') {
    return (fs::path(home) / ".local" / "share" / "drone").string();
  }
  return std::string();
}

Result<std::unique_ptr<RunStore>> RunStore::Open(const std::string& data_dir) {
  if (data_dir.empty()) {
    return InvalidArgument("no data directory for the run store; pass --data-dir DIR or set HOME");
  }
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec || !fs::is_directory(data_dir, ec)) {
    std::string reason = ec ? ec.message() : "it exists and is not a directory";
    return FailedPrecondition("cannot create the data directory " + data_dir + ": " + reason +
                              "; choose another --data-dir");
  }
  std::string path = (fs::path(data_dir) / kDatabaseFileName).string();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  // From here on the handle belongs to the store, which closes it on every path.
  std::unique_ptr<RunStore> store(new RunStore(db, path));
  if (rc != SQLITE_OK) return DbError(db, path, "opening");
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  RETURN_IF_ERROR(Exec(db, path, "PRAGMA foreign_keys = ON", "enabling foreign keys"));
  {
    // The first statement that reads the file: a file that is not a database fails here.
    ASSIGN_OR_RETURN(Statement q, Prepare(db, path, "PRAGMA journal_mode = WAL"));
    if (q.Step() != SQLITE_ROW) return DbError(db, path, "switching to WAL mode");
    if (q.Text(0) != "wal") {
      return FailedPrecondition("run store " + path + ": cannot use WAL mode (journal mode is " +
                                q.Text(0) + "); choose a --data-dir on a local file system");
    }
  }
  // NORMAL is durable across process crashes in WAL mode; a power loss may lose the last runs.
  RETURN_IF_ERROR(Exec(db, path, "PRAGMA synchronous = NORMAL", "setting synchronous mode"));
  RETURN_IF_ERROR(Migrate(db, path));
  return store;
}

RunStore::~RunStore() { sqlite3_close_v2(db_); }

Status RunStore::NotFoundError(const std::string& run_id) const {
  return NotFound("no run '" + run_id + "' in " + path_ + "; `drone runs list` shows the run ids");
}

Result<bool> RunStore::RunExistsLocked(const std::string& run_id) const {
  ASSIGN_OR_RETURN(Statement q, Prepare(db_, path_, "SELECT 1 FROM runs WHERE run_id = ?1"));
  q.BindText(1, run_id);
  int rc = q.Step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return DbError(db_, path_, "looking up run " + run_id);
}

Status RunStore::SaveResult(const nlohmann::json& result, const RunExtras& extras) {
  const nlohmann::json* id = Field(result, "run_id");
  if (id == nullptr || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    return InvalidArgument("a result to store needs a non-empty string \"run_id\"");
  }
  const std::string& run_id = id->get_ref<const std::string&>();
  const std::string doing = "saving run " + run_id;

  std::lock_guard<std::mutex> lock(mu_);
  WriteTransaction tx(db_, path_);
  RETURN_IF_ERROR(tx.Begin());
  {
    // Replacing a run: the cascade removes its steps, events, series and checks.
    ASSIGN_OR_RETURN(Statement del, Prepare(db_, path_, "DELETE FROM runs WHERE run_id = ?1"));
    del.BindText(1, run_id);
    RETURN_IF_ERROR(StepDone(del, db_, path_, doing.c_str()));
  }
  {
    ASSIGN_OR_RETURN(
        Statement ins,
        Prepare(db_, path_,
                "INSERT INTO runs (run_id, flow, file, verdict, exit_code, started_at, "
                "finished_at, params_json, result_json, flow_text, matrix_id) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    ins.BindText(1, run_id);
    ins.BindJsonText(2, Field(result, "flow"));
    ins.BindJsonText(3, Field(result, "file"));
    ins.BindJsonText(4, Field(result, "verdict"));
    const nlohmann::json* exit_code = Field(result, "exit_code");
    if (exit_code && exit_code->is_number_integer()) {
      ins.BindInt(5, exit_code->get<int64_t>());
    } else {
      ins.BindNull(5);
    }
    ins.BindJsonText(6, Field(result, "started_at"));
    ins.BindJsonText(7, Field(result, "finished_at"));
    const nlohmann::json* params = Field(result, "params");
    if (params) {
      ins.BindText(8, params->dump());
    } else {
      ins.BindNull(8);
    }
    ins.BindText(9, result.dump());
    if (extras.flow_text.empty()) {
      ins.BindNull(10);
    } else {
      ins.BindText(10, extras.flow_text);
    }
    const nlohmann::json* matrix = Field(result, "matrix");
    ins.BindJsonText(11, matrix ? Field(*matrix, "id") : nullptr);
    RETURN_IF_ERROR(StepDone(ins, db_, path_, doing.c_str()));
  }
  {
    ASSIGN_OR_RETURN(Statement ins,
                     Prepare(db_, path_,
                             "INSERT INTO histograms (run_id, workload, measurement, count, data) "
                             "VALUES (?1, ?2, ?3, ?4, ?5)"));
    for (const StoredHistogram& h : extras.histograms) {
      ins.Reset();
      ins.BindText(1, run_id);
      ins.BindText(2, h.workload);
      ins.BindText(3, h.measurement);
      ins.BindInt(4, static_cast<int64_t>(h.count));
      ins.BindBlob(5, h.bytes);
      RETURN_IF_ERROR(StepDone(ins, db_, path_, doing.c_str()));
    }
  }
  {
    ASSIGN_OR_RETURN(Statement ins,
                     Prepare(db_, path_,
                             "INSERT INTO artifacts (run_id, seq, step, name, path, bytes) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    int64_t seq = 0;
    for (const nlohmann::json& a : ArrayOrEmpty(result, "artifacts")) {
      ins.Reset();
      ins.BindText(1, run_id);
      ins.BindInt(2, seq++);
      ins.BindJsonText(3, Field(a, "step"));
      ins.BindJsonText(4, Field(a, "name"));
      ins.BindJsonText(5, Field(a, "path"));
      const nlohmann::json* bytes = Field(a, "bytes");
      if (bytes && bytes->is_number_integer()) {
        ins.BindInt(6, bytes->get<int64_t>());
      } else {
        ins.BindNull(6);
      }
      RETURN_IF_ERROR(StepDone(ins, db_, path_, doing.c_str()));
    }
  }
  {
    ASSIGN_OR_RETURN(Statement ins,
                     Prepare(db_, path_,
                             "INSERT INTO steps (run_id, step_id, kind, status, started_at, "
                             "finished_at, error, outputs_json) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    for (const nlohmann::json& s : ArrayOrEmpty(result, "steps")) {
      ins.Reset();
      ins.BindText(1, run_id);
      const nlohmann::json* step_id = Field(s, "id");
      ins.BindText(2, step_id && step_id->is_string() ? step_id->get<std::string>() : "");
      ins.BindJsonText(3, Field(s, "kind"));
      ins.BindJsonText(4, Field(s, "status"));
      ins.BindJsonText(5, Field(s, "started_at"));
      ins.BindJsonText(6, Field(s, "finished_at"));
      ins.BindJsonText(7, Field(s, "error"));
      const nlohmann::json* outputs = Field(s, "outputs");
      if (outputs) {
        ins.BindText(8, outputs->dump());
      } else {
        ins.BindNull(8);
      }
      RETURN_IF_ERROR(StepDone(ins, db_, path_, doing.c_str()));
    }
  }
  {
    ASSIGN_OR_RETURN(Statement ins,
                     Prepare(db_, path_,
                             "INSERT INTO events (run_id, seq, t_ns, t, type, step, message, "
                             "fault_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    int64_t seq = 0;
    for (const nlohmann::json& e : ArrayOrEmpty(result, "events")) {
      ins.Reset();
      ins.BindText(1, run_id);
      ins.BindInt(2, seq++);
      const nlohmann::json* t_ns = Field(e, "t_ns");
      if (t_ns && t_ns->is_number_integer()) {
        ins.BindInt(3, t_ns->get<int64_t>());
      } else {
        ins.BindNull(3);
      }
      ins.BindJsonText(4, Field(e, "t"));
      ins.BindJsonText(5, Field(e, "type"));
      ins.BindJsonText(6, Field(e, "step"));
      ins.BindJsonText(7, Field(e, "message"));
      const nlohmann::json* fault = Field(e, "fault");
      if (fault) {
        ins.BindText(8, fault->dump());
      } else {
        ins.BindNull(8);
      }
      RETURN_IF_ERROR(StepDone(ins, db_, path_, doing.c_str()));
    }
  }
  {
    ASSIGN_OR_RETURN(Statement ins, Prepare(db_, path_,
                                            "INSERT INTO series (run_id, workload, t, point_json) "
                                            "VALUES (?1, ?2, ?3, ?4)"));
    const nlohmann::json* workloads = Field(result, "workloads");
    if (workloads && workloads->is_object()) {
      for (const auto& [name, w] : workloads->items()) {
        for (const nlohmann::json& p : ArrayOrEmpty(w, "series")) {
          ins.Reset();
          ins.BindText(1, run_id);
          ins.BindText(2, name);
          const nlohmann::json* t = Field(p, "t");
          if (t && t->is_number()) {
            ins.BindReal(3, t->get<double>());
          } else {
            ins.BindNull(3);
          }
          ins.BindText(4, p.dump());
          RETURN_IF_ERROR(StepDone(ins, db_, path_, doing.c_str()));
        }
      }
    }
  }
  {
    ASSIGN_OR_RETURN(Statement ins,
                     Prepare(db_, path_,
                             "INSERT INTO checks (run_id, step, expect, observed_json, passed) "
                             "VALUES (?1, ?2, ?3, ?4, ?5)"));
    for (const nlohmann::json& c : ArrayOrEmpty(result, "checks")) {
      ins.Reset();
      ins.BindText(1, run_id);
      ins.BindJsonText(2, Field(c, "step"));
      ins.BindJsonText(3, Field(c, "expect"));
      const nlohmann::json* observed = Field(c, "observed");
      if (observed) {
        ins.BindText(4, observed->dump());
      } else {
        ins.BindNull(4);
      }
      const nlohmann::json* passed = Field(c, "passed");
      if (passed && passed->is_boolean()) {
        ins.BindInt(5, passed->get<bool>() ? 1 : 0);
      } else {
        ins.BindNull(5);
      }
      RETURN_IF_ERROR(StepDone(ins, db_, path_, doing.c_str()));
    }
  }
  return tx.Commit();
}

Result<std::vector<RunSummary>> RunStore::ListRuns(const RunFilter& filter) const {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(
      Statement q,
      Prepare(db_, path_,
              "SELECT run_id, flow, verdict, exit_code, started_at, finished_at "
              "FROM runs WHERE (?1 IS NULL OR flow = ?1) AND (?2 IS NULL OR verdict = ?2) "
              "AND (?4 IS NULL OR matrix_id = ?4) "
              "ORDER BY started_at DESC, run_id DESC LIMIT ?3"));
  if (filter.flow) {
    q.BindText(1, *filter.flow);
  } else {
    q.BindNull(1);
  }
  if (filter.verdict) {
    q.BindText(2, *filter.verdict);
  } else {
    q.BindNull(2);
  }
  q.BindInt(3, filter.limit > 0 ? filter.limit : -1);  // a negative LIMIT is no limit
  if (filter.matrix_id) {
    q.BindText(4, *filter.matrix_id);
  } else {
    q.BindNull(4);
  }
  std::vector<RunSummary> runs;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) runs.push_back(SummaryFromRow(q));
  if (rc != SQLITE_DONE) return DbError(db_, path_, "listing runs");
  return runs;
}

Result<nlohmann::json> RunStore::GetResult(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement q,
                   Prepare(db_, path_, "SELECT result_json FROM runs WHERE run_id = ?1"));
  q.BindText(1, run_id);
  int rc = q.Step();
  if (rc == SQLITE_DONE) return NotFoundError(run_id);
  if (rc != SQLITE_ROW) return DbError(db_, path_, "reading run " + run_id);
  nlohmann::json result = nlohmann::json::parse(q.Text(0), nullptr, /*allow_exceptions=*/false);
  if (result.is_discarded()) {
    return Internal("run store " + path_ + ": the stored result of run " + run_id +
                    " is not valid JSON; remove it with `drone runs rm " + run_id + "`");
  }
  return result;
}

Result<std::vector<nlohmann::json>> RunStore::Events(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(bool exists, RunExistsLocked(run_id));
  if (!exists) return NotFoundError(run_id);
  ASSIGN_OR_RETURN(Statement q, Prepare(db_, path_,
                                        "SELECT t, t_ns, type, step, message, fault_json FROM events "
                                        "WHERE run_id = ?1 ORDER BY seq"));
  q.BindText(1, run_id);
  std::vector<nlohmann::json> events;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    // The same shape as flow::Event::ToJson: t and t_ns, type, step, message and fault when
    // present.
    nlohmann::json e = nlohmann::json::object();
    if (!q.IsNull(0)) e["t"] = q.Text(0);
    if (!q.IsNull(1)) e["t_ns"] = q.Int(1);
    if (!q.IsNull(2)) e["type"] = q.Text(2);
    if (!q.IsNull(3)) e["step"] = q.Text(3);
    if (!q.IsNull(4)) e["message"] = q.Text(4);
    if (!q.IsNull(5)) {
      nlohmann::json fault = nlohmann::json::parse(q.Text(5), nullptr, false);
      if (!fault.is_discarded()) e["fault"] = std::move(fault);
    }
    events.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return DbError(db_, path_, "reading the events of run " + run_id);
  return events;
}

Result<std::vector<StoredHistogram>> RunStore::Histograms(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(bool exists, RunExistsLocked(run_id));
  if (!exists) return NotFoundError(run_id);
  ASSIGN_OR_RETURN(Statement q, Prepare(db_, path_,
                                        "SELECT workload, measurement, count, data FROM histograms "
                                        "WHERE run_id = ?1 ORDER BY workload, measurement"));
  q.BindText(1, run_id);
  std::vector<StoredHistogram> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back({q.Text(0), q.Text(1), static_cast<uint64_t>(q.Int(2)), q.Blob(3)});
  }
  if (rc != SQLITE_DONE) return DbError(db_, path_, "reading the histograms of run " + run_id);
  return out;
}

Result<std::vector<StoredArtifact>> RunStore::Artifacts(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(bool exists, RunExistsLocked(run_id));
  if (!exists) return NotFoundError(run_id);
  ASSIGN_OR_RETURN(Statement q, Prepare(db_, path_,
                                        "SELECT step, name, path, bytes FROM artifacts "
                                        "WHERE run_id = ?1 ORDER BY seq"));
  q.BindText(1, run_id);
  std::vector<StoredArtifact> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back({q.Text(0), q.Text(1), q.Text(2), q.IsNull(3) ? 0 : q.Int(3)});
  }
  if (rc != SQLITE_DONE) return DbError(db_, path_, "reading the artifacts of run " + run_id);
  return out;
}

Result<std::string> RunStore::FlowText(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement q,
                   Prepare(db_, path_, "SELECT flow_text FROM runs WHERE run_id = ?1"));
  q.BindText(1, run_id);
  int rc = q.Step();
  if (rc == SQLITE_DONE) return NotFoundError(run_id);
  if (rc != SQLITE_ROW) return DbError(db_, path_, "reading run " + run_id);
  return q.Text(0);
}

Status RunStore::DeleteRun(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement del, Prepare(db_, path_, "DELETE FROM runs WHERE run_id = ?1"));
  del.BindText(1, run_id);
  RETURN_IF_ERROR(StepDone(del, db_, path_, ("removing run " + run_id).c_str()));
  if (sqlite3_changes(db_) == 0) return NotFoundError(run_id);
  return Status::Ok();
}

}  // namespace drone::store
