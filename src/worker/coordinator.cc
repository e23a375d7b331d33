#include "worker/coordinator.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "worker/protocol.h"
#include "workload/drain_tracker.h"
#include "workload/part.h"
#include "workload/stored_audit.h"

namespace drone::worker {
namespace {

using nlohmann::json;

// One worker's share, as the coordinator tracks it.
struct Remote {
  WorkerAddress address;
  std::string id;
  std::unique_ptr<httplib::Client> client;
  bool created = false;
  int failures = 0;
  ShareStatus last;  // the latest status (state, progress)
  std::vector<workload::SeriesPoint> points;
  std::vector<workload::PartSecond> seconds;
};

class Coordinator {
 public:
  Coordinator(const std::vector<WorkerAddress>& workers, const std::string& driver_name,
              drivers::Driver& driver, const drivers::Endpoint& endpoint,
              const workload::WorkloadOptions& options, workload::WorkloadObserver* observer,
              const CancelToken& cancel, const CoordinatorOptions& coordinator)
      : driver_name_(driver_name),
        driver_(driver),
        endpoint_(endpoint),
        options_(options),
        observer_(observer),
        cancel_(cancel),
        co_(coordinator) {
    // Deal producers and consumers round-robin; workers that get neither are not used.
    const size_t n = workers.size();
    std::vector<std::vector<int>> producers(n), consumers(n);
    for (int i = 0; i < options.producers; ++i) producers[static_cast<size_t>(i) % n].push_back(i);
    for (int i = 0; i < options.consumers; ++i) consumers[static_cast<size_t>(i) % n].push_back(i);
    for (size_t w = 0; w < n; ++w) {
      if (producers[w].empty() && consumers[w].empty()) continue;
      Remote r;
      r.address = workers[w];
      r.id = ShareId(w);
      r.client = std::make_unique<httplib::Client>(r.address.url);
      const auto seconds = [](int64_t ns) { return std::chrono::milliseconds(ns / kNsPerMs); };
      r.client->set_connection_timeout(seconds(std::min<int64_t>(co_.call_timeout_ns, 3 * kNsPerSec)));
      r.client->set_read_timeout(seconds(co_.call_timeout_ns));
      r.client->set_write_timeout(seconds(co_.call_timeout_ns));
      if (!r.address.token.empty()) {
        r.client->set_default_headers({{"Authorization", "Bearer " + r.address.token}});
      }
      remotes_.push_back(std::move(r));
      shares_.push_back({producers[w], consumers[w]});
    }
  }

  ~Coordinator() {
    // Whatever happened, leave nothing on the workers.
    for (Remote& r : remotes_) {
      if (!r.created) continue;
      r.client->set_read_timeout(std::chrono::seconds(5));
      r.client->Delete(Path(r));
    }
  }

  Result<workload::WorkloadResult> Run();

 private:
  std::string ShareId(size_t w) const {
    std::string name;
    for (char c : options_.name) name += ValidShareId(std::string(1, c)) ? c : '_';
    char run[32];
    snprintf(run, sizeof(run), "%016llx", static_cast<unsigned long long>(options_.run_id));
    return (name.substr(0, 32) + "-" + run + "-w" + std::to_string(w + 1));
  }
  static std::string Path(const Remote& r) { return std::string(kPathPrefix) + "/workloads/" + r.id; }

  Status Fail(const Remote& r, const std::string& what) const {
    return Unavailable("worker " + r.address.url + " (workload " + options_.name + "): " + what);
  }

  // One JSON call; an error names the worker. Counts consecutive failures.
  Result<json> Call(Remote& r, const std::string& method, const std::string& path,
                    const json& body = nullptr) {
    httplib::Result res = method == "GET" ? r.client->Get(path)
                          : method == "DELETE"
                              ? r.client->Delete(path)
                              : r.client->Post(path, body.is_null() ? std::string("{}") : body.dump(),
                                               "application/json");
    if (!res) {
      ++r.failures;
      return Fail(r, method + " " + path + ": " + httplib::to_string(res.error()));
    }
    json answer = json::parse(res->body, nullptr, false);
    if (res->status / 100 != 2) {
      ++r.failures;
      const std::string message = answer.is_object() && answer.contains("error")
                                      ? answer["error"].get<std::string>()
                                      : "HTTP " + std::to_string(res->status);
      return Fail(r, message);
    }
    r.failures = 0;
    if (answer.is_discarded()) return Fail(r, method + " " + path + ": the answer is not JSON");
    return answer;
  }

  Status Create() {
    for (size_t i = 0; i < remotes_.size(); ++i) {
      Remote& r = remotes_[i];
      Assignment a;
      a.id = r.id;
      a.driver = driver_name_;
      a.endpoint = endpoint_;
      a.options = options_;
      a.options.producer_ids = shares_[i].first;
      a.options.consumer_ids = shares_[i].second;
      a.lease_ns = co_.lease_ns;
      Result<json> created = Call(r, "POST", std::string(kPathPrefix) + "/workloads", AssignmentToJson(a));
      if (!created.ok()) return created.status();
      r.created = true;
    }
    return Status::Ok();
  }

  // Polls every share once (tolerating a few failed calls); collects its new series points.
  Status PollAll() {
    for (Remote& r : remotes_) {
      Result<json> answer = Call(r, "GET", Path(r) + "?since=" + std::to_string(r.points.size()));
      if (!answer.ok()) {
        if (r.failures >= co_.failures_tolerated) return answer.status();
        continue;
      }
      Result<ShareStatus> status = StatusFromJson(*answer);
      if (!status.ok()) return Fail(r, "bad status: " + status.status().message());
      if (status->state == "failed") return Fail(r, status->error);
      if (status->first_point == r.points.size()) {
        for (size_t i = 0; i < status->points.size(); ++i) {
          r.points.push_back(status->points[i]);
          r.seconds.push_back(std::move(status->seconds[i]));
        }
      }
      const bool keep_progress = !status->has_progress && r.last.has_progress;
      workload::RunnerProgress previous = r.last.progress;
      r.last = std::move(*status);
      if (keep_progress) {  // after the runner ended: its last progress stands
        r.last.progress = std::move(previous);
        r.last.has_progress = true;
      }
      r.last.points.clear();
      r.last.seconds.clear();
    }
    return Status::Ok();
  }

  bool All(const std::vector<std::string>& states) const {
    return std::all_of(remotes_.begin(), remotes_.end(), [&](const Remote& r) {
      return std::find(states.begin(), states.end(), r.last.state) != states.end();
    });
  }

  // Forwards the run's cancellation: a graceful stop once, and an abort (also one that follows
  // a graceful stop, e.g. a second Ctrl-C) once.
  void ForwardCancel() {
    if (!cancel_.cancelled()) return;
    const int level = cancel_.aborted() ? 2 : 1;
    if (level <= cancel_forwarded_) return;
    cancel_forwarded_ = level;
    for (Remote& r : remotes_) {
      (void)Call(r, "POST", Path(r) + "/stop", {{"graceful", level == 1}});
    }
  }

  // Merges the series points every share has reached and hands them to the observer.
  void EmitSeconds(bool draining) {
    size_t ready = SIZE_MAX;
    for (const Remote& r : remotes_) ready = std::min(ready, r.points.size());
    if (ready == SIZE_MAX) return;
    for (; emitted_ < ready; ++emitted_) Emit(emitted_, draining);
  }

  void Emit(size_t i, bool draining) {
    std::vector<const workload::SeriesPoint*> points;
    std::vector<const workload::PartSecond*> seconds;
    for (const Remote& r : remotes_) {
      if (i >= r.points.size()) continue;
      points.push_back(&r.points[i]);
      seconds.push_back(&r.seconds[i]);
      if (Result<metrics::Histogram> h = metrics::Histogram::Deserialize(r.seconds[i].publish); h.ok()) {
        cumulative_publish_.Merge(*h);
      }
      if (Result<metrics::Histogram> h = metrics::Histogram::Deserialize(r.seconds[i].end_to_end); h.ok()) {
        cumulative_e2e_.Merge(*h);
      }
    }
    workload::SeriesPoint point = workload::MergeSecond(points, seconds);
    totals_.sent += point.sent;
    totals_.acked += point.acked;
    totals_.failed += point.failed;
    totals_.indeterminate += point.indeterminate;
    totals_.received += point.received;
    point.lag = options_.consumers > 0
                    ? static_cast<int64_t>(totals_.acked) - static_cast<int64_t>(totals_.received)
                    : 0;
    if (observer_ != nullptr) {
      observer_->OnSecond(point, totals_, point.t_s, draining);
      observer_->OnHistograms(cumulative_publish_, cumulative_e2e_);
    }
  }

  void Sleep(int64_t ns) const { std::this_thread::sleep_for(std::chrono::nanoseconds(ns)); }

  int Lanes() const {
    for (const Remote& r : remotes_) {
      if (r.last.has_progress) return static_cast<int>(r.last.progress.drain.next_offset.size());
    }
    return 0;
  }

  // Every consumer of the group has its lanes: as WorkloadRunner::WaitForConsumers() decides.
  bool ConsumersAssigned(int lanes) const {
    if (options_.consumers == 0) return true;
    const int want_each = options_.consumers <= lanes ? 1 : 0;
    int total = 0, seen = 0;
    bool each = true;
    for (const Remote& r : remotes_) {
      for (int assigned : r.last.progress.consumer_lanes) {
        total += assigned;
        each = each && assigned >= want_each;
        ++seen;
      }
    }
    return seen == options_.consumers && total >= lanes && each;
  }

  const std::string driver_name_;
  drivers::Driver& driver_;
  const drivers::Endpoint endpoint_;
  const workload::WorkloadOptions options_;
  workload::WorkloadObserver* observer_;
  const CancelToken& cancel_;
  const CoordinatorOptions co_;
  std::vector<Remote> remotes_;
  std::vector<std::pair<std::vector<int>, std::vector<int>>> shares_;
  int cancel_forwarded_ = 0;  // 1: a graceful stop, 2: an abort was forwarded
  size_t emitted_ = 0;
  workload::LiveTotals totals_;
  metrics::Histogram cumulative_publish_, cumulative_e2e_;
};

Result<workload::WorkloadResult> Coordinator::Run() {
  if (remotes_.empty()) return InvalidArgument("workload " + options_.name + " has no producers or consumers");
  RETURN_IF_ERROR(Create());

  // Every share creates its clients; consumers join the group.
  int64_t deadline = MonotonicNs() + co_.prepare_timeout_ns;
  while (true) {
    RETURN_IF_ERROR(PollAll());
    ForwardCancel();
    if (All({"ready", "draining", "finished"})) break;
    if (MonotonicNs() >= deadline) {
      return Unavailable("workload " + options_.name + ": workers not ready within " +
                         std::to_string(co_.prepare_timeout_ns / kNsPerSec) + " s");
    }
    Sleep(50 * kNsPerMs);
  }
  const int lanes = Lanes();
  LogInfo("workload " + options_.name + ": " + std::to_string(remotes_.size()) + " shares ready");
  if (!cancel_.cancelled()) {
    deadline = MonotonicNs() + options_.consumer_ready_timeout_ns;
    while (!ConsumersAssigned(lanes) && !cancel_.cancelled()) {
      if (MonotonicNs() >= deadline) {
        LogWarn("workload " + options_.name + ": consumers did not get all partitions within " +
                std::to_string(options_.consumer_ready_timeout_ns / kNsPerSec) + "s; starting anyway");
        break;
      }
      Sleep(50 * kNsPerMs);
      RETURN_IF_ERROR(PollAll());
    }
  }
  if (!cancel_.cancelled()) {
    // One instant for all: far enough ahead for every worker to hear of it.
    const int64_t start_at = NowNs() + 300 * kNsPerMs;
    for (Remote& r : remotes_) {
      Result<json> started = Call(r, "POST", Path(r) + "/start", {{"start_at_ns", start_at}});
      if (!started.ok()) return started.status();
    }
    if (observer_ != nullptr) observer_->OnStarted();
    LogInfo("workload " + options_.name + ": started on the workers");
  }
  ForwardCancel();

  // The load: until every share's producers are done.
  while (true) {
    RETURN_IF_ERROR(PollAll());
    ForwardCancel();
    EmitSeconds(false);
    if (All({"draining", "finished"})) break;
    Sleep(co_.poll_interval_ns);
  }

  LogInfo("workload " + options_.name + ": producers done; draining");
  // The drain, decided over every worker's progress.
  std::vector<bool> caught_up;
  const uint32_t domain_count = static_cast<uint32_t>(options_.producers * lanes);
  if (options_.consumers > 0 && !cancel_.aborted()) {
    workload::DrainTracker tracker(driver_, endpoint_, options_.name, options_.topic, options_.group,
                                   lanes, domain_count);
    deadline = MonotonicNs() + options_.drain_timeout_ns;
    int64_t next_emit = MonotonicNs();
    while (true) {
      RETURN_IF_ERROR(PollAll());
      ForwardCancel();
      workload::DrainProgress merged;
      for (const Remote& r : remotes_) merged.Merge(r.last.progress.drain);
      if (tracker.CaughtUp(merged) || MonotonicNs() >= deadline || cancel_.aborted()) break;
      if (MonotonicNs() >= next_emit) {
        EmitSeconds(true);
        next_emit = MonotonicNs() + co_.poll_interval_ns;
      }
      Sleep(std::max<int64_t>(tracker.ProbeIntervalNs(), 20 * kNsPerMs));
    }
    caught_up = tracker.DomainsCaughtUp();
  }
  caught_up.resize(domain_count, false);
  LogInfo("workload " + options_.name + ": drain over; finishing the shares");
  for (Remote& r : remotes_) {
    Result<json> ended = Call(r, "POST", Path(r) + "/end-drain");
    if (!ended.ok()) return ended.status();
  }

  deadline = MonotonicNs() + co_.finish_timeout_ns;
  while (true) {
    RETURN_IF_ERROR(PollAll());
    ForwardCancel();
    if (All({"finished"})) break;
    // Hurried (a second Ctrl-C): no waiting for what the workers measured; the shares are
    // deleted on the way out.
    if (cancel_.hurried()) return Cancelled("workload " + options_.name + " was stopped in a hurry");
    if (MonotonicNs() >= deadline) {
      return Unavailable("workload " + options_.name + ": workers did not finish within " +
                         std::to_string(co_.finish_timeout_ns / kNsPerSec) + " s of the drain");
    }
    Sleep(50 * kNsPerMs);
  }

  LogInfo("workload " + options_.name + ": shares finished; fetching their parts");
  std::vector<workload::WorkloadPart> parts;
  for (Remote& r : remotes_) {
    r.client->set_read_timeout(std::chrono::milliseconds(co_.finish_timeout_ns / kNsPerMs));
    httplib::Result res = r.client->Get(Path(r) + "/part");
    if (!res) return Fail(r, "GET part: " + httplib::to_string(res.error()));
    if (res->status != 200) return Fail(r, "GET part: HTTP " + std::to_string(res->status) + " " + res->body);
    Result<workload::WorkloadPart> part = workload::DeserializePart(res->body);
    if (!part.ok()) return Fail(r, part.status().message());
    parts.push_back(std::move(*part));
  }
  std::vector<const workload::WorkloadPart*> pointers;
  for (const workload::WorkloadPart& p : parts) pointers.push_back(&p);
  std::vector<verify::DomainInfo> domains;
  for (uint32_t d = 0; d < domain_count; ++d) {
    domains.push_back({"p" + std::to_string(d / lanes + 1) + "/" + options_.topic + "/" +
                           std::to_string(d % lanes),
                       static_cast<bool>(caught_up[d])});
  }
  std::vector<const verify::SendShard*> sends;
  std::vector<const verify::ReceiveShard*> receives;
  for (const workload::WorkloadPart& p : parts) {
    sends.push_back(&p.sends);
    receives.push_back(&p.receives);
  }
  const std::vector<verify::DomainInfo> audit_domains = domains;
  workload::WorkloadResult result = workload::MergeParts(pointers, std::move(domains), options_.consumers > 0);
  workload::AuditLostMessages(driver_, endpoint_, options_, sends, receives, audit_domains, &result.delivery);
  // The seconds the live polls had not covered yet (the last, partial one).
  if (observer_ != nullptr) {
    const workload::LiveTotals totals{result.sent, result.acked, result.failed, result.indeterminate,
                                      result.received};
    for (size_t i = emitted_; i < result.series.size(); ++i) {
      observer_->OnSecond(result.series[i], totals, result.series[i].t_s, true);
    }
  }
  return result;
}

}  // namespace

Result<workload::WorkloadResult> RunOnWorkers(const std::vector<WorkerAddress>& workers,
                                              const std::string& driver_name,
                                              drivers::Driver& driver,
                                              const drivers::Endpoint& endpoint,
                                              const workload::WorkloadOptions& options,
                                              workload::WorkloadObserver* observer,
                                              const CancelToken& cancel,
                                              const CoordinatorOptions& coordinator) {
  if (workers.empty()) return InvalidArgument("no workers");
  Coordinator c(workers, driver_name, driver, endpoint, options, observer, cancel, coordinator);
  return c.Run();
}

}  // namespace drone::worker
