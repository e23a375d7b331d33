// kind: workload — runs producers and consumers against a topic and records the result.
#include "core/clock.h"
#include "core/log.h"
#include "drivers/builtin_drivers.h"
#include "faults/network/command.h"
#include "flow/step_executor.h"
#include "worker/coordinator.h"
#include "worker/local_workers.h"

namespace drone::flow {
namespace {

workload::WorkloadOptions ToOptions(const spec::WorkloadWith& w) {
  workload::WorkloadOptions o;
  o.producers = w.producers;
  o.consumers = w.consumers;
  o.rate = w.rate;
  o.size.kind = static_cast<workload::SizeDistribution::Kind>(w.size.kind);
  o.size.bytes = w.size.bytes;
  o.size.min = w.size.min;
  o.size.max = w.size.max;
  o.size.mean = w.size.mean;
  o.size.stddev = w.size.stddev;
  o.keys.mode = static_cast<workload::KeyOptions::Mode>(w.keys.mode);
  o.keys.count = w.keys.count;
  o.duration_ns = w.duration_ns;
  o.messages = w.messages;
  o.producer.acks = w.acks;
  o.producer.idempotence = w.idempotence;
  o.producer.linger_ns = w.linger_ns.value_or(-1);
  o.producer.batch_bytes = w.batch_bytes.value_or(-1);
  o.producer.compression = w.compression;
  o.producer.message_timeout_ns = w.message_timeout_ns;
  o.producer.extra = w.producer_config;
  o.consumer_config = w.consumer_config;
  o.guarantee = static_cast<verify::Guarantee>(w.delivery);
  o.drain_timeout_ns = w.drain_timeout_ns;
  o.seed = w.seed;
  return o;
}

class Observer : public workload::WorkloadObserver {
 public:
  Observer(StepContext& ctx, double planned_s) : ctx_(ctx), planned_s_(planned_s) {}
  void OnStarted() override {
    // Zero totals at once, so that a wait or check right after `load.started` sees a running
    // workload rather than none.
    ctx_.run.SetLiveWorkload(ctx_.step.id, {{"sent", 0},
                                            {"acked", 0},
                                            {"failed", 0},
                                            {"indeterminate", 0},
                                            {"received", 0},
                                            {"lag", 0},
                                            {"elapsed_s", 0.0},
                                            {"draining", false},
                                            {"finished", false}});
    ctx_.mark_started();
  }
  void OnSecond(const workload::SeriesPoint& point, const workload::LiveTotals& totals,
                double elapsed_s, bool draining) override {
    ctx_.run.SetLiveWorkload(ctx_.step.id, {{"sent", totals.sent},
                                            {"acked", totals.acked},
                                            {"failed", totals.failed},
                                            {"indeterminate", totals.indeterminate},
                                            {"received", totals.received},
                                            {"lag", point.lag},
                                            {"elapsed_s", elapsed_s},
                                            {"draining", draining},
                                            {"finished", false}});
    if (ctx_.run.observer() != nullptr) {
      ctx_.run.observer()->OnWorkloadSecond(ctx_.step.id, point, totals, elapsed_s, planned_s_,
                                            draining);
    }
  }
  void OnHistograms(const metrics::Histogram& publish,
                    const metrics::Histogram& end_to_end) override {
    if (ctx_.run.observer() != nullptr) {
      ctx_.run.observer()->OnWorkloadHistograms(ctx_.step.id, publish, end_to_end);
    }
  }

 private:
  StepContext& ctx_;
  double planned_s_;
};

class WorkloadStep : public StepExecutor {
 public:
  std::string Kind() const override { return "workload"; }
  bool MarksStarted() const override { return true; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::WorkloadWith>(ctx.step.with);
    ASSIGN_OR_RETURN(platforms::Cluster * cluster, ctx.run.FindCluster(with.cluster));
    ASSIGN_OR_RETURN(auto driver, drivers::DriverRegistry().Create(cluster->Broker()));
    workload::WorkloadOptions options = ToOptions(with);
    options.name = ctx.step.id;
    ASSIGN_OR_RETURN(options.topic, ctx.Interpolate(with.topic));
    options.group = with.group.empty() ? "drone-" + ctx.run.run_id() + "-" + ctx.step.id : with.group;
    options.run_id = ctx.run.run_number();
    if (options.consumers > 0) cluster->NoteConsumerGroup(options.group);
    double planned_s = with.duration_ns ? static_cast<double>(*with.duration_ns) / kNsPerSec
                       : with.rate > 0 && with.messages
                           ? static_cast<double>(*with.messages) / with.rate
                           : 0;
    Observer observer(ctx, planned_s);
    workload::WorkloadResult r;
    std::vector<worker::WorkerAddress> workers = ctx.run.workers();
    if (workers.empty()) {
      // The platform's own workers (worker pods on Kubernetes).
      for (const platforms::WorkerEndpoint& w : cluster->Workers()) workers.push_back({w.url, w.token});
    }
    // In a lab network the clients run in its `clients` host (docs/network-faults.md).
    const std::string netns = cluster->ClientNetns();
    std::unique_ptr<worker::LocalWorkerPool> lab_workers;
    if (!workers.empty() && !netns.empty()) {
      if (ctx.run.local_worker_count() == 0) {
        return FailedPrecondition("workload " + ctx.step.id + ": cluster '" + with.cluster +
                                  "' runs in a lab network, which workers elsewhere (--workers-at) "
                                  "cannot reach; use --workers N, which starts them in the lab");
      }
      // As many workers again, inside the clients host: they reach the brokers as the lab's
      // clients do, through its links and faults. This thread enters the host to drive them.
      Result<std::unique_ptr<worker::LocalWorkerPool>> pool = worker::LocalWorkerPool::Start(
          ctx.run.local_worker_count(), 15 * kNsPerSec, netns, &ctx.run.journal());
      if (!pool.ok()) {
        return pool.status().WithContext("workload " + ctx.step.id + ": workers in the lab's clients host");
      }
      lab_workers = std::move(*pool);
      workers = lab_workers->addresses();
      std::string pids;
      for (int pid : lab_workers->pids()) pids += " " + std::to_string(pid);
      LogInfo("workload " + ctx.step.id + ": " + std::to_string(workers.size()) +
              " workers in the lab's clients host " + netns + " (pids" + pids + ")");
    }
    if (!workers.empty()) {
      // On `drone worker` processes (docs/workers.md): the merged result is what this process
      // would have produced.
      Result<workload::WorkloadResult> distributed = Unavailable("not run");
      auto run = [&] {
        distributed = worker::RunOnWorkers(workers, cluster->Broker(), *driver, cluster->Endpoint(),
                                           options, &observer, ctx.cancel);
        return distributed.status();
      };
      Status entered = netns.empty() ? run() : faults::network::WithNetns(netns, run);
      if (!distributed.ok()) return distributed.status().WithContext("workload " + ctx.step.id);
      if (!entered.ok()) return entered.WithContext("workload " + ctx.step.id);
      r = std::move(*distributed);
    } else {
      workload::WorkloadRunner runner(*driver, cluster->Endpoint(), options, &observer,
                                      ctx.run.history());
      // This thread enters the clients host for Run(), so every client handle and every thread
      // the runner and the client libraries start (network namespaces are per thread and
      // inherited) live there.
      Status status =
          netns.empty() ? runner.Run(ctx.cancel)
                        : faults::network::WithNetns(netns, [&] { return runner.Run(ctx.cancel); });
      if (!status.ok()) return status.WithContext("workload " + ctx.step.id);
      r = runner.result();
    }
    ctx.run.SetOutputs(ctx.step.id, {{"sent", r.sent},
                                     {"acked", r.acked},
                                     {"received", r.received},
                                     {"lost", r.delivery.lost},
                                     {"duplicated", r.delivery.duplicated}});
    const int64_t lag = r.consumed && r.sent > r.received
                            ? static_cast<int64_t>(r.sent - r.received) : 0;
    ctx.run.SetLiveWorkload(
        ctx.step.id, {{"sent", r.sent},
                      {"acked", r.acked},
                      {"failed", r.failed},
                      {"indeterminate", r.indeterminate},
                      {"received", r.received},
                      {"lag", lag},
                      {"elapsed_s", static_cast<double>(r.finished_ns - r.started_ns) / kNsPerSec},
                      {"draining", false},
                      {"finished", true}});
    ctx.run.AddWorkload(ctx.step.id, WorkloadRecord{r, options.guarantee});
    if (r.cancelled) return Cancelled("workload " + ctx.step.id + " was cancelled");
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewWorkloadStep() { return std::make_unique<WorkloadStep>(); }

}  // namespace drone::flow
