#include "ui/ui_server.h"

#include <arpa/inet.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/clock.h"
#include "metrics/prometheus.h"
#include "report/html_report.h"
#include "store/live_run_log.h"
#include "store/run_store.h"
#include "ui/flow_catalog.h"
#include "ui/run_launcher.h"
#include "ui/metrics_merge.h"
#include "ui/series_view.h"
#include "ui/ui_assets.h"

namespace drone::ui {
namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr const char* kTokenCookie = "drone_token";
constexpr int kThreads = 32;             // each live stream holds one
constexpr int kMaxStreams = 16;          // the rest stay free for the API
constexpr int64_t kMaxStreamNs = 24LL * 3600 * kNsPerSec;
constexpr int kRowsPerPoll = 2000;       // bounded work per poll
constexpr size_t kMaxLogBytes = 256 * 1024;
constexpr int kKeepAlivePolls = 25;      // about every 5 s
constexpr int kRunScrapeTimeoutUs = 500'000;  // a run's /metrics, on loopback

void SendJson(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  SendJson(res, {{"error", message}}, status);
}

int HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound: return 404;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

// Compares without an early exit, so the time taken says nothing about the token.
bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string CookieValue(const std::string& header, const std::string& name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string item = header.substr(pos, end - pos);
    size_t first = item.find_first_not_of(' ');
    if (first != std::string::npos) item = item.substr(first);
    if (item.compare(0, name.size() + 1, name + "=") == 0) return item.substr(name.size() + 1);
    pos = end + 1;
  }
  return std::string();
}

// "host" of a Host header or Origin authority ("127.0.0.1:7777", "[::1]:80").
std::string HostPart(const std::string& authority) {
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    return close == std::string::npos ? authority : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

json ParseBody(const httplib::Request& req, bool* ok) {
  if (req.body.empty()) {
    *ok = true;
    return json::object();
  }
  json body = json::parse(req.body, nullptr, false);
  *ok = !body.is_discarded() && body.is_object();
  return body;
}

// The "params" member of a request body as strings; false when it is not an object of scalars.
bool ParamsOf(const json& body, std::map<std::string, std::string>* out) {
  if (!body.contains("params")) return true;
  const json& params = body["params"];
  if (!params.is_object()) return false;
  for (const auto& [k, v] : params.items()) {
    if (v.is_string()) {
      (*out)[k] = v.get<std::string>();
    } else if (v.is_number() || v.is_boolean()) {
      (*out)[k] = v.dump();
    } else {
      return false;
    }
  }
  return true;
}

// What identifies an event across the live log and the stored run.
std::string EventKey(const json& e) {
  return std::to_string(e.value("t_ns", int64_t{0})) + "/" + e.value("type", "") + "/" +
         e.value("step", "") + "/" + e.value("message", "");
}

std::string SseMessage(const std::string& event, const json& data) {
  return "event: " + event + "\ndata: " + data.dump() + "\n\n";
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return false;
  return (ntohl(addr.s_addr) >> 24) == 127;
}

struct UiServer::Impl {
  UiOptions options;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> done{false};
  std::unique_ptr<store::RunStore> store;
  std::unique_ptr<store::LiveRunLog> live;
  std::unique_ptr<RunLauncher> launcher;
  metrics::PrometheusRegistry registry;
  int port = 0;

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;  // GUARDED_BY(stop_mu)
  std::atomic<int> streams{0};

  // Waits up to `ms`; false once the server is stopping.
  bool Pause(int ms) {
    std::unique_lock<std::mutex> lock(stop_mu);
    return !stop_cv.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping; });
  }

  bool Authorized(const httplib::Request& req, httplib::Response& res) const;
  void Routes();
  void GetRuns(const httplib::Request& req, httplib::Response& res);
  void GetRun(const std::string& id, const httplib::Request& req, httplib::Response& res);
  void GetEvents(const std::string& id, const httplib::Request& req, httplib::Response& res);
  void GetSeries(const std::string& id, const httplib::Request& req, httplib::Response& res);
  void GetLogs(const std::string& id, const std::string& step, httplib::Response& res);
  void PostRun(const httplib::Request& req, httplib::Response& res);
  void Stream(const std::string& id, httplib::Response& res);
  void Metrics(httplib::Response& res);
  void Static(const httplib::Request& req, httplib::Response& res);
};

bool UiServer::Impl::Authorized(const httplib::Request& req, httplib::Response& res) const {
  if (options.token.empty()) {
    // Loopback only: a Host naming anything else is a page of another site reaching us through
    // DNS rebinding.
    std::string host = HostPart(req.get_header_value("Host"));
    if (!host.empty() && !IsLoopbackHost(host)) {
      SendError(res, 403, "this server answers loopback names only (Host: " + host +
                              "); start it with --token to serve other names");
      return false;
    }
  } else {
    std::string given;
    std::string auth = req.get_header_value("Authorization");
    if (auth.compare(0, 7, "Bearer ") == 0) given = auth.substr(7);
    if (given.empty()) given = CookieValue(req.get_header_value("Cookie"), kTokenCookie);
    bool from_query = false;
    if (given.empty() && req.has_param("token")) {
      given = req.get_param_value("token");
      from_query = true;
    }
    if (!SameSecret(given, options.token)) {
      SendError(res, 401, "a token is required: open the URL `drone ui` printed (?token=...), or "
                          "send the header Authorization: Bearer TOKEN");
      return false;
    }
    if (from_query) {
      res.set_header("Set-Cookie", std::string(kTokenCookie) + "=" + options.token +
                                       "; Path=/; HttpOnly; SameSite=Strict");
    }
  }
  if (req.method == "POST" || req.method == "DELETE" || req.method == "PUT") {
    std::string site = req.get_header_value("Sec-Fetch-Site");
    if (!site.empty() && site != "same-origin" && site != "none") {
      SendError(res, 403, "cross-site writes are refused (Sec-Fetch-Site: " + site + ")");
      return false;
    }
    std::string origin = req.get_header_value("Origin");
    if (!origin.empty()) {
      std::string expected = "http://" + req.get_header_value("Host");
      if (origin != expected) {
        SendError(res, 403, "cross-origin writes are refused (Origin: " + origin + ")");
        return false;
      }
    }
  }
  return true;
}

void UiServer::Impl::GetRuns(const httplib::Request& req, httplib::Response& res) {
  std::string flow = req.get_param_value("flow");
  std::string verdict = req.get_param_value("verdict");
  std::string since = req.get_param_value("since");
  std::string matrix = req.get_param_value("matrix");
  int limit = 50;
  int offset = 0;
  try {
    if (req.has_param("limit")) limit = std::stoi(req.get_param_value("limit"));
    if (req.has_param("offset")) offset = std::stoi(req.get_param_value("offset"));
  } catch (const std::exception&) {
    SendError(res, 400, "limit and offset must be integers");
    return;
  }
  if (limit < 1 || limit > 1000 || offset < 0) {
    SendError(res, 400, "limit must be 1..1000 and offset >= 0");
    return;
  }
  json runs = json::array();
  // A matrix's runs are known once stored: runs in progress are not tagged with it.
  if ((verdict.empty() || verdict == "running") && matrix.empty()) {
    auto live_runs = live->List();
    if (live_runs.ok()) {
      for (const store::LiveRunInfo& r : *live_runs) {
        if (!flow.empty() && r.flow != flow) continue;
        if (!since.empty() && r.started_at < since) continue;
        runs.push_back({{"run_id", r.run_id}, {"flow", r.flow}, {"verdict", "running"},
                        {"exit_code", nullptr}, {"started_at", r.started_at},
                        {"finished_at", nullptr}, {"duration_s", nullptr}});
      }
    }
  }
  if (verdict != "running") {
    store::RunFilter filter;
    if (!flow.empty()) filter.flow = flow;
    if (!verdict.empty()) filter.verdict = verdict;
    if (!matrix.empty()) filter.matrix_id = matrix;
    filter.limit = 0;
    auto stored = store->ListRuns(filter);
    if (!stored.ok()) {
      SendError(res, 500, stored.status().message());
      return;
    }
    for (const store::RunSummary& r : *stored) {
      if (!since.empty() && r.started_at < since) continue;
      long long a = report::ParseTimestampMs(r.started_at);
      long long b = report::ParseTimestampMs(r.finished_at);
      json duration = (a >= 0 && b >= a) ? json(static_cast<double>(b - a) / 1000.0) : json(nullptr);
      runs.push_back({{"run_id", r.run_id}, {"flow", r.flow}, {"verdict", r.verdict},
                      {"exit_code", r.exit_code}, {"started_at", r.started_at},
                      {"finished_at", r.finished_at}, {"duration_s", duration}});
    }
  }
  json page = json::array();
  for (size_t i = static_cast<size_t>(offset); i < runs.size() && page.size() < static_cast<size_t>(limit); ++i) {
    page.push_back(runs[i]);
  }
  SendJson(res, {{"total", runs.size()}, {"offset", offset}, {"limit", limit}, {"runs", page}});
}

void UiServer::Impl::GetRun(const std::string& id, const httplib::Request& req,
                            httplib::Response& res) {
  auto result = store->GetResult(id);
  if (result.ok()) {
    // The page charts the series from /series; without them the result stays small however
    // long the run.
    if (req.get_param_value("series") == "false" && result->contains("workloads") &&
        (*result)["workloads"].is_object()) {
      for (auto& [name, w] : (*result)["workloads"].items()) {
        if (w.is_object()) w.erase("series");
      }
    }
    SendJson(res, *result);
    return;
  }
  auto in_progress = live->Find(id);
  if (in_progress.ok() && in_progress->has_value()) {
    const store::LiveRunInfo& r = **in_progress;
    SendJson(res, {{"run_id", r.run_id}, {"flow", r.flow}, {"verdict", "running"},
                   {"started_at", r.started_at}, {"live", true}});
    return;
  }
  std::optional<LaunchState> launched = launcher->State(id);
  if (launched) {
    // Started here, not yet writing (still loading) or ended without being stored (bad input).
    SendJson(res, {{"run_id", id}, {"verdict", launched->running ? "starting" : "not-stored"},
                   {"live", launched->running}, {"exit", launched->exit},
                   {"exit_code", launched->exit_code}, {"log", launched->log_tail}},
             launched->running ? 200 : 410);
    return;
  }
  SendError(res, HttpStatusOf(result.status()), result.status().message());
}

void UiServer::Impl::GetEvents(const std::string& id, const httplib::Request& req,
                               httplib::Response& res) {
  std::string type = req.get_param_value("type");
  std::string step = req.get_param_value("step");
  std::vector<json> events;
  auto stored = store->Events(id);
  if (stored.ok()) {
    events = std::move(stored).value();
  } else {
    auto rows = live->EventsAfter(id, 0, 1000000);
    if (!rows.ok() || rows->empty()) {
      SendError(res, 404, stored.status().message());
      return;
    }
    for (store::LiveRow& r : *rows) events.push_back(std::move(r.value));
  }
  json out = json::array();
  for (json& e : events) {
    if (!type.empty() && e.value("type", "") != type) continue;
    if (!step.empty() && e.value("step", "") != step) continue;
    out.push_back(std::move(e));
  }
  SendJson(res, {{"run_id", id}, {"events", out}});
}

void UiServer::Impl::GetSeries(const std::string& id, const httplib::Request& req,
                               httplib::Response& res) {
  size_t points = kDefaultSeriesPoints;
  if (req.has_param("points")) {
    try {
      long long p = std::stoll(req.get_param_value("points"));
      if (p < 2 || p > static_cast<long long>(kMaxSeriesPoints)) throw std::out_of_range("points");
      points = static_cast<size_t>(p);
    } catch (const std::exception&) {
      SendError(res, 400, "points must be 2.." + std::to_string(kMaxSeriesPoints));
      return;
    }
  }
  auto result = store->GetResult(id);
  if (result.ok()) {
    SendJson(res, SeriesOfResult(*result, points));
    return;
  }
  auto rows = live->PointsAfter(id, 0, 1000000);
  auto in_progress = live->Find(id);
  if (rows.ok() && in_progress.ok() && in_progress->has_value()) {
    std::vector<json> values;
    for (store::LiveRow& r : *rows) values.push_back(std::move(r.value));
    std::vector<json> events;
    auto event_rows = live->EventsAfter(id, 0, 1000000);
    if (event_rows.ok()) {
      for (store::LiveRow& r : *event_rows) events.push_back(std::move(r.value));
    }
    SendJson(res, SeriesOfLivePoints(id, values, events, points));
    return;
  }
  SendError(res, 404, result.status().message());
}

void UiServer::Impl::GetLogs(const std::string& id, const std::string& step,
                             httplib::Response& res) {
  std::string text;
  if (step == "drone") {
    std::optional<LaunchState> launched = launcher->State(id);
    if (!launched) {
      SendError(res, 404, "run " + id + " was not started by this server; its output is not kept");
      return;
    }
    res.set_content(launched->log_tail, "text/plain; charset=utf-8");
    return;
  }
  auto artifacts = store->Artifacts(id);
  if (!artifacts.ok()) {
    SendError(res, HttpStatusOf(artifacts.status()), artifacts.status().message());
    return;
  }
  int found = 0;
  for (const store::StoredArtifact& a : *artifacts) {
    if (a.step != step) continue;
    ++found;
    text += "== " + a.name + " (" + a.path + ")\n";
    std::ifstream in(a.path, std::ios::binary);
    if (!in) {
      text += "(no longer on disk)\n";
      continue;
    }
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    std::streamoff from = size > static_cast<std::streamoff>(kMaxLogBytes)
                              ? size - static_cast<std::streamoff>(kMaxLogBytes) : 0;
    in.seekg(from);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (from > 0) text += "(last " + std::to_string(kMaxLogBytes / 1024) + " KiB)\n";
    text += body;
    if (!body.empty() && body.back() != '\n') text += "\n";
  }
  if (found == 0) {
    SendError(res, 404, "step '" + step + "' of run " + id + " kept no log files");
    return;
  }
  res.set_content(text, "text/plain; charset=utf-8");
}

void UiServer::Impl::PostRun(const httplib::Request& req, httplib::Response& res) {
  bool ok = false;
  json body = ParseBody(req, &ok);
  std::map<std::string, std::string> params;
  if (!ok || !body.contains("flow") || !body["flow"].is_string() || !ParamsOf(body, &params)) {
    SendError(res, 400, "expected a JSON object {\"flow\": NAME, \"params\": {NAME: VALUE}}");
    return;
  }
  auto path = FlowPath(options.flows_dir, body["flow"].get<std::string>());
  if (!path.ok()) {
    SendError(res, 404, path.status().message());
    return;
  }
  // Bad input is answered here, with positions, rather than by a child that exits 2.
  json validation = ValidateFlow(*path, params);
  if (!validation["ok"].get<bool>()) {
    SendJson(res, {{"error", "the flow has problems; nothing was started"},
                   {"errors", validation["errors"]}}, 400);
    return;
  }
  auto run_id = launcher->Launch(*path, params);
  if (!run_id.ok()) {
    SendError(res, HttpStatusOf(run_id.status()), run_id.status().message());
    return;
  }
  SendJson(res, {{"run_id", *run_id}, {"stream", "/api/runs/" + *run_id + "/stream"}}, 202);
}

void UiServer::Impl::Stream(const std::string& id, httplib::Response& res) {
  // Events() answers NotFound for a run that is not stored, without reading its result.
  bool known = store->Events(id).ok() || launcher->State(id).has_value();
  if (!known) {
    auto in_progress = live->Find(id);
    known = in_progress.ok() && in_progress->has_value();
  }
  if (!known) {
    SendError(res, 404, "no run '" + id + "' (stored, in progress or started here)");
    return;
  }
  if (streams.fetch_add(1) >= kMaxStreams) {
    streams.fetch_sub(1);
    SendError(res, 503, "too many live streams open; close some pages");
    return;
  }
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  struct State {
    int64_t last_event = 0;
    int64_t last_point = 0;
    int64_t started_ns = NowNs();
    std::set<std::string> sent;  // EventKey() of the events sent
    int64_t polls = 0;
  };
  auto state = std::make_shared<State>();
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, id, state](size_t, httplib::DataSink& sink) {
        auto send = [&sink](const std::string& text) { return sink.write(text.data(), text.size()); };
        // The finished run, once stored, ends the stream: its RUN_END and verdict.
        auto finished = store->GetResult(id);
        if (finished.ok()) {
          // The events that landed after the last poll (the live rows may be gone by now), then
          // RUN_END: the stored run has them all.
          auto events = store->Events(id);
          json run_end = json::object();
          if (events.ok()) {
            for (const json& e : *events) {
              if (e.value("type", "") == "RUN_END") {
                run_end = e;
              } else if (state->sent.count(EventKey(e)) == 0) {
                send(SseMessage("event", e));
              }
            }
          }
          if (!run_end.empty()) send(SseMessage("event", run_end));
          send(SseMessage("end", {{"run_id", id},
                                  {"verdict", finished->value("verdict", "")},
                                  {"exit_code", finished->value("exit_code", -1)}}));
          sink.done();
          return true;
        }
        auto events = live->EventsAfter(id, state->last_event, kRowsPerPoll);
        if (events.ok()) {
          for (const store::LiveRow& r : *events) {
            state->last_event = r.seq;
            // RUN_END comes from the stored run, when its result can be read.
            if (r.value.value("type", "") == "RUN_END") continue;
            state->sent.insert(EventKey(r.value));
            if (!send(SseMessage("event", r.value))) return false;
          }
        }
        auto points = live->PointsAfter(id, state->last_point, kRowsPerPoll);
        if (points.ok()) {
          for (const store::LiveRow& r : *points) {
            state->last_point = r.seq;
            if (!send(SseMessage("point", r.value))) return false;
          }
        }
        std::optional<LaunchState> launched = launcher->State(id);
        auto in_progress = live->Find(id);
        bool live_now = in_progress.ok() && in_progress->has_value();
        if (launched && !launched->running && !live_now && !store->GetResult(id).ok()) {
          send(SseMessage("end", {{"run_id", id}, {"verdict", "not-stored"},
                                  {"exit", launched->exit}, {"log", launched->log_tail}}));
          sink.done();
          return true;
        }
        if (!launched && !live_now) {
          // Neither started here nor writing: a run killed before it was stored.
          send(SseMessage("end", {{"run_id", id}, {"verdict", "gone"}}));
          sink.done();
          return true;
        }
        // A comment now and then keeps proxies from timing the stream out, and finds readers
        // that have gone away.
        if (++state->polls % kKeepAlivePolls == 0 && !send(": keep-alive\n\n")) return false;
        if (NowNs() - state->started_ns > kMaxStreamNs) {
          sink.done();
          return true;
        }
        return Pause(options.stream_poll_ms);
      },
      [this](bool) { streams.fetch_sub(1); });
}

void UiServer::Impl::Metrics(httplib::Response& res) {
  registry.SetCounter("drone_ui_runs_started_total", {}, launcher->launched());
  registry.SetGauge("drone_ui_runs_running", {}, launcher->running());
  registry.SetGauge("drone_ui_streams_open", {}, streams.load());
  for (const char* verdict : {"pass", "fail", "unknown"}) {
    store::RunFilter filter;
    filter.verdict = verdict;
    filter.limit = 0;
    auto runs = store->ListRuns(filter);
    if (runs.ok()) {
      registry.SetGauge("drone_ui_stored_runs", {{"verdict", verdict}},
                        static_cast<double>(runs->size()));
    }
  }
  // The runs this server started serve their own metrics on loopback; one scrape here gets all.
  std::vector<std::string> texts = {registry.Exposition()};
  for (int run_port : launcher->MetricsPorts()) {
    httplib::Client c("127.0.0.1", run_port);
    c.set_connection_timeout(0, kRunScrapeTimeoutUs);
    c.set_read_timeout(0, kRunScrapeTimeoutUs);
    auto scraped = c.Get("/metrics");
    if (scraped && scraped->status == 200) texts.push_back(scraped->body);
  }
  res.set_content(MergeExpositions(texts), metrics::kPrometheusContentType);
}

void UiServer::Impl::Static(const httplib::Request& req, httplib::Response& res) {
  std::string path = req.path == "/" ? "/index.html" : req.path;
  const UiAsset* asset = FindUiAsset(path);
  if (asset == nullptr && path == "/index.html") {
    res.set_content(
        "<!doctype html><title>Drone</title><p>The front end was not built into this binary. "
        "Build it with <code>make setup build</code> (needs npm); the API is at "
        "<a href=\"/api/runs\">/api/runs</a>.</p>",
        "text/html; charset=utf-8");
    return;
  }
  if (asset == nullptr) {
    SendError(res, 404, "no such page: " + path);
    return;
  }
  // Hashed asset names never change content; the page itself is always fetched anew.
  res.set_header("Cache-Control", path == "/index.html" ? "no-cache" : "max-age=31536000, immutable");
  res.set_content(reinterpret_cast<const char*>(asset->data), asset->size, ContentTypeFor(path));
}

void UiServer::Impl::Routes() {
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    return Authorized(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                : httplib::Server::HandlerResponse::Handled;
  });
  server.Get("/api/flows", [this](const httplib::Request&, httplib::Response& res) {
    json flows = json::array();
    for (const std::string& name : ListFlowNames(options.flows_dir)) {
      auto path = FlowPath(options.flows_dir, name);
      if (path.ok()) flows.push_back(DescribeFlow(name, *path));
    }
    SendJson(res, {{"flows_dir", options.flows_dir}, {"flows", flows}});
  });
  server.Get(R"(/api/flows/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto path = FlowPath(options.flows_dir, req.matches[1]);
    if (!path.ok()) {
      SendError(res, 404, path.status().message());
      return;
    }
    json flow = DescribeFlow(req.matches[1], *path);
    std::ifstream in(*path, std::ios::binary);
    flow["text"] = std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SendJson(res, flow);
  });
  server.Post(R"(/api/flows/([^/]+)/validate)",
              [this](const httplib::Request& req, httplib::Response& res) {
                auto path = FlowPath(options.flows_dir, req.matches[1]);
                if (!path.ok()) {
                  SendError(res, 404, path.status().message());
                  return;
                }
                bool ok = false;
                json body = ParseBody(req, &ok);
                std::map<std::string, std::string> params;
                if (!ok || !ParamsOf(body, &params)) {
                  SendError(res, 400, "expected a JSON object {\"params\": {NAME: VALUE}}");
                  return;
                }
                SendJson(res, ValidateFlow(*path, params));
              });
  server.Get("/api/runs", [this](const httplib::Request& req, httplib::Response& res) {
    GetRuns(req, res);
  });
  server.Post("/api/runs", [this](const httplib::Request& req, httplib::Response& res) {
    PostRun(req, res);
  });
  server.Get(R"(/api/runs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    GetRun(req.matches[1], req, res);
  });
  server.Get(R"(/api/runs/([^/]+)/events)",
             [this](const httplib::Request& req, httplib::Response& res) {
               GetEvents(req.matches[1], req, res);
             });
  server.Get(R"(/api/runs/([^/]+)/series)",
             [this](const httplib::Request& req, httplib::Response& res) {
               GetSeries(req.matches[1], req, res);
             });
  server.Get(R"(/api/runs/([^/]+)/logs/([^/]+))",
             [this](const httplib::Request& req, httplib::Response& res) {
               GetLogs(req.matches[1], req.matches[2], res);
             });
  server.Get(R"(/api/runs/([^/]+)/stream)",
             [this](const httplib::Request& req, httplib::Response& res) {
               Stream(req.matches[1], res);
             });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { Metrics(res); });
  server.Get(R"(/api/.*)", [](const httplib::Request& req, httplib::Response& res) {
    SendError(res, 404, "no such endpoint: " + req.path + " (see docs/api.md)");
  });
  server.Get(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
    Static(req, res);
  });
}

Result<std::unique_ptr<UiServer>> UiServer::Start(const UiOptions& options) {
  if (options.token.empty() && !IsLoopbackHost(options.host)) {
    return InvalidArgument("--host " + options.host +
                           " is not a loopback address: serving it needs --token TOKEN "
                           "(every request must then carry it)");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  ASSIGN_OR_RETURN(impl->store, store::RunStore::Open(options.data_dir));
  ASSIGN_OR_RETURN(impl->live, store::LiveRunLog::Open(options.data_dir));
  ASSIGN_OR_RETURN(impl->launcher, RunLauncher::Create(options.drone_path, options.data_dir));
  impl->registry.Declare("drone_ui_runs_started_total", metrics::MetricType::kCounter,
                         "Runs started from the UI since the server started.");
  impl->registry.Declare("drone_ui_runs_running", metrics::MetricType::kGauge,
                         "Runs started from the UI that are still running.");
  impl->registry.Declare("drone_ui_streams_open", metrics::MetricType::kGauge,
                         "Live event streams open.");
  impl->registry.Declare("drone_ui_stored_runs", metrics::MetricType::kGauge,
                         "Runs in the run store, by verdict.");
  impl->server.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  // Small JSON answers on kept-alive connections would otherwise wait for delayed ACKs.
  impl->server.set_tcp_nodelay(true);
  impl->server.set_read_timeout(10, 0);
  impl->server.set_write_timeout(10, 0);
  impl->server.set_payload_max_length(1024 * 1024);
  impl->Routes();
  if (options.port == 0) {
    impl->port = impl->server.bind_to_any_port(options.host);
    if (impl->port <= 0) return Unavailable("cannot listen on " + options.host);
  } else {
    if (!impl->server.bind_to_port(options.host, options.port)) {
      return Unavailable("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                         " (in use?); choose another --port, or 0 for any free one");
    }
    impl->port = options.port;
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    raw->server.listen_after_bind();
    raw->done.store(true);
  });
  return std::unique_ptr<UiServer>(new UiServer(std::move(impl)));
}

UiServer::UiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UiServer::~UiServer() {
  {
    std::lock_guard<std::mutex> lock(impl_->stop_mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  // stop() is a no-op until the accept loop has started; repeat it until the loop has ended.
  for (int i = 0; i < 10000 && !impl_->done.load(); ++i) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->launcher.reset();
}

int UiServer::port() const { return impl_->port; }

std::string UiServer::url() const {
  std::string host = impl_->options.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(impl_->port) + "/";
}

}  // namespace drone::ui
