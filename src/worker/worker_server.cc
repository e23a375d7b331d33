#include "worker/worker_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/log.h"
#include "drivers/builtin_drivers.h"
#include "worker/protocol.h"
#include "workload/part.h"
#include "workload/workload.h"

namespace drone::worker {
namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr const char* kOctets = "application/octet-stream";
// Series points returned per status answer: a coordinator that fell behind catches up over a few.
constexpr size_t kMaxPointsPerStatus = 120;

// One share of a workload, running on a thread of its own. The coordinator's start and drain-end
// reach the runner through WorkloadControl; the runner's seconds reach status through
// WorkloadObserver.
class Share : public workload::WorkloadControl, public workload::WorkloadObserver {
 public:
  Share(Assignment assignment, std::unique_ptr<drivers::Driver> driver)
      : assignment_(std::move(assignment)),
        driver_(std::move(driver)),
        runner_(*driver_, assignment_.endpoint, assignment_.options, this, nullptr) {
    runner_.SetControl(this);
    Touch();
  }

  ~Share() override {
    cancel_.Cancel("the worker is shutting down");
    if (thread_.joinable()) thread_.join();
  }

  void Launch() {
    thread_ = std::thread([this] {
      drone::Status s = runner_.Run(cancel_);
      std::string bytes;
      if (s.ok()) bytes = workload::SerializePart(runner_.part());
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (s.ok()) {
          part_ = std::move(bytes);
          state_ = "finished";
        } else {
          state_ = "failed";
          error_ = s.ToString();
          LogWarn("worker: share " + assignment_.id + " failed: " + error_);
        }
      }
      done_.store(true);
      cv_.notify_all();
    });
  }

  // WorkloadControl.
  std::optional<int64_t> AwaitStart(const CancelToken& cancel) override {
    std::unique_lock<std::mutex> lock(mu_);
    state_ = "ready";
    while (!start_at_ && !cancel.cancelled()) cv_.wait_for(lock, std::chrono::milliseconds(50));
    if (!start_at_ || cancel.cancelled()) return std::nullopt;
    state_ = "running";
    return start_at_;
  }
  void AwaitDrainEnd(const CancelToken& cancel) override {
    std::unique_lock<std::mutex> lock(mu_);
    state_ = "draining";
    while (!drain_end_ && !cancel.aborted()) cv_.wait_for(lock, std::chrono::milliseconds(50));
  }

  // WorkloadObserver: OnHistograms() follows each OnSecond() with the cumulative histograms.
  void OnSecond(const workload::SeriesPoint& point, const workload::LiveTotals&, double,
                bool) override {
    pending_ = point;
  }
  void OnHistograms(const metrics::Histogram& publish, const metrics::Histogram& end_to_end) override {
    metrics::Histogram interval_publish = publish;
    interval_publish.Subtract(prev_publish_);
    metrics::Histogram interval_e2e = end_to_end;
    interval_e2e.Subtract(prev_e2e_);
    prev_publish_ = publish;
    prev_e2e_ = end_to_end;
    workload::PartSecond second{interval_publish.Serialize(), interval_e2e.Serialize()};
    std::lock_guard<std::mutex> lock(mu_);
    points_.push_back(pending_);
    seconds_.push_back(std::move(second));
  }

  void Touch() { last_contact_.store(MonotonicNs()); }
  int64_t SilentNs() const { return MonotonicNs() - last_contact_.load(); }
  int64_t lease_ns() const { return assignment_.lease_ns; }
  bool done() const { return done_.load(); }
  const std::string& id() const { return assignment_.id; }

  ShareStatus Snapshot(size_t since) {
    ShareStatus s;
    s.has_progress = runner_.Progress(&s.progress);
    std::lock_guard<std::mutex> lock(mu_);
    s.state = state_;
    s.error = error_;
    s.first_point = std::min(since, points_.size());
    const size_t end = std::min(points_.size(), s.first_point + kMaxPointsPerStatus);
    s.points.assign(points_.begin() + static_cast<ptrdiff_t>(s.first_point),
                    points_.begin() + static_cast<ptrdiff_t>(end));
    s.seconds.assign(seconds_.begin() + static_cast<ptrdiff_t>(s.first_point),
                     seconds_.begin() + static_cast<ptrdiff_t>(end));
    return s;
  }

  drone::Status Start(int64_t at_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != "ready") return FailedPrecondition("share " + id() + " is " + state_ + ", not ready");
    start_at_ = at_ns;
    cv_.notify_all();
    return drone::Status::Ok();
  }
  void EndDrain() {
    std::lock_guard<std::mutex> lock(mu_);
    drain_end_ = true;
    cv_.notify_all();
  }
  void Stop(bool graceful, const std::string& reason) {
    // An abort after a graceful stop must still stop at once: Cancel() keeps the first word.
    if (!graceful && cancel_.cancelled()) {
      cancel_.Hurry(reason);
    } else {
      cancel_.Cancel(reason, graceful);
    }
    cv_.notify_all();
  }
  // The part once finished; FailedPrecondition before, the share's error if it failed.
  Result<std::string> Part() {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == "failed") return Internal(error_);
    if (state_ != "finished") return FailedPrecondition("share " + id() + " is " + state_);
    return part_;
  }

 private:
  const Assignment assignment_;
  std::unique_ptr<drivers::Driver> driver_;
  workload::WorkloadRunner runner_;
  CancelToken cancel_;
  std::thread thread_;
  std::atomic<int64_t> last_contact_{0};
  std::atomic<bool> done_{false};
  // Sampler thread only.
  workload::SeriesPoint pending_;
  metrics::Histogram prev_publish_, prev_e2e_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::string state_ = "preparing";       // guarded by mu_
  std::string error_;                     // guarded by mu_
  std::optional<int64_t> start_at_;       // guarded by mu_
  bool drain_end_ = false;                // guarded by mu_
  std::vector<workload::SeriesPoint> points_;   // guarded by mu_
  std::vector<workload::PartSecond> seconds_;   // guarded by mu_
  std::string part_;                      // guarded by mu_
};

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}

void Error(httplib::Response& res, int status, const std::string& message) {
  Reply(res, status, {{"error", message}});
}

}  // namespace

struct WorkerServer::Impl {
  WorkerServerOptions options;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> done{false};
  int port = 0;

  mutable std::mutex mu;
  std::condition_variable reaper_cv;
  bool stopping = false;  // guarded by mu
  // Shared: a request handler keeps its share alive while DELETE or the reaper drops it.
  std::map<std::string, std::shared_ptr<Share>> shares;  // guarded by mu
  std::thread reaper;

  // The share named in the path, touched; nullptr (and a 404 written) when unknown.
  std::shared_ptr<Share> Find(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    std::lock_guard<std::mutex> lock(mu);
    auto it = shares.find(id);
    if (it == shares.end()) {
      Error(res, 404, "no share " + id + " on this worker");
      return nullptr;
    }
    it->second->Touch();
    return it->second;
  }

  void Routes() {
    const std::string prefix = kPathPrefix;
    const std::string share = prefix + R"(/workloads/([A-Za-z0-9._-]{1,64}))";
    server.Get(prefix + "/health", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      Reply(res, 200, {{"drone_worker", true},
                       {"protocol", kProtocolVersion},
                       {"shares", shares.size()},
                       {"max_shares", options.max_shares}});
    });
    server.Post(prefix + "/workloads", [this](const httplib::Request& req, httplib::Response& res) {
      json body = json::parse(req.body, nullptr, false);
      Result<Assignment> assignment = AssignmentFromJson(body);
      if (!assignment.ok()) return Error(res, 400, assignment.status().message());
      Result<std::unique_ptr<drivers::Driver>> driver = drivers::DriverRegistry().Create(assignment->driver);
      if (!driver.ok()) return Error(res, 400, driver.status().message());
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) return Error(res, 503, "the worker is shutting down");
      if (shares.count(assignment->id) != 0) {
        return Error(res, 409, "share " + assignment->id + " exists on this worker");
      }
      if (static_cast<int>(shares.size()) >= options.max_shares) {
        return Error(res, 503, "this worker holds " + std::to_string(shares.size()) +
                                   " shares, its limit");
      }
      const std::string id = assignment->id;
      auto created = std::make_shared<Share>(std::move(*assignment), std::move(*driver));
      created->Launch();
      shares.emplace(id, std::move(created));
      Reply(res, 201, {{"id", id}});
    });
    server.Get(share, [this](const httplib::Request& req, httplib::Response& res) {
      std::shared_ptr<Share> s = Find(req, res);
      if (s == nullptr) return;
      size_t since = 0;
      if (req.has_param("since")) since = static_cast<size_t>(std::strtoull(req.get_param_value("since").c_str(), nullptr, 10));
      Reply(res, 200, StatusToJson(s->Snapshot(since)));
    });
    server.Post(share + "/start", [this](const httplib::Request& req, httplib::Response& res) {
      std::shared_ptr<Share> s = Find(req, res);
      if (s == nullptr) return;
      json body = json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("start_at_ns") || !body["start_at_ns"].is_number_integer()) {
        return Error(res, 400, "expected {\"start_at_ns\": N}");
      }
      Status started = s->Start(body["start_at_ns"].get<int64_t>());
      if (!started.ok()) return Error(res, 409, started.message());
      Reply(res, 200, {{"ok", true}});
    });
    server.Post(share + "/end-drain", [this](const httplib::Request& req, httplib::Response& res) {
      std::shared_ptr<Share> s = Find(req, res);
      if (s == nullptr) return;
      s->EndDrain();
      Reply(res, 200, {{"ok", true}});
    });
    server.Post(share + "/stop", [this](const httplib::Request& req, httplib::Response& res) {
      std::shared_ptr<Share> s = Find(req, res);
      if (s == nullptr) return;
      json body = json::parse(req.body, nullptr, false);
      const bool graceful = body.is_object() && body.value("graceful", false);
      s->Stop(graceful, "stopped by the coordinator");
      Reply(res, 200, {{"ok", true}});
    });
    server.Get(share + "/part", [this](const httplib::Request& req, httplib::Response& res) {
      std::shared_ptr<Share> s = Find(req, res);
      if (s == nullptr) return;
      Result<std::string> part = s->Part();
      if (!part.ok()) {
        return Error(res, part.status().code() == StatusCode::kFailedPrecondition ? 409 : 500,
                     part.status().message());
      }
      res.status = 200;
      res.set_content(*part, kOctets);
    });
    server.Delete(share, [this](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      std::shared_ptr<Share> removed;
      {
        std::lock_guard<std::mutex> lock(mu);
        auto it = shares.find(id);
        if (it == shares.end()) return Error(res, 404, "no share " + id + " on this worker");
        removed = std::move(it->second);
        shares.erase(it);
      }
      // Aborts the share if it still runs and joins its thread (bounded: an aborted runner
      // flushes for at most a few seconds).
      removed->Stop(false, "deleted by the coordinator");
      removed.reset();
      Reply(res, 200, {{"ok", true}});
    });
  }

  // Aborts shares whose coordinator went silent; drops finished ones nobody fetched.
  void Reap() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      reaper_cv.wait_for(lock, std::chrono::nanoseconds(options.reap_interval_ns));
      std::vector<std::shared_ptr<Share>> dropped;
      for (auto it = shares.begin(); it != shares.end();) {
        Share& s = *it->second;
        if (s.SilentNs() > s.lease_ns()) {
          if (!s.done()) {
            LogWarn("worker: share " + s.id() + ": no word from its coordinator for " +
                    std::to_string(s.lease_ns() / kNsPerSec) + " s; aborting it");
            s.Stop(false, "the coordinator went silent");
            s.Touch();  // one more lease to finish and be fetched
          } else {
            dropped.push_back(std::move(it->second));
            it = shares.erase(it);
            continue;
          }
        }
        ++it;
      }
      lock.unlock();
      dropped.clear();  // threads are done: joins at once
      lock.lock();
    }
  }
};

Result<std::unique_ptr<WorkerServer>> WorkerServer::Start(const WorkerServerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (!options.token.empty()) {
    const std::string expected = "Bearer " + options.token;
    impl->server.set_pre_routing_handler([expected](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Authorization") == expected) return httplib::Server::HandlerResponse::Unhandled;
      Error(res, 401, "missing or wrong token (Authorization: Bearer TOKEN)");
      return httplib::Server::HandlerResponse::Handled;
    });
  }
  impl->Routes();
  impl->server.set_read_timeout(10, 0);
  impl->server.set_write_timeout(10, 0);
  impl->server.set_payload_max_length(1024 * 1024);  // assignments are small
  if (options.port == 0) {
    impl->port = impl->server.bind_to_any_port(options.host);
    if (impl->port <= 0) return Unavailable("cannot listen on " + options.host + " (ephemeral port)");
  } else {
    if (!impl->server.bind_to_port(options.host, options.port)) {
      return Unavailable("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                         " (in use, or not an address of this host?)");
    }
    impl->port = options.port;
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    raw->server.listen_after_bind();
    raw->done.store(true);
  });
  impl->reaper = std::thread([raw] { raw->Reap(); });
  return std::unique_ptr<WorkerServer>(new WorkerServer(std::move(impl)));
}

WorkerServer::WorkerServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WorkerServer::~WorkerServer() {
  // stop() is a no-op until the accept loop has started: repeat until it has ended (bounded).
  for (int i = 0; i < 10000 && !impl_->done.load(); ++i) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  std::map<std::string, std::shared_ptr<Share>> shares;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    shares.swap(impl_->shares);
  }
  impl_->reaper_cv.notify_all();
  if (impl_->reaper.joinable()) impl_->reaper.join();
  for (auto& [id, share] : shares) share->Stop(false, "the worker is shutting down");
  shares.clear();  // joins each share's thread
}

int WorkerServer::port() const { return impl_->port; }

std::string WorkerServer::url() const {
  return "http://" + impl_->options.host + ":" + std::to_string(impl_->port);
}

int WorkerServer::shares() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return static_cast<int>(impl_->shares.size());
}

}  // namespace drone::worker
