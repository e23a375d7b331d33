// The UI's API on a large run: a stored run of 1 M messages (one hour at ~278 msg/s: 3600
// per-second points) with 10 faults and their events, beside 200 smaller runs for the history
// list, all written through RunStore into a temporary data directory; `drone ui`'s server on an
// ephemeral port; each benchmark times one request with httplib's client, as the page makes it.
// `bytes` is the response size: what the page has to parse. Target (issue 6): every request a
// page makes stays well under 100 ms, and no response grows with the number of messages.
#include <benchmark/benchmark.h>
#include <httplib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "store/run_store.h"
#include "ui/ui_server.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kSeconds = 3600;
constexpr int kFaults = 10;
constexpr int kOtherRuns = 200;

std::string Timestamp(int64_t second, int ms = 0) {
  char buf[40];
  int h = static_cast<int>(second / 3600), m = static_cast<int>(second / 60 % 60),
      s = static_cast<int>(second % 60);
  snprintf(buf, sizeof(buf), "2026-12-01T%02d:%02d:%02d.%03dZ", h % 24, m, s, ms);
  return buf;
}

json BigRun(const std::string& id) {
  json series = json::array();
  uint64_t sent = 0;
  for (int i = 0; i < kSeconds; ++i) {
    uint64_t n = 1000000 / kSeconds + (i < 1000000 % kSeconds ? 1 : 0);
    sent += n;
    series.push_back({{"t", i + 1}, {"sent", n}, {"acked", n}, {"failed", 0},
                      {"indeterminate", 0}, {"received", n}, {"bytes_sent", n * 512},
                      {"lag", i % 17}, {"publish_p50_ms", 2.0 + i % 5},
                      {"publish_p99_ms", 8.0 + i % 300}, {"end_to_end_p50_ms", 3.0 + i % 7},
                      {"end_to_end_p99_ms", 12.0 + i % 400}});
  }
  json faults = json::array();
  json events = json::array({{{"t", Timestamp(0)}, {"t_ns", 0}, {"type", "RUN_START"}}});
  for (int f = 0; f < kFaults; ++f) {
    int from = 120 + f * 340;
    std::string step = "fault" + std::to_string(f);
    faults.push_back({{"step", step}, {"kind", "kill"}, {"target", "broker-" + std::to_string(f % 3 + 1)},
                      {"backend", "embedded-mock"}, {"start", Timestamp(from)}, {"end", Timestamp(from + 60)}});
    events.push_back({{"t", Timestamp(from)}, {"t_ns", from}, {"type", "FAULT_INJECTED"}, {"step", step}});
    events.push_back({{"t", Timestamp(from + 60)}, {"t_ns", from + 60}, {"type", "FAULT_HEALED"}, {"step", step}});
  }
  events.push_back({{"t", Timestamp(kSeconds + 5)}, {"t_ns", kSeconds + 5}, {"type", "RUN_END"}});
  return {{"run_id", id}, {"flow", "big"}, {"verdict", "pass"}, {"exit_code", 0},
          {"started_at", Timestamp(0)}, {"finished_at", Timestamp(kSeconds + 5)},
          {"params", json::object()}, {"steps", json::array()}, {"faults", faults}, {"events", events},
          {"workloads", {{"load", {{"sent", sent}, {"acked", sent}, {"received", sent},
                                   {"started_at", Timestamp(1)}, {"series", series}}}}}};
}

struct Fixture {
  fs::path dir;
  std::unique_ptr<drone::ui::UiServer> server;

  Fixture() {
    dir = fs::temp_directory_path() / ("drone-ui-bench-" + std::to_string(getpid()));
    fs::create_directories(dir / "flows");
    auto store = drone::store::RunStore::Open((dir / "data").string());
    if (!store.ok() || !(*store)->SaveResult(BigRun("big")).ok()) std::abort();
    for (int i = 0; i < kOtherRuns; ++i) {
      json small = BigRun("small-" + std::to_string(i));
      small["workloads"]["load"]["series"] = json::array();
      small["started_at"] = Timestamp(10 + i);
      if (!(*store)->SaveResult(small).ok()) std::abort();
    }
    drone::ui::UiOptions options;
    options.data_dir = (dir / "data").string();
    options.flows_dir = (dir / "flows").string();
    options.port = 0;
    options.drone_path = "/nonexistent";  // nothing is started
    auto started = drone::ui::UiServer::Start(options);
    if (!started.ok()) std::abort();
    server = std::move(started).value();
  }
  ~Fixture() {
    server.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Fixture& Shared() {
  static Fixture fixture;  // destroyed at exit: the server stops, the directory goes
  return fixture;
}

void Get(benchmark::State& state, const std::string& path) {
  httplib::Client client("127.0.0.1", Shared().server->port());
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  size_t bytes = 0;
  for (auto _ : state) {
    auto res = client.Get(path.c_str());
    if (!res || res->status != 200) {
      state.SkipWithError(("GET " + path + " failed").c_str());
      break;
    }
    bytes = res->body.size();
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

void BM_RunList(benchmark::State& s) { Get(s, "/api/runs"); }
void BM_RunResult(benchmark::State& s) { Get(s, "/api/runs/big"); }
void BM_RunResultWithoutSeries(benchmark::State& s) { Get(s, "/api/runs/big?series=false"); }
void BM_Series600(benchmark::State& s) { Get(s, "/api/runs/big/series?points=600"); }
void BM_Series5000(benchmark::State& s) { Get(s, "/api/runs/big/series?points=5000"); }
void BM_Events(benchmark::State& s) { Get(s, "/api/runs/big/events"); }
void BM_StreamOfStoredRun(benchmark::State& s) { Get(s, "/api/runs/big/stream"); }
void BM_Metrics(benchmark::State& s) { Get(s, "/metrics"); }

BENCHMARK(BM_RunList)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RunResult)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RunResultWithoutSeries)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Series600)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Series5000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Events)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StreamOfStoredRun)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Metrics)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
