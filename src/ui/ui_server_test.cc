#include "ui/ui_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "core/testutil.h"
#include "store/live_run_log.h"
#include "store/run_store.h"

namespace drone::ui {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFlow = R"(name: tiny
description: A small flow for the API tests.
params:
  rate: 100
steps:
  cluster: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 1 } }
  topic: { kind: topic, needs: [cluster], with: { name: t, partitions: 1, replication: 1 } }
  load:
    kind: workload
    needs: [topic]
    with: { topic: t, producers: 1, consumers: 1, rate: "${{ params.rate }}", duration: 1s }
)";

// A result as `drone run --json` writes it, with `seconds` series points, one fault and events.
json Result(const std::string& run_id, const std::string& verdict, int seconds) {
  json series = json::array();
  for (int i = 0; i < seconds; ++i) {
    series.push_back({{"t", i + 1},          {"sent", 100},       {"acked", 100},
                      {"failed", 0},         {"indeterminate", 0}, {"received", 100},
                      {"bytes_sent", 51200}, {"lag", 0},
                      {"publish_p50_ms", 1.0}, {"publish_p99_ms", i == seconds / 2 ? 900.0 : 2.0},
                      {"end_to_end_p50_ms", 1.5}, {"end_to_end_p99_ms", 3.0}});
  }
  return {{"run_id", run_id},
          {"flow", "tiny"},
          {"verdict", verdict},
          {"exit_code", verdict == "pass" ? 0 : 1},
          {"started_at", "2026-12-01T10:00:00.000Z"},
          {"finished_at", "2026-12-01T10:00:30.000Z"},
          {"params", {{"rate", "100"}}},
          {"steps", json::array()},
          {"workloads",
           {{"load", {{"sent", 100 * seconds}, {"started_at", "2026-12-01T10:00:02.000Z"},
                      {"series", series}}}}},
          {"faults", json::array({{{"step", "outage"}, {"kind", "fault.kill"}, {"target", "n2"},
                                   {"start", "2026-12-01T10:00:07.000Z"},
                                   {"end", "2026-12-01T10:00:15.000Z"}}})},
          {"events", json::array({{{"t", "2026-12-01T10:00:00.000Z"}, {"t_ns", 1}, {"type", "RUN_START"}},
                                  {{"t", "2026-12-01T10:00:07.000Z"}, {"t_ns", 2},
                                   {"type", "FAULT_INJECTED"}, {"step", "outage"}},
                                  {{"t", "2026-12-01T10:00:30.000Z"}, {"t_ns", 3}, {"type", "RUN_END"}}})}};
}

class UiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::path(::testing::TempDir()) /
           ("drone_ui_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "flows");
    std::ofstream(dir_ / "flows" / "tiny.yaml") << kFlow;
    auto store = store::RunStore::Open(data_dir());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override {
    server_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string data_dir() const { return (dir_ / "data").string(); }

  void StartServer(const std::string& token = "") {
    UiOptions options;
    options.data_dir = data_dir();
    options.flows_dir = (dir_ / "flows").string();
    options.port = 0;
    options.token = token;
    options.drone_path = "/nonexistent/drone";  // these tests start no runs
    options.stream_poll_ms = 20;
    auto started = UiServer::Start(options);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
  }

  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    return c;
  }

  json GetJson(const std::string& path, int expected_status = 200) {
    httplib::Client c = Client();
    auto res = c.Get(path.c_str());
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    EXPECT_EQ(res->status, expected_status) << path << ": " << res->body;
    return json::parse(res->body, nullptr, false);
  }

  fs::path dir_;
  std::unique_ptr<store::RunStore> store_;
  std::unique_ptr<UiServer> server_;
};

TEST_F(UiServerTest, RefusesANonLoopbackHostWithoutAToken) {
  UiOptions options;
  options.data_dir = data_dir();
  options.flows_dir = (dir_ / "flows").string();
  // By default the server listens on loopback only, on port 7777.
  EXPECT_EQ(options.host, "127.0.0.1");
  EXPECT_EQ(options.port, 7777);
  options.host = "0.0.0.0";
  auto started = UiServer::Start(options);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(started.status().message().find("--token"), std::string::npos);
}

TEST_F(UiServerTest, ListsRunsWithFiltersAndPaging) {
  ASSERT_OK(store_->SaveResult(Result("r1", "pass", 3)));
  json r2 = Result("r2", "fail", 3);
  r2["started_at"] = "2026-12-01T11:00:00.000Z";
  ASSERT_OK(store_->SaveResult(r2));
  StartServer();
  json all = GetJson("/api/runs");
  ASSERT_EQ(all["total"], 2);
  EXPECT_EQ(all["runs"][0]["run_id"], "r2");  // newest first
  EXPECT_EQ(all["runs"][1]["duration_s"], 30.0);
  json failed = GetJson("/api/runs?verdict=fail");
  ASSERT_EQ(failed["runs"].size(), 1u);
  EXPECT_EQ(failed["runs"][0]["run_id"], "r2");
  json since = GetJson("/api/runs?since=2026-12-01T10:30:00Z");
  ASSERT_EQ(since["runs"].size(), 1u);
  EXPECT_EQ(since["runs"][0]["run_id"], "r2");
  json page = GetJson("/api/runs?limit=1&offset=1");
  EXPECT_EQ(page["total"], 2);
  ASSERT_EQ(page["runs"].size(), 1u);
  EXPECT_EQ(page["runs"][0]["run_id"], "r1");
  GetJson("/api/runs?limit=0", 400);
}

TEST_F(UiServerTest, ListsTheRunsOfAMatrix) {
  for (int i = 0; i < 3; ++i) {
    json r = Result("m" + std::to_string(i), "pass", 1);
    r["matrix"] = {{"id", i < 2 ? "matrix-a" : "matrix-b"}, {"index", i}, {"combinations", 2},
                   {"params", {{"rate", std::to_string(100 * (i + 1))}}}};
    ASSERT_OK(store_->SaveResult(r));
  }
  ASSERT_OK(store_->SaveResult(Result("alone", "pass", 1)));
  StartServer();
  json a = GetJson("/api/runs?matrix=matrix-a");
  EXPECT_EQ(a["total"], 2);
  std::set<std::string> ids;
  for (const json& r : a["runs"]) ids.insert(r["run_id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"m0", "m1"}));
  EXPECT_EQ(GetJson("/api/runs?matrix=nothing")["total"], 0);
  EXPECT_EQ(GetJson("/api/runs")["total"], 4);
}

TEST_F(UiServerTest, ServesTheResultContractUnchanged) {
  json r = Result("r1", "pass", 3);
  ASSERT_OK(store_->SaveResult(r));
  StartServer();
  EXPECT_EQ(GetJson("/api/runs/r1"), r);
  json lean = GetJson("/api/runs/r1?series=false");
  EXPECT_FALSE(lean["workloads"]["load"].contains("series"));
  r["workloads"]["load"].erase("series");
  EXPECT_EQ(lean, r);  // nothing else left out
  json missing = GetJson("/api/runs/nope", 404);
  EXPECT_NE(missing["error"].get<std::string>().find("nope"), std::string::npos);
}

TEST_F(UiServerTest, FiltersEvents) {
  ASSERT_OK(store_->SaveResult(Result("r1", "pass", 3)));
  StartServer();
  json all = GetJson("/api/runs/r1/events");
  EXPECT_EQ(all["events"].size(), 3u);
  json faults = GetJson("/api/runs/r1/events?type=FAULT_INJECTED");
  ASSERT_EQ(faults["events"].size(), 1u);
  EXPECT_EQ(faults["events"][0]["step"], "outage");
}

TEST_F(UiServerTest, DownsamplesSeriesKeepingLatencySpikes) {
  ASSERT_OK(store_->SaveResult(Result("r1", "pass", 5000)));
  StartServer();
  json s = GetJson("/api/runs/r1/series?points=100");
  const json& load = s["workloads"]["load"];
  EXPECT_EQ(load["length"], 5000);
  ASSERT_EQ(load["t"].size(), 100u);
  ASSERT_EQ(load["publish_p99_ms"].size(), 100u);
  double worst = 0;
  for (const json& v : load["publish_p99_ms"]) worst = std::max(worst, v.get<double>());
  EXPECT_EQ(worst, 900.0);  // the one slow second survives as a group maximum
  EXPECT_EQ(load["sent"][0], 100.0);
  ASSERT_EQ(load["fault_windows"].size(), 1u);
  EXPECT_EQ(load["fault_windows"][0]["from_s"], 5.0);
  EXPECT_EQ(load["fault_windows"][0]["to_s"], 13.0);
  json short_series = GetJson("/api/runs/r1/series?points=1", 400);
  EXPECT_TRUE(short_series.contains("error"));
}

TEST_F(UiServerTest, DescribesAndValidatesFlows) {
  StartServer();
  json flows = GetJson("/api/flows");
  ASSERT_EQ(flows["flows"].size(), 1u);
  const json& tiny = flows["flows"][0];
  EXPECT_EQ(tiny["name"], "tiny");
  EXPECT_EQ(tiny["description"], "A small flow for the API tests.");
  EXPECT_EQ(tiny["params"]["rate"], "100");
  ASSERT_EQ(tiny["steps"].size(), 3u);
  EXPECT_EQ(tiny["steps"][1]["id"], "topic");
  EXPECT_EQ(tiny["steps"][1]["needs"][0]["step"], "cluster");
  EXPECT_TRUE(tiny["errors"].empty()) << tiny["errors"].dump();

  httplib::Client c = Client();
  auto bad = c.Post("/api/flows/tiny/validate", R"({"params": {"rate": "fast"}})",
                    "application/json");
  ASSERT_TRUE(bad);
  json v = json::parse(bad->body);
  EXPECT_FALSE(v["ok"].get<bool>());
  ASSERT_FALSE(v["errors"].empty());
  EXPECT_GT(v["errors"][0]["line"].get<int>(), 0);  // points at the line of the file
  auto good = c.Post("/api/flows/tiny/validate", R"({"params": {"rate": 50}})", "application/json");
  ASSERT_TRUE(good);
  EXPECT_TRUE(json::parse(good->body)["ok"].get<bool>()) << good->body;
  GetJson("/api/flows/..%2Fetc", 404);
  GetJson("/api/flows/missing", 404);
}

TEST_F(UiServerTest, RequiresTheTokenWhenOneIsSet) {
  StartServer("s3cret");
  httplib::Client c = Client();
  auto none = c.Get("/api/runs");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  auto wrong = c.Get("/api/runs", {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto bearer = c.Get("/api/runs", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(bearer);
  EXPECT_EQ(bearer->status, 200);
  auto query = c.Get("/?token=s3cret");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 200);
  EXPECT_NE(query->get_header_value("Set-Cookie").find("drone_token=s3cret"), std::string::npos);
  auto cookie = c.Get("/api/runs", {{"Cookie", "a=b; drone_token=s3cret"}});
  ASSERT_TRUE(cookie);
  EXPECT_EQ(cookie->status, 200);
}

TEST_F(UiServerTest, RefusesCrossOriginWritesAndForeignHosts) {
  StartServer();
  httplib::Client c = Client();
  std::string host = "127.0.0.1:" + std::to_string(server_->port());
  auto cross = c.Post("/api/flows/tiny/validate", {{"Origin", "http://evil.example"}}, "{}",
                      "application/json");
  ASSERT_TRUE(cross);
  EXPECT_EQ(cross->status, 403);
  auto site = c.Post("/api/flows/tiny/validate", {{"Sec-Fetch-Site", "cross-site"}}, "{}",
                     "application/json");
  ASSERT_TRUE(site);
  EXPECT_EQ(site->status, 403);
  auto same = c.Post("/api/flows/tiny/validate",
                     {{"Origin", "http://" + host}, {"Sec-Fetch-Site", "same-origin"}}, "{}",
                     "application/json");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 200);
  auto rebound = c.Get("/api/runs", {{"Host", "evil.example:7777"}});
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 403);
}

TEST_F(UiServerTest, RejectsBadRunRequestsWithoutStartingAnything) {
  StartServer();
  httplib::Client c = Client();
  auto bad_params = c.Post("/api/runs", R"({"flow": "tiny", "params": {"nope": 1}})",
                           "application/json");
  ASSERT_TRUE(bad_params);
  EXPECT_EQ(bad_params->status, 400);
  EXPECT_FALSE(json::parse(bad_params->body)["errors"].empty());
  auto no_flow = c.Post("/api/runs", R"({"flow": "missing"})", "application/json");
  ASSERT_TRUE(no_flow);
  EXPECT_EQ(no_flow->status, 404);
  auto garbage = c.Post("/api/runs", "not json", "application/json");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);
  json metrics_runs = GetJson("/api/runs");
  EXPECT_EQ(metrics_runs["total"], 0);
}

TEST_F(UiServerTest, StreamsLiveRowsAndEndsWithRunEnd) {
  StartServer();
  auto log = store::LiveRunLog::Open(data_dir());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_OK((*log)->Begin({"live1", "tiny", "2026-12-01T10:00:00.000Z", getpid()}));
  ASSERT_OK((*log)->AppendEvent("live1", {{"type", "RUN_START"}, {"t_ns", 1}}));

  std::mutex mu;
  std::string received;
  std::atomic<bool> finished{false};
  std::thread reader([&] {
    httplib::Client c = Client();
    c.Get("/api/runs/live1/stream", [&](const char* data, size_t n) {
      std::lock_guard<std::mutex> lock(mu);
      received.append(data, n);
      return true;
    });
    finished = true;
  });
  auto wait_for = [&](const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (received.find(text) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  EXPECT_TRUE(wait_for("RUN_START"));
  EXPECT_EQ(GetJson("/api/runs/live1")["verdict"], "running");
  EXPECT_EQ(GetJson("/api/runs?verdict=running")["total"], 1);
  ASSERT_OK((*log)->AppendPoint("live1", "load", {{"t", 1}, {"sent", 42}}));
  EXPECT_TRUE(wait_for("\"sent\":42"));
  EXPECT_EQ(GetJson("/api/runs/live1/series")["workloads"]["load"]["sent"][0], 42.0);
  EXPECT_FALSE(finished.load());

  json r = Result("live1", "pass", 2);
  ASSERT_OK(store_->SaveResult(r));
  ASSERT_OK((*log)->Finish("live1"));
  EXPECT_TRUE(wait_for("event: end"));
  reader.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_NE(received.find("RUN_END"), std::string::npos);
  // Never seen live, the stored run's other events still arrive, and seen ones not twice.
  EXPECT_NE(received.find("FAULT_INJECTED"), std::string::npos);
  EXPECT_EQ(received.find("RUN_START"), received.rfind("RUN_START"));
  EXPECT_NE(received.find("\"verdict\":\"pass\""), std::string::npos);
}

TEST_F(UiServerTest, LiveSeriesPlaceFaultWindowsOnTheLoadsAxis) {
  StartServer();
  auto log = store::LiveRunLog::Open(data_dir());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_OK((*log)->Begin({"live2", "tiny", "2026-12-01T10:00:00.000Z", getpid()}));
  // The load started at 10 s (wall clock); its second point ends at 12 s.
  ASSERT_OK((*log)->AppendPoint("live2", "load", {{"t", 1}, {"sent", 5}, {"t_ns", 11'000'000'000}}));
  ASSERT_OK((*log)->AppendPoint("live2", "load", {{"t", 2}, {"sent", 5}, {"t_ns", 12'000'000'000}}));
  ASSERT_OK((*log)->AppendEvent("live2", {{"type", "FAULT_INJECTED"}, {"step", "cut"},
                                          {"t_ns", 11'500'000'000},
                                          {"fault", {{"kind", "impair"},
                                                     {"target", "clients -> n1"},
                                                     {"backend", "tc-netem"}}}}));
  json open = GetJson("/api/runs/live2/series")["workloads"]["load"]["fault_windows"];
  ASSERT_EQ(open.size(), 1u) << open.dump();
  EXPECT_EQ(open[0]["step"], "cut");
  EXPECT_EQ(open[0]["kind"], "impair");
  EXPECT_EQ(open[0]["target"], "clients -> n1");
  EXPECT_EQ(open[0]["backend"], "tc-netem");
  EXPECT_DOUBLE_EQ(open[0]["from_s"].get<double>(), 1.5);
  EXPECT_TRUE(open[0]["to_s"].is_null());  // still active
  ASSERT_OK((*log)->AppendEvent("live2", {{"type", "FAULT_HEALED"}, {"step", "cut"},
                                          {"t_ns", 13'250'000'000}}));
  json healed = GetJson("/api/runs/live2/series")["workloads"]["load"]["fault_windows"];
  ASSERT_EQ(healed.size(), 1u);
  EXPECT_DOUBLE_EQ(healed[0]["to_s"].get<double>(), 3.25);
  ASSERT_OK((*log)->Finish("live2"));
}

TEST_F(UiServerTest, ExposesPrometheusMetrics) {
  ASSERT_OK(store_->SaveResult(Result("r1", "pass", 1)));
  StartServer();
  httplib::Client c = Client();
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("drone_ui_stored_runs{verdict=\"pass\"} 1"), std::string::npos)
      << res->body;
}

}  // namespace
}  // namespace drone::ui
