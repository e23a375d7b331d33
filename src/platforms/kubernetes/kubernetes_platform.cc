#include "platforms/kubernetes/kubernetes_platform.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

#include "core/clock.h"
#include "core/log.h"
#include "drivers/builtin_drivers.h"
#include "platforms/kubernetes/kubectl.h"
#include "platforms/kubernetes/pod_faults.h"
#include "platforms/kubernetes/pod_impairment.h"
#include "platforms/kubernetes/pod_roles.h"
#include "platforms/kubernetes/synth.h"

namespace drone::platforms::kubernetes {

Result<uint64_t> JournalBeforeApply(journal::Journal* journal, const ApplyRecord& record) {
  LogInfo("kubernetes: applying " + record.phase_file + " to namespace " + record.ns +
          (record.context.empty() ? "" : " (context " + record.context + ")"));
  if (journal == nullptr) return uint64_t{0};
  journal::UndoRecord undo;
  undo.kind = "kubernetes-namespace";
  undo.args = {{"context", record.context}, {"namespace", record.ns}};
  return journal->Add(undo, "kubernetes namespace " + record.ns + " (" + record.phase_file + ")");
}

namespace {

class NamespaceUndo : public journal::UndoKind {
 public:
  std::string Name() const override { return "kubernetes-namespace"; }
  Status Undo(const nlohmann::json& args, const journal::UndoEnv& env,
              std::string* what) const override {
    if (!args.is_object() || !args.contains("namespace") || !args["namespace"].is_string()) {
      return InvalidArgument("kubernetes-namespace: no namespace in " + args.dump());
    }
    const std::string ns = args["namespace"].get<std::string>();
    const std::string context = args.value("context", "");
    // Only Drone's namespaces: a journal is no licence to delete anything else.
    if (ns.rfind("drone-", 0) != 0) {
      return InvalidArgument("kubernetes-namespace: '" + ns + "' is not a namespace of Drone's");
    }
    const std::string where = ns + (context.empty() ? "" : " (context " + context + ")");
    if (env.dry_run) {
      *what = "would delete namespace " + where;
      return Status::Ok();
    }
    auto deleted = Kubectl(context).RunChecked(DeleteNamespaceArgs(ns, kDeleteTimeoutS), "",
                                               (kDeleteTimeoutS + 30) * kNsPerSec);
    if (!deleted.ok()) return Internal(deleted.status().message());
    *what = "deleted namespace " + where;
    return Status::Ok();
  }
};

}  // namespace

void RegisterUndoKinds(Registry<journal::UndoKind>& registry) {
  registry.Register("kubernetes-namespace", "delete a run's Kubernetes namespace through kubectl",
                    [] { return std::make_unique<NamespaceUndo>(); });
}

namespace {

constexpr int64_t kNs = kNsPerSec;

constexpr int64_t kForwardTimeoutNs = 60 * kNs;

// The run's namespace is shared by its Kubernetes clusters: the last one to stop deletes it. The
// worker pods are the namespace's too: the first cluster whose workloads want them deploys them,
// later clusters' workloads use the same pods.
struct NamespaceState {
  int users = 0;
  std::string worker_token;  // the workers' Secret; made once per namespace
  bool workers_deployed = false;
  std::vector<std::unique_ptr<KubectlBackground>> forwards;  // one port-forward per worker pod
  std::vector<WorkerEndpoint> workers;                       // through those forwards
};
std::mutex& NamespaceMutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, NamespaceState>& Namespaces() {
  static std::map<std::string, NamespaceState> states;
  return states;
}

// 32 random hex digits from the kernel's generator.
std::string NewWorkerToken() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 4; ++i) {
    char buf[9];
    std::snprintf(buf, sizeof(buf), "%08x", static_cast<unsigned>(rd()));
    out += buf;
  }
  return out;
}

// "Forwarding from 127.0.0.1:PORT -> ..." in kubectl port-forward's output: PORT, or 0.
int ForwardedPort(const std::string& output) {
  const std::string marker = "Forwarding from 127.0.0.1:";
  const size_t at = output.find(marker);
  if (at == std::string::npos) return 0;
  return std::atoi(output.c_str() + at + marker.size());
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

// Node names as on the local platform (broker-1, rabbitmq-1, ...), so that flows name nodes the
// same way on every platform.
std::string NodePrefix(const std::string& broker) {
  if (broker == "kafka") return "broker";
  if (broker == "mqtt") return "mosquitto";
  return broker;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

class KubernetesCluster : public Cluster, public NodeControl {
 public:
  KubernetesCluster(ClusterRequest request, Kubectl kubectl, std::string ns, ClusterLayout layout)
      : request_(std::move(request)), kubectl_(std::move(kubectl)), ns_(std::move(ns)),
        layout_(std::move(layout)) {
    std::lock_guard<std::mutex> lock(NamespaceMutex());
    ++Namespaces()[ns_].users;
    const std::vector<std::string> addresses = Split(layout_.endpoint.bootstrap, ',');
    for (size_t i = 0; i < layout_.pods.size(); ++i) {
      NodeInfo n;
      n.name = NodePrefix(request_.broker) + "-" + std::to_string(i + 1);
      n.id = static_cast<int>(i);
      n.address = i < addresses.size() && request_.broker != "redis" ? addresses[i] : "";
      nodes_.push_back(n);
    }
  }
  ~KubernetesCluster() override { (void)Stop(); }

  std::string Broker() const override { return request_.broker; }
  drivers::Endpoint Endpoint() const override { return layout_.endpoint; }
  std::vector<NodeInfo> Nodes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return nodes_;
  }
  Status CreateTopic(const drivers::TopicRequest& request) override {
    ASSIGN_OR_RETURN(auto driver, drivers::DriverRegistry().Create(request_.broker));
    ASSIGN_OR_RETURN(auto admin, driver->NewAdmin(Endpoint()));
    RETURN_IF_ERROR(admin->CreateTopic(request, 30 * kNs));
    std::lock_guard<std::mutex> lock(mu_);
    topics_.push_back(request.name);  // role `leader` of Kafka is a partition leader of one
    return Status::Ok();
  }
  NodeControl* Control() override { return this; }

  // Applies every phase in order and waits for the cluster's workloads.
  Status Deploy(const Chart& chart, const CancelToken* cancel) {
    for (const Phase& phase : chart.phases()) {
      ASSIGN_OR_RETURN(uint64_t entry,
                       JournalBeforeApply(request_.journal, {kubectl_.context(), ns_, phase.file}));
      if (entry != 0) {
        std::lock_guard<std::mutex> lock(mu_);
        journal_entries_.push_back(entry);
      }
      auto applied = kubectl_.RunChecked(ApplyArgs(), PhaseYaml(phase), kApplyTimeoutS * kNs, cancel);
      if (!applied.ok()) return applied.status();
    }
    for (const std::string& what : layout_.rollouts) {
      auto done = kubectl_.RunChecked(RolloutStatusArgs(ns_, what, kReadyTimeoutS), "",
                                      (kReadyTimeoutS + 30) * kNs, cancel);
      if (!done.ok()) return done.status();
    }
    for (const std::string& what : layout_.waits) {
      auto done = kubectl_.RunChecked(WaitReadyArgs(ns_, what, kReadyTimeoutS), "",
                                      (kReadyTimeoutS + 30) * kNs, cancel);
      if (!done.ok()) return done.status();
    }
    return Status::Ok();
  }

  Status Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return Status::Ok();
      stopped_ = true;
    }
    std::vector<std::unique_ptr<KubectlBackground>> forwards;
    {
      std::lock_guard<std::mutex> lock(NamespaceMutex());
      NamespaceState& state = Namespaces()[ns_];
      if (--state.users > 0) {
        // Another cluster of the run still uses the namespace: this cluster's entries are done,
        // the last cluster's stay open until it has deleted the namespace.
        MarkJournalDone();
        return Status::Ok();
      }
      forwards = std::move(state.forwards);
      Namespaces().erase(ns_);
    }
    for (auto& f : forwards) f->Stop();
    // Never cancelled: teardown must run on every path, SIGINT included; its wait is bounded.
    auto deleted = kubectl_.RunChecked(DeleteNamespaceArgs(ns_, kDeleteTimeoutS), "",
                                       (kDeleteTimeoutS + 30) * kNs, nullptr);
    if (!deleted.ok()) return deleted.status();  // the journal keeps it for `drone clean`
    MarkJournalDone();
    return Status::Ok();
  }

  std::vector<WorkerEndpoint> Workers() const override {
    std::lock_guard<std::mutex> lock(NamespaceMutex());
    auto it = Namespaces().find(ns_);
    return it == Namespaces().end() ? std::vector<WorkerEndpoint>{} : it->second.workers;
  }

  // Waits for the worker pods, then forwards a local port to each one's control port, so that
  // Drone reaches them wherever it runs.
  Status ConnectWorkers(int count, const CancelToken* cancel) {
    auto ready = kubectl_.RunChecked(RolloutStatusArgs(ns_, "statefulset/drone-worker", kReadyTimeoutS),
                                     "", (kReadyTimeoutS + 30) * kNs, cancel);
    if (!ready.ok()) return ready.status();
    std::string token;
    {
      std::lock_guard<std::mutex> lock(NamespaceMutex());
      token = Namespaces()[ns_].worker_token;
    }
    for (int i = 0; i < count; ++i) {
      const std::string pod = "drone-worker-" + std::to_string(i);
      ASSIGN_OR_RETURN(auto forward,
                       KubectlBackground::Start(kubectl_, PortForwardArgs(ns_, pod, kWorkerPort)));
      const bool forwarding =
          forward->WaitForOutput("Forwarding from 127.0.0.1:", kForwardTimeoutNs, cancel);
      const int port = forwarding ? ForwardedPort(forward->Output()) : 0;
      if (port <= 0) {
        const std::string what = forward->Describe();
        forward->Stop();
        if (cancel != nullptr && cancel->cancelled()) return Cancelled("port-forward to " + pod);
        return Unavailable("no port-forward to worker pod " + pod + " within " +
                           std::to_string(kForwardTimeoutNs / kNs) + " s: " + what);
      }
      LogInfo("kubernetes: worker pod " + pod + " at 127.0.0.1:" + std::to_string(port));
      std::lock_guard<std::mutex> lock(NamespaceMutex());
      NamespaceState& state = Namespaces()[ns_];
      state.forwards.push_back(std::move(forward));
      state.workers.push_back({"http://127.0.0.1:" + std::to_string(port), token});
    }
    return Status::Ok();
  }

  // ---- NodeControl ----
  std::string Backend() const override { return "kubectl"; }

  Status Kill(const std::string& node) override {
    ASSIGN_OR_RETURN(PodTarget t, Target(node));
    RETURN_IF_ERROR(RememberUid(node, t));
    RETURN_IF_ERROR(Call(KillPodArgs(t)));
    SetUp(node, false);
    return Status::Ok();
  }
  Status Stop(const std::string& node) override {
    ASSIGN_OR_RETURN(PodTarget t, Target(node));
    RETURN_IF_ERROR(RememberUid(node, t));
    RETURN_IF_ERROR(Call(StopPodArgs(t)));
    SetUp(node, false);
    return Status::Ok();
  }
  // The StatefulSet brings a deleted pod back by itself; Start waits until its successor (a new
  // UID) is Ready. `failback` is the broker's business (preferred leaders move back on their own).
  Status Start(const std::string& node, bool /*failback*/) override {
    ASSIGN_OR_RETURN(PodTarget t, Target(node));
    std::string old_uid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      old_uid = old_uid_[node];
    }
    const int64_t deadline = NowNs() + kReadyTimeoutS * kNs;
    CancelToken never;
    const CancelToken& cancel = request_.cancel != nullptr ? *request_.cancel : never;
    while (NowNs() < deadline) {
      auto state = kubectl_.Run(PodStateArgs(ns_, t.pod), "", 30 * kNs, &cancel);
      if (!state.ok()) return state.status();
      const std::vector<std::string> words = Split(state->out, ' ');
      if (words.size() == 2 && words[0] != old_uid && words[1] == "True") {
        SetUp(node, true);
        return Status::Ok();
      }
      if (cancel.WaitFor(kNs)) return Cancelled("waiting for " + t.pod + ": cancelled");
    }
    return DeadlineExceeded(t.pod + " was not Ready again within " +
                            std::to_string(kReadyTimeoutS) + " s");
  }
  Status Pause(const std::string& node) override {
    ASSIGN_OR_RETURN(PodTarget t, SidecarTarget(node));
    return Call(PausePodArgs(t));
  }
  Status Resume(const std::string& node) override {
    ASSIGN_OR_RETURN(PodTarget t, SidecarTarget(node));
    return Call(ResumePodArgs(t));
  }
  Status SetDelay(const std::string& node, int64_t delay_ns) override {
    ASSIGN_OR_RETURN(PodTarget t, SidecarTarget(node));
    // Start from a clean root qdisc; a missing one is fine.
    ASSIGN_OR_RETURN(PodCommandPlan plan, DelayPlan(t, delay_ns > 0 ? delay_ns : 1));
    for (const Argv& heal : plan.heal) (void)kubectl_.Run(heal, "", 30 * kNs);
    if (delay_ns == 0) return Status::Ok();
    for (const Argv& apply : plan.apply) RETURN_IF_ERROR(Call(apply));
    return Status::Ok();
  }
  Result<std::shared_ptr<faults::Fault>> NewImpairmentFault(
      const std::vector<faults::network::Impairment>& impairments) override {
    ASSIGN_OR_RETURN(std::vector<PodHost> hosts, SidecarHosts());
    return std::shared_ptr<faults::Fault>(
        std::make_shared<PodImpairmentFault>(kubectl_, ns_, std::move(hosts), impairments));
  }
  Result<std::shared_ptr<faults::Fault>> NewPartitionFault(
      const faults::network::PartitionSpec& spec, const std::string& tag) override {
    ASSIGN_OR_RETURN(std::vector<PodHost> hosts, SidecarHosts());
    return std::shared_ptr<faults::Fault>(
        std::make_shared<PodPartitionFault>(kubectl_, ns_, std::move(hosts), spec, tag));
  }
  Result<std::string> ResolveTarget(const std::string& target, uint64_t seed) override {
    std::vector<std::string> names;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const NodeInfo& n : nodes_) names.push_back(n.name);
    }
    for (const std::string& n : names) {
      if (n == target) return n;
    }
    if (target == "random") {
      std::mt19937_64 rng(seed);
      return names[rng() % names.size()];
    }
    if (target == "minority") {
      std::string out;
      for (size_t i = 0; i < (names.size() - 1) / 2; ++i) out += (i ? "," : "") + names[i];
      if (out.empty()) return FailedPrecondition("a cluster of " + std::to_string(names.size()) +
                                                 " nodes has no minority to take down");
      return out;
    }
    RoleCluster roles;
    {
      std::lock_guard<std::mutex> lock(mu_);
      roles.broker = request_.broker;
      roles.pods = layout_.pods;
      for (const NodeInfo& n : nodes_) roles.up.push_back(n.up);
      roles.broker_container = layout_.broker_container;
      roles.sentinel_pods = layout_.sentinel_pods;
      roles.sentinel_container = layout_.sentinel_container;
      roles.sentinel_master = layout_.sentinel_master;
      roles.topics = topics_;
    }
    // Asked now, when the fault fires: roles move.
    auto exec = [this](const std::string& pod, const std::string& container,
                       const Argv& argv) -> Result<std::string> {
      ASSIGN_OR_RETURN(KubectlResult r,
                       kubectl_.RunChecked(ExecArgs(ns_, pod, container, argv), "", 60 * kNs));
      return r.out;
    };
    auto ip = [this](const std::string& pod) -> Result<std::string> {
      ASSIGN_OR_RETURN(KubectlResult r, kubectl_.RunChecked(PodIpArgs(ns_, pod), "", 30 * kNs));
      std::string out = r.out;
      while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
      return out;
    };
    Result<size_t> node = ResolveRoleNode(roles, target, exec, ip);
    if (!node.ok()) {
      if (node.status().code() != StatusCode::kInvalidArgument) return node.status();
      return InvalidArgument("unknown target '" + target + "': " + node.status().message() +
                             "; nodes: " + names.front() + " ... " + names.back() +
                             "; or random, minority");
    }
    if (*node >= names.size()) return Internal("role " + target + " resolved to no node");
    LogInfo("kubernetes: " + target + " of " + request_.name + " is " + names[*node] + " (pod " +
            roles.pods[*node] + ")");
    return names[*node];
  }

 private:
  // Every node with its pod, for network faults (which need the sidecar).
  Result<std::vector<PodHost>> SidecarHosts() const {
    if (!layout_.netfault) {
      return FailedPrecondition("cluster " + request_.name + " has no network-fault sidecar");
    }
    std::vector<PodHost> hosts;
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < nodes_.size(); ++i) hosts.push_back({nodes_[i].name, layout_.pods[i], ""});
    return hosts;
  }
  Result<PodTarget> Target(const std::string& node) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].name == node) return PodTarget{ns_, layout_.pods[i], layout_.process_name};
    }
    return NotFound("no node '" + node + "' in cluster " + request_.name);
  }
  Result<PodTarget> SidecarTarget(const std::string& node) const {
    if (!layout_.netfault) {
      return FailedPrecondition("cluster " + request_.name +
                                " has no network-fault sidecar (it is added for flows with "
                                "fault.network or fault.pause steps on the cluster)");
    }
    return Target(node);
  }
  Status RememberUid(const std::string& node, const PodTarget& t) {
    auto state = kubectl_.RunChecked(PodStateArgs(ns_, t.pod), "", 30 * kNs);
    if (!state.ok()) return state.status();
    const std::vector<std::string> words = Split(state->out, ' ');
    std::lock_guard<std::mutex> lock(mu_);
    old_uid_[node] = words.empty() ? "" : words[0];
    return Status::Ok();
  }
  Status Call(const Argv& args) {
    auto r = kubectl_.RunChecked(args, "", 60 * kNs);
    return r.ok() ? Status::Ok() : r.status();
  }
  void MarkJournalDone() {
    std::vector<uint64_t> entries;
    {
      std::lock_guard<std::mutex> lock(mu_);
      entries.swap(journal_entries_);
    }
    if (request_.journal == nullptr) return;
    for (uint64_t id : entries) {
      Status s = request_.journal->Done(id);
      if (!s.ok()) LogWarn("kubernetes: " + s.message());
    }
  }
  void SetUp(const std::string& node, bool up) {
    std::lock_guard<std::mutex> lock(mu_);
    for (NodeInfo& n : nodes_) {
      if (n.name == node) n.up = up;
    }
  }

  const ClusterRequest request_;
  const Kubectl kubectl_;
  const std::string ns_;
  const ClusterLayout layout_;
  mutable std::mutex mu_;
  std::vector<NodeInfo> nodes_;                  // guarded by mu_
  std::map<std::string, std::string> old_uid_;   // guarded by mu_
  bool stopped_ = false;                         // guarded by mu_
  std::vector<uint64_t> journal_entries_;        // guarded by mu_
  std::vector<std::string> topics_;              // created by topic steps; guarded by mu_
};

ClusterPlan PlanOf(const ClusterRequest& request) {
  ClusterPlan plan =
      MakePlan(request.name, request.broker, request.nodes, request.options, request.service);
  plan.netfault = request.netfault;
  return plan;
}

class KubernetesPlatform : public Platform {
 public:
  std::string Name() const override { return "kubernetes"; }

  Status Validate(const ClusterRequest& request) const override {
    ASSIGN_OR_RETURN(ProviderProfile provider, FindProvider(request.provider));
    SynthOptions options;
    options.run_id = "validate";
    options.provider = provider;
    return ValidatePlans({PlanOf(request)}, options);
  }

  Result<std::unique_ptr<Cluster>> CreateCluster(const ClusterRequest& request) override {
    ASSIGN_OR_RETURN(ProviderProfile provider, FindProvider(request.provider));
    Kubectl kubectl(request.context);
    // The node count decides between required and preferred anti-affinity.
    ASSIGN_OR_RETURN(KubectlResult nodes,
                     kubectl.RunChecked(NodeNamesArgs(), "", 60 * kNs, request.cancel));
    SynthOptions options;
    options.run_id = request.run_id.empty() ? request.name : request.run_id;
    options.flow = request.flow.empty() ? "flow" : request.flow;
    options.provider = provider;
    options.schedulable_nodes = static_cast<int>(Split(nodes.out, '\n').size());
    options.image = request.image;
    const std::string ns = NamespaceFor(options.run_id);
    bool deploy_workers = false;
    if (request.workers > 0) {
      std::lock_guard<std::mutex> lock(NamespaceMutex());
      NamespaceState& state = Namespaces()[ns];
      if (!state.workers_deployed) {
        state.workers_deployed = deploy_workers = true;
        state.worker_token = NewWorkerToken();
        options.workers = request.workers;
        options.worker_token = state.worker_token;
      }
    }
    ASSIGN_OR_RETURN(Synthesis synthesis, Synthesise({PlanOf(request)}, options));
    // Who owns the namespace: `drone clean --kubernetes` spares namespaces of live runs.
    for (ApiObject& o : synthesis.chart.PhaseFor("00-namespace.yaml").objects) {
      o.Annotate("drone.dev/host", HostName());
      o.Annotate("drone.dev/pid", std::to_string(::getpid()));
    }
    // The cluster owns the namespace from before the first apply, so that a failed apply or
    // wait still tears down whatever was created.
    auto cluster = std::make_unique<KubernetesCluster>(request, kubectl, ns,
                                                       std::move(synthesis.clusters.front()));
    Status deployed = cluster->Deploy(synthesis.chart, request.cancel);
    if (deployed.ok() && deploy_workers) {
      deployed = cluster->ConnectWorkers(request.workers, request.cancel);
    }
    if (!deployed.ok()) {
      Status stopped = cluster->Stop();
      if (!stopped.ok()) LogWarn("kubernetes: teardown after a failed start: " + stopped.message());
      return deployed;
    }
    return std::unique_ptr<Cluster>(std::move(cluster));
  }
};

}  // namespace
}  // namespace drone::platforms::kubernetes

namespace drone::platforms {

std::unique_ptr<Platform> NewKubernetesPlatform() {
  return std::make_unique<kubernetes::KubernetesPlatform>();
}

}  // namespace drone::platforms
