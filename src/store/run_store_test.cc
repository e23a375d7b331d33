#include "store/run_store.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/testutil.h"

namespace drone::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh directory under the test temp dir, removed when the test ends.
class RunStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::path(::testing::TempDir()) /
           ("drone_store_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<RunStore> OpenOrDie(const fs::path& dir) {
    Result<std::unique_ptr<RunStore>> store = RunStore::Open(dir.string());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::string DbPath() const { return (dir_ / kDatabaseFileName).string(); }

  fs::path dir_;
};

// A raw connection to the store's database, for looking behind the API.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 10000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }

  // The first column of the first row as text ("" when there is none).
  std::string Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }
  void Exec(const std::string& sql) {
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
  }
  int Count(const std::string& table, const std::string& run_id) {
    return std::stoi(Query("SELECT count(*) FROM " + table + " WHERE run_id = '" + run_id + "'"));
  }

 private:
  sqlite3* db_ = nullptr;
};

// A result shaped like report::BuildResult's output.
json MakeResult(const std::string& run_id, const std::string& flow = "quickstart",
                const std::string& verdict = "pass",
                const std::string& started_at = "2026-01-02T03:04:05.000Z", int events = 3,
                std::vector<int> series_per_workload = {4}, int checks = 2) {
  json steps = json::array();
  steps.push_back({{"id", "cluster"},
                   {"kind", "cluster"},
                   {"status", "succeeded"},
                   {"started_at", started_at},
                   {"finished_at", started_at},
                   {"outputs", {{"bootstrap", "127.0.0.1:9092"}, {"nodes", {"n0", "n1", "n2"}}}}});
  steps.push_back({{"id", "verify"},
                   {"kind", "check"},
                   {"status", "failed"},
                   {"started_at", started_at},
                   {"finished_at", nullptr},
                   {"outputs", json::object()},
                   {"error", "lost == 0 failed"}});
  json workloads = json::object();
  for (size_t w = 0; w < series_per_workload.size(); ++w) {
    json series = json::array();
    for (int i = 0; i < series_per_workload[w]; ++i) {
      series.push_back({{"t", i + 0.5},
                        {"sent", 1000 * i},
                        {"acked", 999 * i},
                        {"lag", 0},
                        {"publish_p99_ms", 1.234}});
    }
    workloads["load" + std::to_string(w)] = {
        {"sent", 5000},
        {"acked", 4999},
        {"received", 4998},
        {"guarantee", "at-least-once"},
        {"delivery", {{"ok", 4998}, {"lost", 1}, {"lost_gap", 1}, {"lost_tail", 0}}},
        {"delivery_checked", true},
        {"load_seconds", 5.003},
        {"series", series}};
  }
  json event_list = json::array();
  for (int i = 0; i < events; ++i) {
    json e = {{"t", "2026-01-02T03:04:05.000Z"},
              {"t_ns", int64_t{1767323045000000000}},
              {"type", i == 0 ? "RUN_START" : "STEP_START"}};
    if (i > 0) e["step"] = "load";
    if (i == 2) e["message"] = "started";
    event_list.push_back(e);
  }
  json check_list = json::array();
  for (int i = 0; i < checks; ++i) {
    check_list.push_back({{"step", "verify"},
                          {"workload", "load0"},
                          {"expect", "lost == 0"},
                          {"observed", i},
                          {"passed", i == 0},
                          {"message", ""}});
  }
  return {{"run_id", run_id},
          {"flow", flow},
          {"file", "flows/" + flow + ".yaml"},
          {"params", {{"rate", 1000}, {"size", "512"}}},
          {"verdict", verdict},
          {"exit_code", verdict == "pass"   ? 0
                        : verdict == "fail" ? 1
                                            : 4},
          {"reasons", verdict == "pass" ? json::array() : json::array({"1 message lost"})},
          {"started_at", started_at},
          {"finished_at", "2026-01-02T03:04:15.500Z"},
          {"steps", steps},
          {"workloads", workloads},
          {"faults", json::array({{{"step", "outage"},
                                   {"kind", "kill"},
                                   {"target", "n1"},
                                   {"backend", "mock"},
                                   {"start", started_at},
                                   {"end", nullptr}}})},
          {"checks", check_list},
          {"events", event_list}};
}

std::vector<std::string> Ids(const std::vector<RunSummary>& runs) {
  std::vector<std::string> ids;
  for (const RunSummary& r : runs) ids.push_back(r.run_id);
  return ids;
}

// The listed run ids; a failed listing fails the test and yields {"<error>"}.
std::vector<std::string> ListIds(const RunStore& store, const RunFilter& filter) {
  Result<std::vector<RunSummary>> runs = store.ListRuns(filter);
  EXPECT_TRUE(runs.ok()) << runs.status().ToString();
  return runs.ok() ? Ids(runs.value()) : std::vector<std::string>{"<error>"};
}

TEST_F(RunStoreTest, OpenCreatesDirectoryAndDatabaseInWalMode) {
  fs::path nested = dir_ / "a" / "b";
  std::unique_ptr<RunStore> store = OpenOrDie(nested);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(fs::is_regular_file(nested / "runs.db"));
  EXPECT_EQ(store->path(), (nested / "runs.db").string());
  RawDb raw((nested / "runs.db").string());
  EXPECT_EQ(raw.Query("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.Query("SELECT version FROM schema_version"), std::to_string(kSchemaVersion));
  EXPECT_EQ(raw.Query("SELECT count(*) FROM schema_version"), "1");
  for (const char* table :
       {"runs", "steps", "events", "series", "checks", "histograms", "artifacts"}) {
    EXPECT_EQ(raw.Query(std::string("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                                    "name = '") +
                        table + "'"),
              "1")
        << table;
  }
  Result<std::vector<RunSummary>> runs = store->ListRuns({});
  ASSERT_OK(runs.status());
  EXPECT_TRUE(runs->empty());
}

TEST_F(RunStoreTest, ReopeningKeepsRunsAndSchemaVersion) {
  {
    std::unique_ptr<RunStore> store = OpenOrDie(dir_);
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->SaveResult(MakeResult("r1")));
  }
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  Result<json> got = store->GetResult("r1");
  ASSERT_OK(got.status());
  EXPECT_EQ(*got, MakeResult("r1"));
  EXPECT_EQ(RawDb(DbPath()).Query("SELECT count(*) FROM schema_version"), "1");
}

TEST_F(RunStoreTest, SaveAndGetRoundTripEqualsInput) {
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  json input = MakeResult("20260102-030405-abcd", "kafka-outage", "fail");
  input["workloads"]["load0"]["latency_ms"] = {{"publish", {{"p50", 0.123456789012345}}}};
  input["note"] = "extra fields survive";  // the contract allows extensions
  ASSERT_OK(store->SaveResult(input));
  Result<json> got = store->GetResult("20260102-030405-abcd");
  ASSERT_OK(got.status());
  EXPECT_EQ(*got, input);
  EXPECT_EQ(got->dump(2), input.dump(2));  // `drone runs show --json` prints this
}

TEST_F(RunStoreTest, SavingTheSameRunIdReplacesIt) {
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->SaveResult(
      MakeResult("r1", "quickstart", "pass", "2026-01-02T03:04:05.000Z", 5, {4, 4}, 3)));
  json second = MakeResult("r1", "quickstart", "fail", "2026-01-02T03:04:05.000Z", 1, {2}, 1);
  ASSERT_OK(store->SaveResult(second));

  Result<json> got = store->GetResult("r1");
  ASSERT_OK(got.status());
  EXPECT_EQ(*got, second);
  Result<std::vector<RunSummary>> runs = store->ListRuns({});
  ASSERT_OK(runs.status());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].verdict, "fail");
  EXPECT_EQ((*runs)[0].exit_code, 1);
  RawDb raw(DbPath());
  EXPECT_EQ(raw.Count("events", "r1"), 1);
  EXPECT_EQ(raw.Count("series", "r1"), 2);
  EXPECT_EQ(raw.Count("checks", "r1"), 1);
  EXPECT_EQ(raw.Count("steps", "r1"), 2);
}

TEST_F(RunStoreTest, ListIsNewestFirstAndFilters) {
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  // Saved out of order: the list orders by started_at, not by insertion.
  ASSERT_OK(store->SaveResult(MakeResult("b", "kafka", "fail", "2026-01-02T10:00:00.000Z")));
  ASSERT_OK(store->SaveResult(MakeResult("a", "quickstart", "pass", "2026-01-01T10:00:00.000Z")));
  ASSERT_OK(store->SaveResult(MakeResult("d", "kafka", "pass", "2026-01-04T10:00:00.000Z")));
  ASSERT_OK(
      store->SaveResult(MakeResult("c", "quickstart", "unknown", "2026-01-03T10:00:00.000Z")));

  Result<std::vector<RunSummary>> all = store->ListRuns({});
  ASSERT_OK(all.status());
  EXPECT_EQ(Ids(*all), (std::vector<std::string>{"d", "c", "b", "a"}));
  EXPECT_EQ((*all)[1].flow, "quickstart");
  EXPECT_EQ((*all)[1].verdict, "unknown");
  EXPECT_EQ((*all)[1].exit_code, 4);
  EXPECT_EQ((*all)[1].started_at, "2026-01-03T10:00:00.000Z");
  EXPECT_EQ((*all)[1].finished_at, "2026-01-02T03:04:15.500Z");

  RunFilter by_flow;
  by_flow.flow = "kafka";
  EXPECT_EQ(ListIds(*store, by_flow), (std::vector<std::string>{"d", "b"}));
  RunFilter by_verdict;
  by_verdict.verdict = "pass";
  EXPECT_EQ(ListIds(*store, by_verdict), (std::vector<std::string>{"d", "a"}));
  RunFilter both;
  both.flow = "kafka";
  both.verdict = "fail";
  EXPECT_EQ(ListIds(*store, both), (std::vector<std::string>{"b"}));
  RunFilter none;
  none.flow = "no-such-flow";
  EXPECT_TRUE(ListIds(*store, none).empty());
  RunFilter limited;
  limited.limit = 2;
  EXPECT_EQ(ListIds(*store, limited), (std::vector<std::string>{"d", "c"}));
  RunFilter unlimited;
  unlimited.limit = 0;
  EXPECT_EQ(ListIds(*store, unlimited).size(), 4u);
}

TEST_F(RunStoreTest, StoresEventSeriesCheckAndStepRows) {
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  json result = MakeResult("r1", "quickstart", "pass", "2026-01-02T03:04:05.000Z", 5, {3, 4}, 2);
  ASSERT_OK(store->SaveResult(result));
  RawDb raw(DbPath());
  EXPECT_EQ(raw.Count("events", "r1"), 5);
  EXPECT_EQ(raw.Count("series", "r1"), 7);
  EXPECT_EQ(raw.Query("SELECT count(*) FROM series WHERE run_id = 'r1' AND workload = 'load1'"),
            "4");
  EXPECT_EQ(raw.Query("SELECT max(t) FROM series WHERE run_id = 'r1' AND workload = 'load1'"),
            "3.5");
  EXPECT_EQ(raw.Count("checks", "r1"), 2);
  EXPECT_EQ(raw.Query("SELECT sum(passed) FROM checks WHERE run_id = 'r1'"), "1");
  EXPECT_EQ(raw.Count("steps", "r1"), 2);
  EXPECT_EQ(raw.Query("SELECT error FROM steps WHERE run_id = 'r1' AND step_id = 'verify'"),
            "lost == 0 failed");
  EXPECT_EQ(raw.Query("SELECT params_json FROM runs WHERE run_id = 'r1'"),
            R"({"rate":1000,"size":"512"})");

  Result<std::vector<json>> events = store->Events("r1");
  ASSERT_OK(events.status());
  ASSERT_EQ(events->size(), 5u);
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i], result["events"][i]) << i;

  ASSERT_OK(store->SaveResult(
      MakeResult("quiet", "quickstart", "pass", "2026-01-02T03:04:05.000Z", 0, {}, 0)));
  Result<std::vector<json>> no_events = store->Events("quiet");
  ASSERT_OK(no_events.status());
  EXPECT_TRUE(no_events->empty());
  EXPECT_EQ(store->Events("missing").status().code(), StatusCode::kNotFound);
}

// Histograms and artifacts for MakeResult's run, as a run of the engine would store them.
RunExtras MakeExtras() {
  RunExtras extras;
  // Bytes with a NUL and high bits: the column is a BLOB, not text.
  extras.histograms.push_back({"load0", "end_to_end", 42, std::string("HDR\0\x01\xff\x80x", 8)});
  extras.histograms.push_back({"load0", "publish", 7, std::string("\0\0\0", 3)});
  extras.flow_text = "name: quickstart\nsteps: {}\n";
  return extras;
}

json WithArtifacts(json result) {
  result["artifacts"] = json::array(
      {{{"step", "logs"}, {"name", "broker-1.log"}, {"path", "/tmp/run/logs/broker-1.log"},
        {"bytes", 1234}},
       {{"step", "logs"}, {"name", "stats.json"}, {"path", "/tmp/run/stats.json"}, {"bytes", 0}}});
  return result;
}

TEST_F(RunStoreTest, HistogramsArtifactsAndFlowTextRoundTrip) {
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  const RunExtras extras = MakeExtras();
  ASSERT_OK(store->SaveResult(WithArtifacts(MakeResult("r1")), extras));

  Result<std::vector<StoredHistogram>> histograms = store->Histograms("r1");
  ASSERT_OK(histograms.status());
  EXPECT_EQ(*histograms, extras.histograms);
  Result<std::vector<StoredArtifact>> artifacts = store->Artifacts("r1");
  ASSERT_OK(artifacts.status());
  const std::vector<StoredArtifact> want = {
      {"logs", "broker-1.log", "/tmp/run/logs/broker-1.log", 1234},
      {"logs", "stats.json", "/tmp/run/stats.json", 0}};
  EXPECT_EQ(*artifacts, want);
  Result<std::string> text = store->FlowText("r1");
  ASSERT_OK(text.status());
  EXPECT_EQ(*text, extras.flow_text);
  EXPECT_EQ(RawDb(DbPath()).Query(
                "SELECT sum(count) FROM histograms WHERE run_id = 'r1' AND workload = 'load0'"),
            "49");

  // A result without `artifacts` (no collect step) and a run without extras store neither.
  ASSERT_OK(store->SaveResult(MakeResult("plain")));
  ASSERT_OK(store->Histograms("plain").status());
  EXPECT_TRUE(store->Histograms("plain")->empty());
  EXPECT_TRUE(store->Artifacts("plain")->empty());
  EXPECT_EQ(store->FlowText("plain").value(), "");
  EXPECT_EQ(store->Histograms("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Artifacts("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->FlowText("missing").status().code(), StatusCode::kNotFound);
}

TEST_F(RunStoreTest, ListFiltersByMatrixId) {
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  for (const char* id : {"a", "b", "c"}) {
    json result = MakeResult(id);
    if (std::string(id) != "c") result["matrix"] = {{"id", "m1"}, {"index", 0}};
    ASSERT_OK(store->SaveResult(result));
  }
  RunFilter m1;
  m1.matrix_id = "m1";
  EXPECT_EQ(ListIds(*store, m1), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(RawDb(DbPath()).Query("SELECT count(*) FROM runs WHERE matrix_id IS NULL"), "1");
  RunFilter other;
  other.matrix_id = "m2";
  EXPECT_TRUE(ListIds(*store, other).empty());
}

TEST_F(RunStoreTest, StoresEveryEventTypeTheEngineEmits) {
  const std::vector<std::string> types = {
      "RUN_START",    "STEP_START",     "STEP_OUTPUT",  "STEP_SUCCESS",  "STEP_FAILURE",
      "STEP_SKIPPED", "STEP_RETRY",     "STEP_REUSED",  "FAULT_INJECTED", "FAULT_HEALED",
      "CHECK_PASSED", "CHECK_FAILED",   "UNDO",         "RUN_END"};
  json result = MakeResult("r1", "quickstart", "pass", "2026-01-02T03:04:05.000Z", 0);
  for (size_t i = 0; i < types.size(); ++i) {
    result["events"].push_back({{"t", "2026-01-02T03:04:05.000Z"},
                                {"t_ns", int64_t{1767323045000000000} + static_cast<int64_t>(i)},
                                {"type", types[i]},
                                {"step", "s" + std::to_string(i)},
                                {"message", "m" + std::to_string(i)}});
    if (types[i].rfind("FAULT_", 0) == 0) {
      result["events"].back()["fault"] = {{"kind", "impair"},
                                          {"target", "clients -> broker-1"},
                                          {"backend", "nfqueue"},
                                          {"details", {{"loss", 0.05}}}};
    }
  }
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->SaveResult(result));
  Result<std::vector<json>> events = store->Events("r1");
  ASSERT_OK(events.status());
  std::vector<std::string> got;
  for (const json& e : *events) got.push_back(e.at("type"));
  EXPECT_EQ(got, types);
  // Every field comes back, the fault events' `fault` payload included.
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i], result["events"][i]) << i;
  RawDb raw(DbPath());
  EXPECT_EQ(raw.Query("SELECT message FROM events WHERE run_id = 'r1' AND type = 'STEP_OUTPUT'"),
            "m2");
}

// The schema as Drone wrote it at version 1, frozen: an older runs.db must still open.
constexpr const char* kVersion1Schema = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, flow TEXT, file TEXT, verdict TEXT,
  exit_code INTEGER, started_at TEXT, finished_at TEXT, params_json TEXT,
  result_json TEXT NOT NULL);
CREATE INDEX runs_by_start ON runs (started_at DESC, run_id DESC);
CREATE INDEX runs_by_flow ON runs (flow, started_at DESC);
CREATE TABLE steps (run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  step_id TEXT NOT NULL, kind TEXT, status TEXT, started_at TEXT, finished_at TEXT, error TEXT,
  outputs_json TEXT);
CREATE INDEX steps_by_run ON steps (run_id);
CREATE TABLE events (run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  seq INTEGER NOT NULL, t_ns INTEGER, t TEXT, type TEXT, step TEXT, message TEXT,
  PRIMARY KEY (run_id, seq));
CREATE TABLE series (run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  workload TEXT NOT NULL, t REAL, point_json TEXT NOT NULL);
CREATE INDEX series_by_run ON series (run_id, workload, t);
CREATE TABLE checks (run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  step TEXT, expect TEXT, observed_json TEXT, passed INTEGER);
CREATE INDEX checks_by_run ON checks (run_id);
INSERT INTO runs (run_id, flow, verdict, exit_code, started_at, finished_at, result_json)
  VALUES ('old', 'quickstart', 'pass', 0, '2025-06-01T00:00:00.000Z',
          '2025-06-01T00:00:20.000Z', '{"run_id":"old","flow":"quickstart","verdict":"pass"}');
INSERT INTO events VALUES ('old', 0, 1, '2025-06-01T00:00:00.000Z', 'RUN_START', NULL, NULL);
)sql";

TEST_F(RunStoreTest, MigratesAVersion1Store) {
  fs::create_directories(dir_);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, kVersion1Schema, nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawDb(DbPath()).Query("SELECT max(version) FROM schema_version"),
            std::to_string(kSchemaVersion));
  // The old run reads as before and has nothing of what version 2 added.
  Result<json> old = store->GetResult("old");
  ASSERT_OK(old.status());
  EXPECT_EQ(old->at("verdict"), "pass");
  EXPECT_EQ(store->Events("old")->size(), 1u);
  EXPECT_TRUE(store->Histograms("old")->empty());
  EXPECT_EQ(store->FlowText("old").value(), "");
  EXPECT_EQ(ListIds(*store, RunFilter{}), std::vector<std::string>{"old"});
  // New runs use the new tables.
  ASSERT_OK(store->SaveResult(WithArtifacts(MakeResult("new")), MakeExtras()));
  EXPECT_EQ(store->Histograms("new")->size(), 2u);
  EXPECT_EQ(store->Artifacts("new")->size(), 2u);
  EXPECT_EQ(RawDb(DbPath()).Query("PRAGMA integrity_check"), "ok");
}

TEST_F(RunStoreTest, DeleteCascadesToEveryTable) {
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->SaveResult(WithArtifacts(MakeResult("gone")), MakeExtras()));
  ASSERT_OK(store->SaveResult(WithArtifacts(MakeResult("kept")), MakeExtras()));
  ASSERT_OK(store->DeleteRun("gone"));

  RawDb raw(DbPath());
  for (const char* table :
       {"runs", "steps", "events", "series", "checks", "histograms", "artifacts"}) {
    EXPECT_EQ(raw.Count(table, "gone"), 0) << table;
    EXPECT_GT(raw.Count(table, "kept"), 0) << table;
  }
  Status again = store->DeleteRun("gone");
  EXPECT_EQ(again.code(), StatusCode::kNotFound);
  Result<json> missing = store->GetResult("gone");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("'gone'"), std::string::npos);
  EXPECT_NE(missing.status().message().find("drone runs list"), std::string::npos)
      << missing.status().message();
}

TEST_F(RunStoreTest, SaveRejectsAResultWithoutRunId) {
  std::unique_ptr<RunStore> store = OpenOrDie(dir_);
  ASSERT_NE(store, nullptr);
  json no_id = MakeResult("x");
  no_id.erase("run_id");
  EXPECT_EQ(store->SaveResult(no_id).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->SaveResult(json::array()).code(), StatusCode::kInvalidArgument);
  json numeric_id = MakeResult("x");
  numeric_id["run_id"] = 7;
  EXPECT_EQ(store->SaveResult(numeric_id).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ListIds(*store, {}).empty());
}

TEST_F(RunStoreTest, OpenUnderARegularFileSaysWhatToDo) {
  fs::create_directories(dir_);
  fs::path file = dir_ / "not-a-dir";
  std::ofstream(file) << "x";
  fs::path data_dir = file / "drone";
  Result<std::unique_ptr<RunStore>> store = RunStore::Open(data_dir.string());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  const std::string& message = store.status().message();
  EXPECT_NE(message.find(data_dir.string()), std::string::npos) << message;
  EXPECT_NE(message.find("choose another --data-dir"), std::string::npos) << message;
}

TEST_F(RunStoreTest, OpenOnAFileThatIsNotADatabaseSaysWhatToDo) {
  fs::create_directories(dir_);
  std::ofstream(DbPath()) << std::string(4096, 'x');
  Result<std::unique_ptr<RunStore>> store = RunStore::Open(dir_.string());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find(DbPath()), std::string::npos) << store.status().message();
  EXPECT_NE(store.status().message().find("--data-dir"), std::string::npos);
}

TEST_F(RunStoreTest, OpenRefusesAStoreFromANewerDrone) {
  ASSERT_NE(OpenOrDie(dir_), nullptr);
  RawDb(DbPath()).Exec("UPDATE schema_version SET version = 99");
  Result<std::unique_ptr<RunStore>> store = RunStore::Open(dir_.string());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos) << store.status().message();
}

TEST_F(RunStoreTest, OpenRejectsAnEmptyPath) {
  EXPECT_EQ(RunStore::Open("").status().code(), StatusCode::kInvalidArgument);
}

// A writer killed with SIGKILL at an arbitrary point, most likely inside a transaction (a save is
// almost all of its loop), must leave a database that opens, passes integrity_check and holds every
// run whose commit the writer had reported. Three rounds, each killed after a different number of
// commits, each continuing the same database.
TEST_F(RunStoreTest, WriterKilledMidWriteLeavesAReadableDatabase) {
  constexpr int kRounds = 3;
  constexpr int kMaxWrites = 100000;  // the child's loop is bounded even if nobody kills it
  std::vector<std::string> committed;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const int kill_after = 5 + 7 * round;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // The child: no gtest assertions, only _exit. It opens its own connection after fork().
      close(fds[0]);
      Result<std::unique_ptr<RunStore>> store = RunStore::Open(dir_.string());
      if (!store.ok()) _exit(10);
      for (int i = 0; i < kMaxWrites; ++i) {
        const std::string id = "r" + std::to_string(round) + "-" + std::to_string(i);
        // Large enough that the process spends its time inside the transaction.
        if (!(*store)->SaveResult(MakeResult(id, "crash", "pass", "2026-01-02T03:04:05.000Z", 50,
                                             {200, 200}, 5),
                                  MakeExtras())
                 .ok()) {
          _exit(11);
        }
        const std::string line = id + "\n";
        if (write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(12);
      }
      _exit(0);
    }
    close(fds[1]);
    // Read commit reports until kill_after have arrived, with a deadline.
    std::string buffer;
    int seen = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (seen < kill_after && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 1000) <= 0) continue;
      char chunk[256];
      const ssize_t n = read(fds[0], chunk, sizeof(chunk));
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
      size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        committed.push_back(buffer.substr(0, nl));
        buffer.erase(0, nl + 1);
        ++seen;
      }
    }
    kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    close(fds[0]);
    ASSERT_GE(seen, kill_after) << "the writer reported too few commits";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer ended on its own (status " << status << ") before it was killed";

    std::unique_ptr<RunStore> store = OpenOrDie(dir_);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(RawDb(DbPath()).Query("PRAGMA integrity_check"), "ok");
    for (const std::string& id : committed) {
      Result<json> got = store->GetResult(id);
      ASSERT_OK(got.status());
      EXPECT_EQ(*got,
                MakeResult(id, "crash", "pass", "2026-01-02T03:04:05.000Z", 50, {200, 200}, 5))
          << id;
      Result<std::vector<StoredHistogram>> histograms = store->Histograms(id);
      ASSERT_OK(histograms.status());
      EXPECT_EQ(*histograms, MakeExtras().histograms) << id;
    }
    // A run is all or nothing: no rows of a run whose runs row is missing.
    EXPECT_EQ(RawDb(DbPath()).Query(
                  "SELECT count(*) FROM events WHERE run_id NOT IN (SELECT run_id FROM runs)"),
              "0");
  }
}

// WAL: a writer commits while another connection holds an open read transaction. In rollback
// journal mode the commit would wait for the reader (and fail after the busy timeout).
TEST_F(RunStoreTest, WriterCommitsWhileAnotherConnectionReads) {
  std::unique_ptr<RunStore> writer = OpenOrDie(dir_);
  std::unique_ptr<RunStore> reader = OpenOrDie(dir_);
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  ASSERT_OK(writer->SaveResult(MakeResult("first")));

  RawDb snapshot(DbPath());
  snapshot.Exec("BEGIN");
  EXPECT_EQ(snapshot.Query("SELECT count(*) FROM runs"), "1");  // the read snapshot starts here

  ASSERT_OK(
      writer->SaveResult(MakeResult("second", "quickstart", "pass", "2026-02-01T00:00:00.000Z")));
  Result<std::vector<RunSummary>> seen = reader->ListRuns({});
  ASSERT_OK(seen.status());
  EXPECT_EQ(Ids(*seen), (std::vector<std::string>{"second", "first"}));
  EXPECT_EQ(snapshot.Query("SELECT count(*) FROM runs"), "1");  // still its own snapshot
  snapshot.Exec("COMMIT");
  EXPECT_EQ(snapshot.Query("SELECT count(*) FROM runs"), "2");
}

// Two stores on one directory, and two threads on each: every call succeeds and nothing is lost.
TEST_F(RunStoreTest, TwoStoresOnOneDirectoryWriteAndReadConcurrently) {
  std::unique_ptr<RunStore> a = OpenOrDie(dir_);
  std::unique_ptr<RunStore> b = OpenOrDie(dir_);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kRunsPerWriter = 25;
  std::atomic<int> failures{0};
  auto write = [&](RunStore* store, const std::string& prefix) {
    for (int i = 0; i < kRunsPerWriter; ++i) {
      if (!store->SaveResult(MakeResult(prefix + std::to_string(i))).ok()) ++failures;
    }
  };
  std::atomic<bool> done{false};
  auto read = [&](RunStore* store) {
    size_t last = 0;
    while (!done.load()) {
      RunFilter all;
      all.limit = 0;
      Result<std::vector<RunSummary>> runs = store->ListRuns(all);
      if (!runs.ok() || runs->size() < last) {
        ++failures;
        return;
      }
      last = runs->size();
    }
  };
  std::thread reader_a(read, a.get());
  std::thread reader_b(read, b.get());
  std::thread writer_a(write, a.get(), "a");
  std::thread writer_b(write, b.get(), "b");
  writer_a.join();
  writer_b.join();
  done = true;
  reader_a.join();
  reader_b.join();
  EXPECT_EQ(failures.load(), 0);
  RunFilter all;
  all.limit = 0;
  EXPECT_EQ(ListIds(*a, all).size(), 2u * kRunsPerWriter);
  EXPECT_EQ(ListIds(*b, all).size(), 2u * kRunsPerWriter);
}

TEST(DefaultDataDirTest, FollowsTheXdgRule) {
  EXPECT_EQ(DefaultDataDir("/xdg/data", "/home/u"), "/xdg/data/drone");
  EXPECT_EQ(DefaultDataDir(nullptr, "/home/u"), "/home/u/.local/share/drone");
  EXPECT_EQ(DefaultDataDir("", "/home/u"), "/home/u/.local/share/drone");
  EXPECT_EQ(DefaultDataDir("relative", "/home/u"), "/home/u/.local/share/drone");
  EXPECT_EQ(DefaultDataDir(nullptr, nullptr), "");
}

}  // namespace
}  // namespace drone::store
