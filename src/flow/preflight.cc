#include "flow/preflight.h"

#include <map>
#include <utility>

#include "drivers/builtin_drivers.h"
#include "faults/network/lab_network.h"
#include "faults/network/tcp_proxy.h"
#include "flow/step_executor.h"
#include "platforms/builtin_platforms.h"
#include "platforms/local/broker_recipe.h"
#include "platforms/kubernetes/synth.h"
#include "verify/expectation.h"

namespace drone::flow {
namespace {

bool IsLabFault(spec::StepKind k) {
  return k == spec::StepKind::kFaultNetwork || k == spec::StepKind::kFaultPartition;
}

bool TargetsCluster(const spec::Step& s, const std::string& id) {
  return IsLabFault(s.kind) && std::get<spec::FaultWith>(s.with).cluster == id;
}

bool IsReference(const std::string& s) { return s.find("${{") != std::string::npos; }

// Whether network: proxy puts proxies between this local cluster's nodes too (its recipe can
// point the nodes at them).
bool ProxiesPeerLinks(const spec::ClusterWith& cluster) {
  if (cluster.platform != "local") return false;
  Result<std::unique_ptr<platforms::local::BrokerRecipe>> recipe =
      platforms::local::RecipeRegistry().Create(cluster.broker);
  if (!recipe.ok()) return false;
  platforms::ClusterRequest request;
  request.broker = cluster.broker;
  request.nodes = cluster.nodes;
  request.options = cluster.options;
  request.network = "proxy";
  return !(*recipe)->ProxiedPeerPort(request).empty();
}

// What a fault.network or fault.partition asks that its cluster's network cannot carry: packet
// faults and broker-to-broker links in network: proxy, stream faults in a lab. Empty: fine.
// `peer_links`: in network: proxy, the links between the nodes pass through proxies too.
std::pair<std::string, std::string> NetworkMismatch(const spec::FaultWith& with,
                                                    const std::string& network, bool peer_links) {
  constexpr char kRoot[] = "run drone as root, where network faults get a lab network";
  if (!with.impairment.empty()) {
    nlohmann::json probe = nlohmann::json::parse(with.impairment);
    probe["endpoint"] = "host";
    Result<faults::network::Impairment> imp = faults::network::Impairment::FromJson(probe);
    if (!imp.ok()) return {};  // the loader reported it
    if (network == "proxy") {
      const std::string bad = faults::network::ProxyUnsupportedFields(*imp);
      if (!bad.empty()) {
        return {bad + " cannot be carried by network: proxy (TCP proxies carry delay, jitter, "
                      "rate, reset, blackhole and slicer; packet faults need a lab network)",
                kRoot};
      }
      const bool link = !with.from.empty() && !with.to.empty();
      if (link && !peer_links && with.from != "clients" && with.to != "clients" &&
          !IsReference(with.from) && !IsReference(with.to)) {
        return {"the link " + with.from + " -> " + with.to +
                    " does not pass through a proxy: in network: proxy only the links between "
                    "the clients and the nodes do",
                std::string("use from: clients or to: clients, or ") + kRoot};
      }
    } else if (network == "lab" && imp->NeedsProxy()) {
      return {"reset, blackhole and slicer are stream faults of the TCP proxy, and this cluster "
              "runs in a lab network",
              "set network: proxy on the cluster"};
    }
  }
  if (!with.partition.empty() && network == "proxy" && !peer_links) {
    const nlohmann::json j = nlohmann::json::parse(with.partition);
    const std::string shape = j.value("partition", "");
    auto names_clients = [](const nlohmann::json& list) {
      for (const nlohmann::json& n : list) {
        if (n.is_string() && (n == "clients" || IsReference(n.get<std::string>()))) return true;
      }
      return false;
    };
    bool clients = false;
    if (shape == "isolate") {
      clients = !j.contains("among") || names_clients(j["among"]);
    } else if (shape == "groups") {
      for (const nlohmann::json& g : j.value("groups", nlohmann::json::array())) {
        clients = clients || names_clients(g);
      }
    } else if (shape == "one-way") {
      clients = names_clients(nlohmann::json::array({j.value("from", ""), j.value("to", "")}));
    } else {
      clients = j.contains("among") && names_clients(j["among"]);
    }
    if (!clients) {
      return {"this partition cuts only links between brokers, and in network: proxy only the "
              "links between the clients and the nodes pass through proxies",
              std::string("partition the clients from nodes (e.g. partition: isolate), or ") + kRoot};
    }
  }
  return {};
}

}  // namespace

std::string ClusterNetwork(const spec::FlowSpec& flow, const spec::Step& cluster_step) {
  const auto& with = std::get<spec::ClusterWith>(cluster_step.with);
  // The embedded cluster's own faults (broker down, added round-trip time) need no lab, so it
  // is in one only when the flow asks.
  if (with.platform == "embedded") return with.network == "lab" ? "lab" : "";
  if (with.platform != "local") return "";
  if (!with.network.empty()) return with.network;
  bool faulted = false;
  for (const spec::Step& s : flow.steps) faulted = faulted || TargetsCluster(s, cluster_step.id);
  for (const spec::Step& s : flow.finally) faulted = faulted || TargetsCluster(s, cluster_step.id);
  if (!faulted) return "loopback";
  // Without the privilege for a lab, the TCP proxies carry the faults (CreateCluster says so).
  const faults::network::KernelSupport& k = faults::network::DetectKernelSupport();
  return k.privileged && k.netns ? "lab" : "proxy";
}

std::vector<spec::Diagnostic> Preflight(const spec::FlowSpec& flow) {
  std::vector<spec::Diagnostic> out;
  auto add = [&](const spec::Step& step, const std::string& field, const std::string& message,
                 const std::string& hint) {
    out.push_back(spec::Diagnostic{step.loc, "steps." + step.id + (field.empty() ? "" : "." + field),
                                   message, hint});
  };
  std::map<std::string, const spec::ClusterWith*> clusters;
  for (const spec::Step& step : flow.steps) {
    if (step.kind == spec::StepKind::kCluster) clusters[step.id] = &std::get<spec::ClusterWith>(step.with);
  }
  auto cluster_of = [&](const std::string& id) -> const spec::ClusterWith* {
    if (id.empty()) return clusters.size() == 1 ? clusters.begin()->second : nullptr;
    auto it = clusters.find(id);
    return it == clusters.end() ? nullptr : it->second;
  };
  std::vector<const spec::Step*> all;
  for (const spec::Step& s : flow.steps) all.push_back(&s);
  for (const spec::Step& s : flow.finally) all.push_back(&s);
  for (const spec::Step* sp : all) {
    const spec::Step& step = *sp;
    if (!StepKindRegistry().Contains(spec::StepKindName(step.kind))) {
      add(step, "kind", std::string("step kind '") + spec::StepKindName(step.kind) + "' is not built in", "");
    }
    if (step.kind == spec::StepKind::kCluster) {
      const auto& with = std::get<spec::ClusterWith>(step.with);
      Result<std::unique_ptr<platforms::Platform>> platform = platforms::PlatformRegistry().Create(with.platform);
      if (!platform.ok()) {
        add(step, "with.platform", platform.status().message(), "see `drone plugins`");
        continue;
      }
      if (!drivers::DriverRegistry().Contains(with.broker)) {
        add(step, "with.broker", "no driver for broker '" + with.broker + "'", "see `drone plugins`");
      }
      platforms::ClusterRequest request{step.id, with.broker, with.nodes, with.bootstrap};
      request.lb = with.lb;
      request.options = with.options;
      request.provider = with.provider;
      request.service = with.service;
      request.netfault = platforms::kubernetes::NeedsNetfault(flow, step.id);
      request.network = ClusterNetwork(flow, step);
      if (request.bootstrap.find("${{") != std::string::npos) request.bootstrap = "resolved-at-run-time";
      Status s = (*platform)->Validate(request);
      if (!s.ok()) add(step, "with", s.message(), "");
    }
    const bool process_fault = step.kind == spec::StepKind::kFaultStop ||
                               step.kind == spec::StepKind::kFaultPause ||
                               step.kind == spec::StepKind::kFaultRestart;
    if (process_fault) {
      const spec::ClusterWith* cluster = cluster_of(std::get<spec::FaultWith>(step.with).cluster);
      if (cluster != nullptr && cluster->platform != "local" && cluster->platform != "kubernetes") {
        add(step, "kind",
            std::string(spec::StepKindName(step.kind)) + " needs server processes to signal; platform " +
                cluster->platform + " has none",
            "run the cluster on platform local, or use fault.kill");
      }
    }
    if (step.kind == spec::StepKind::kFaultKill || step.kind == spec::StepKind::kFaultNetwork) {
      const auto& with = std::get<spec::FaultWith>(step.with);
      const spec::ClusterWith* cluster = cluster_of(with.cluster);
      if (cluster != nullptr && cluster->platform == "external") {
        add(step, "kind", "faults on nodes need a platform that controls them; platform external does not",
            "run the cluster on platform embedded (or local)");
      }
      if (step.kind == spec::StepKind::kFaultNetwork && cluster != nullptr &&
          cluster->platform == "embedded" && cluster->network != "lab" &&
          (!with.delay_ns || !with.from.empty() || !with.endpoint.empty() ||
           (!with.impairment.empty() && nlohmann::json::parse(with.impairment).size() > 1))) {
        add(step, "with",
            "on platform embedded, fault.network is a node's added round-trip time: it takes "
            "`target` and a plain `delay` (e.g. delay: 50ms) only",
            "impairments between hosts (from/to, endpoint, loss, jitter, ...) need a lab "
            "network: network: lab on the cluster (as root), or platform local; or platform "
            "kubernetes (tc in the pods)");
      }
    }
    if (IsLabFault(step.kind)) {
      const auto& with = std::get<spec::FaultWith>(step.with);
      const spec::Step* cluster_step = nullptr;
      for (const spec::Step& c : flow.steps) {
        if (c.kind == spec::StepKind::kCluster && c.id == with.cluster) cluster_step = &c;
      }
      const spec::ClusterWith* cluster = cluster_of(with.cluster);
      const std::string network = cluster_step != nullptr && cluster != nullptr &&
                                          cluster->platform == "local"
                                      ? ClusterNetwork(flow, *cluster_step)
                                      : "";
      if (network == "loopback") {
        add(step, "kind",
            std::string(spec::StepKindName(step.kind)) + " needs cluster '" + with.cluster +
                "' in a lab network or behind proxies, and it has network: loopback",
            "remove network: loopback from the cluster (or set network: proxy)");
      } else if (auto [message, hint] = NetworkMismatch(with, network, ProxiesPeerLinks(*cluster));
                 !message.empty()) {
        add(step, "with", message, hint);
      } else if (step.kind == spec::StepKind::kFaultPartition && cluster != nullptr &&
                 cluster->platform != "local" && cluster->platform != "kubernetes" &&
                 !(cluster->platform == "embedded" && cluster->network == "lab")) {
        add(step, "kind",
            "fault.partition needs a lab network (or platform kubernetes); platform " +
                cluster->platform +
                (cluster->platform == "embedded" ? " is in one only with network: lab"
                                                 : " has none"),
            cluster->platform == "embedded" ? "add network: lab to the cluster (needs root)"
                                            : "run the cluster on platform local");
      }
    }
    // Broker settings maps: each driver knows its keys (drivers reject what they do not know).
    auto check_options = [&](const spec::Step& st, const std::string& cluster_id, drivers::OptionScope scope,
                             const std::map<std::string, std::string>& options) {
      const spec::ClusterWith* cluster = cluster_of(cluster_id);
      if (cluster == nullptr || options.empty()) return;
      Result<std::unique_ptr<drivers::Driver>> driver = drivers::DriverRegistry().Create(cluster->broker);
      if (!driver.ok()) return;  // reported at the cluster step
      Status s = (*driver)->ValidateOptions(scope, options);
      if (!s.ok()) add(st, std::string("with.") + drivers::OptionScopeName(scope), s.message(), "");
    };
    if (step.kind == spec::StepKind::kTopic) {
      const auto& with = std::get<spec::TopicWith>(step.with);
      check_options(step, with.cluster, drivers::OptionScope::kTopic, with.config);
    }
    if (step.kind == spec::StepKind::kWorkload) {
      const auto& with = std::get<spec::WorkloadWith>(step.with);
      check_options(step, with.cluster, drivers::OptionScope::kProducer, with.producer_config);
      check_options(step, with.cluster, drivers::OptionScope::kConsumer, with.consumer_config);
    }
    if (step.kind == spec::StepKind::kCheck) {
      const auto& with = std::get<spec::CheckWith>(step.with);
      for (const spec::Expectation& e : with.expect) {
        Status s = verify::ValidateExpectation(e.field, e.condition);
        if (!s.ok()) {
          out.push_back(spec::Diagnostic{e.loc, "steps." + step.id + ".with.expect." + e.field, s.message(), ""});
        }
      }
    }
    if (step.kind == spec::StepKind::kFlow) {
      // A sub-flow is checked as a flow of its own; its diagnostics name its file.
      const auto& with = std::get<spec::SubFlowWith>(step.with);
      if (with.flow) {
        for (spec::Diagnostic& d : Preflight(*with.flow)) out.push_back(std::move(d));
      }
    }
  }
  return out;
}

}  // namespace drone::flow
