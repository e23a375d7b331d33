#include "platforms/kubernetes/synth.h"

#include <algorithm>
#include <functional>
#include <set>

#include "platforms/kubernetes/pod_parts.h"

#ifndef DRONE_VERSION
#define DRONE_VERSION "0.1.0"
#endif

namespace drone::platforms::kubernetes {

std::vector<std::string> WorkerCommand() {
  return {"drone", "worker", "--listen", "0.0.0.0:" + std::to_string(kWorkerPort)};
}

std::string DefaultImage() { return std::string("ghcr.io/drone-bench/drone:") + DRONE_VERSION; }

std::string NamespaceFor(const std::string& run_id) { return DnsLabel("drone-" + run_id); }

namespace {

const std::set<std::string> kBrokers = {"kafka", "rabbitmq", "nats", "redis", "mqtt"};
const std::set<std::string> kServiceTypes = {"LoadBalancer", "InternalLoadBalancer", "NodePort",
                                             "ClusterIP"};

bool IsWhole(const std::string& v, long min, long max) {
  if (v.empty() || v.size() > 9) return false;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
  }
  const long n = std::stol(v);
  return n >= min && n <= max;
}

// The broker settings a Kubernetes cluster takes: the local recipes' names where they carry over.
struct OptionRule {
  std::string name;
  std::string expected;
  std::function<bool(const std::string&)> valid;
};
const std::map<std::string, std::vector<OptionRule>> kOptions = {
    {"kafka", {{"operator", "strimzi", [](const std::string& v) { return v == "strimzi"; }}}},
    {"redis",
     {{"sentinels", "0..7", [](const std::string& v) { return IsWhole(v, 0, 7); }},
      {"down_after_ms", "100..600000", [](const std::string& v) { return IsWhole(v, 100, 600000); }},
      {"failover_timeout_ms", "1000..600000",
       [](const std::string& v) { return IsWhole(v, 1000, 600000); }},
      {"appendfsync", "always, everysec or no",
       [](const std::string& v) { return v == "always" || v == "everysec" || v == "no"; }}}},
    {"mqtt",
     {{"persistence", "true or false",
       [](const std::string& v) { return v == "true" || v == "false"; }},
      {"autosave_interval", "a whole number", [](const std::string& v) { return IsWhole(v, 0, 999999999); }},
      {"max_inflight_messages", "a whole number",
       [](const std::string& v) { return IsWhole(v, 0, 999999999); }},
      {"max_queued_messages", "a whole number",
       [](const std::string& v) { return IsWhole(v, 0, 999999999); }}}},
};

const OptionRule* FindOption(const std::vector<OptionRule>& rules, const std::string& name) {
  for (const OptionRule& r : rules) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string JoinSet(const std::set<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

ClusterPlan MakePlan(const std::string& id, const std::string& broker, int nodes,
                     const std::map<std::string, std::string>& options, const std::string& service) {
  ClusterPlan plan;
  plan.id = id;
  plan.broker = broker;
  plan.nodes = nodes;
  plan.options = options;
  plan.service = service;
  if (plan.service == "InternalLoadBalancer") {
    plan.service = "LoadBalancer";
    plan.internal_lb = true;
  }
  return plan;
}

std::vector<ClusterPlan> PlansFromFlow(const spec::FlowSpec& flow) {
  std::set<std::string> disturbed;  // clusters that network faults or pauses act on
  std::string only_cluster;
  int clusters = 0;
  for (const spec::Step& s : flow.steps) {
    if (s.kind == spec::StepKind::kCluster) {
      ++clusters;
      only_cluster = s.id;
    }
  }
  for (const spec::Step& s : flow.steps) {
    if (s.kind != spec::StepKind::kFaultNetwork && s.kind != spec::StepKind::kFaultPause &&
        s.kind != spec::StepKind::kFaultPartition) {
      continue;
    }
    const std::string& c = std::get<spec::FaultWith>(s.with).cluster;
    disturbed.insert(c.empty() && clusters == 1 ? only_cluster : c);
  }
  std::vector<ClusterPlan> plans;
  for (const spec::Step& s : flow.steps) {
    if (s.kind != spec::StepKind::kCluster) continue;
    const auto& with = std::get<spec::ClusterWith>(s.with);
    if (with.platform == "external") continue;  // nothing of Drone's runs there
    ClusterPlan plan = MakePlan(s.id, with.broker, with.nodes, with.options, with.service);
    plan.netfault = disturbed.count(s.id) > 0;
    plans.push_back(std::move(plan));
  }
  return plans;
}

int WorkerPods(const spec::FlowSpec& flow, const std::string& cluster_id) {
  int most = 0;
  for (const spec::Step& s : flow.steps) {
    if (s.kind != spec::StepKind::kWorkload) continue;
    const auto& w = std::get<spec::WorkloadWith>(s.with);
    if (!cluster_id.empty() && w.cluster != cluster_id) continue;
    most = std::max(most, w.producers + w.consumers);
  }
  return std::min(most, kMaxDefaultWorkers);
}

bool NeedsNetfault(const spec::FlowSpec& flow, const std::string& cluster_id) {
  for (const ClusterPlan& p : PlansFromFlow(flow)) {
    if (p.id == cluster_id) return p.netfault;
  }
  return false;
}

Status ValidatePlans(const std::vector<ClusterPlan>& plans, const SynthOptions& options) {
  std::vector<std::string> problems;
  for (const ClusterPlan& p : plans) {
    const std::string where = "cluster '" + p.id + "': ";
    if (kBrokers.count(p.broker) == 0) {
      problems.push_back(where + "broker '" + p.broker + "' has no Kubernetes recipe (known: " +
                         JoinSet(kBrokers) + ")");
      continue;
    }
    if (p.broker == "mqtt" && p.nodes != 1) {
      problems.push_back(where + "mosquitto runs as a single node; use nodes: 1 (got " +
                         std::to_string(p.nodes) + ")");
    }
    for (const auto& [k, v] : p.options) {
      const auto known = kOptions.find(p.broker);
      const auto option = known == kOptions.end() ? nullptr : FindOption(known->second, k);
      if (option == nullptr) {
        std::string names;
        if (known != kOptions.end()) {
          for (const OptionRule& r : known->second) names += (names.empty() ? "" : ", ") + r.name;
        }
        problems.push_back(where + "option '" + k + "' is not known on Kubernetes for " + p.broker +
                           (names.empty() ? " (it takes none)" : " (known: " + names + ")"));
      } else if (!option->valid(v)) {
        problems.push_back(where + "options." + k + ": " + option->expected + ", not '" + v + "'");
      }
    }
    if (p.broker == "redis" && p.nodes > 1 && RedisSentinels(p) == 1) {
      problems.push_back(where + "options.sentinels: one sentinel cannot reach a quorum that "
                         "others confirm; use 0 or 2..7");
    }
    if (!p.service.empty() && kServiceTypes.count(p.service) == 0) {
      problems.push_back(where + "service '" + p.service + "' is not one of " + JoinSet(kServiceTypes));
    }
    if (p.netfault && !options.provider.net_admin_allowed) {
      problems.push_back(where + options.provider.net_admin_refusal);
    }
  }
  if (problems.empty()) return Status::Ok();
  std::string message;
  for (const std::string& m : problems) message += (message.empty() ? "" : "; ") + m;
  return InvalidArgument(message);
}

namespace {

void AddWorkers(Chart& chart, const SynthOptions& options, const std::string& ns) {
  const std::string name = "drone-worker";
  const Json selector = SelectorLabels(name, "drone-worker");
  ApiObject svc("v1", "Service", name);
  svc.Namespace(ns);
  Json port = Json::object();
  port["name"] = "control";
  port["port"] = kWorkerPort;
  port["targetPort"] = kWorkerPort;
  port["protocol"] = "TCP";
  svc.Set("spec", {{"clusterIP", "None"}, {"selector", selector}, {"ports", Json::array({port})}});

  Json container = Json::object();
  container["name"] = "worker";
  container["image"] = options.image.empty() ? DefaultImage() : options.image;
  container["command"] = WorkerCommand();
  container["ports"] = Json::array({Port("control", kWorkerPort)});
  // `drone worker` listening beyond loopback requires a token; the coordinator sends the same.
  container["env"] = Json::array({EnvValue("DRONE_RUN_ID", options.run_id),
                                  EnvField("POD_NAME", "metadata.name"),
                                  EnvSecret("DRONE_WORKER_TOKEN", kWorkerTokenSecret, "token")});
  container["readinessProbe"] = TcpProbe(kWorkerPort, 2, 5, 3);
  container["resources"] = Resources("500m", "256Mi", "1Gi");
  Json security = Json::object();
  security["runAsNonRoot"] = true;
  security["runAsUser"] = 10001;
  security["allowPrivilegeEscalation"] = false;
  security["capabilities"] = {{"drop", Json::array({"ALL"})}};
  security["seccompProfile"] = {{"type", "RuntimeDefault"}};
  container["securityContext"] = security;

  Json pod_labels = selector;
  pod_labels[kManagedByLabel] = "drone";
  pod_labels[kRunIdLabel] = options.run_id;
  Json pod_spec = Json::object();
  pod_spec["affinity"] = AntiAffinity(selector, options.workers, options.schedulable_nodes);
  pod_spec["containers"] = Json::array({container});
  Json spec = Json::object();
  spec["serviceName"] = name;
  spec["replicas"] = options.workers;
  spec["podManagementPolicy"] = "Parallel";
  spec["selector"] = {{"matchLabels", selector}};
  spec["template"] = {{"metadata", {{"labels", pod_labels}}}, {"spec", pod_spec}};
  ApiObject set("apps/v1", "StatefulSet", name);
  set.Namespace(ns).Set("spec", spec);
  if (!options.worker_token.empty()) {
    ApiObject token("v1", "Secret", kWorkerTokenSecret);
    token.Namespace(ns).Set("type", "Opaque").Set("stringData", {{"token", options.worker_token}});
    chart.Add("30-workers.yaml", std::move(token));
  }
  chart.Add("30-workers.yaml", std::move(svc));
  chart.Add("30-workers.yaml", std::move(set));
}

}  // namespace

Result<Synthesis> Synthesise(const std::vector<ClusterPlan>& plans, const SynthOptions& options) {
  RETURN_IF_ERROR(ValidatePlans(plans, options));
  const std::string ns = NamespaceFor(options.run_id);
  Chart chart({{kManagedByLabel, "drone"},
               {kRunIdLabel, DnsLabel(options.run_id)},
               {kFlowLabel, DnsLabel(options.flow)}});
  const bool privileged = std::any_of(plans.begin(), plans.end(),
                                      [](const ClusterPlan& p) { return p.netfault; });
  ApiObject namespace_object("v1", "Namespace", ns);
  // The network-fault sidecar adds NET_ADMIN, which only the privileged level admits.
  namespace_object.Label("pod-security.kubernetes.io/enforce", privileged ? "privileged" : "baseline");
  chart.Add("00-namespace.yaml", std::move(namespace_object));
  chart.PhaseFor("10-rbac.yaml");

  Synthesis out{std::move(chart), {}};
  std::set<std::string> bases;
  for (const ClusterPlan& plan : plans) {
    std::string base = DnsLabel(plan.id, 40);
    if (!bases.insert(base).second) {
      return InvalidArgument("cluster steps '" + plan.id + "' and another share the Kubernetes name '" +
                             base + "'; rename one of them");
    }
    const std::string file = "20-" + base + ".yaml";
    const BuildContext ctx{plan, options, ns, base, file};
    Result<ClusterLayout> layout = Internal("no builder");
    if (plan.broker == "kafka") {
      auto op = plan.options.find("operator");
      layout = op != plan.options.end() ? BuildStrimziKafka(out.chart, ctx) : BuildKafka(out.chart, ctx);
    } else if (plan.broker == "rabbitmq") {
      layout = BuildRabbitmq(out.chart, ctx);
    } else if (plan.broker == "nats") {
      layout = BuildNats(out.chart, ctx);
    } else if (plan.broker == "redis") {
      layout = BuildRedis(out.chart, ctx);
    } else if (plan.broker == "mqtt") {
      layout = BuildMosquitto(out.chart, ctx);
    }
    if (!layout.ok()) return layout.status();
    layout->id = plan.id;
    layout->base = base;
    layout->phase_file = file;
    layout->netfault = plan.netfault;
    out.clusters.push_back(std::move(*layout));
  }
  if (options.workers > 0) AddWorkers(out.chart, options, ns);
  out.chart.DropEmptyPhases();  // no RBAC phase without objects in it
  return out;
}

}  // namespace drone::platforms::kubernetes
