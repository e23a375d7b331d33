// fault.network on a cluster in a lab network or behind proxies (network: proxy), and
// fault.partition: the impairment spec and the partition shapes of docs/network-faults.md,
// between the lab's hosts or on the proxies between the clients and the nodes. Host names in a
// flow are node names, roles (leader, random, minority: resolved by the platform when the fault
// fires), `clients` (the host the workloads run in) and `brokers` (every broker node). On a
// cluster outside a lab and without proxies (Kubernetes) the platform carries fault.network's
// impairments between its nodes (NodeControl::NewImpairmentFault) and fault.partition's shapes
// (NewPartitionFault), and the hosts are the nodes, roles and `brokers`.
#include <algorithm>
#include <set>

#include "core/clock.h"
#include "faults/network/lab_fault.h"
#include "faults/network/lab_network.h"
#include "faults/network/proxy_fault.h"
#include "faults/network/proxy_network.h"
#include "flow/steps/fault_hold.h"

namespace drone::flow {
namespace {

namespace net = faults::network;

constexpr char kClientsHost[] = "clients";
constexpr char kBrokersGroup[] = "brokers";

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(start, end - start);
    if (!part.empty()) out.push_back(part);
    start = end + 1;
  }
  return out;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Resolves the flow's host names to lab hosts, at the moment the fault fires.
class HostResolver {
 public:
  HostResolver(StepContext& ctx, platforms::Cluster& cluster) : ctx_(ctx), cluster_(cluster) {}

  Result<std::vector<std::string>> Resolve(const std::string& written) {
    ASSIGN_OR_RETURN(std::string name, ctx_.Interpolate(written));
    if (name == kBrokersGroup) return Brokers();
    const std::vector<std::string> known = LabHosts();
    if (std::find(known.begin(), known.end(), name) != known.end()) {
      return std::vector<std::string>{name};
    }
    platforms::NodeControl* control = cluster_.Control();
    if (control == nullptr) return NotFound("no host '" + name + "' (hosts: " + JoinNames(known) + ")");
    Result<std::string> nodes = control->ResolveTarget(name, ctx_.run.run_number());
    if (!nodes.ok()) {
      return nodes.status().WithContext("host '" + name + "' (hosts: " +
                                        JoinNames(LabHosts()) + ", brokers; or a role)");
    }
    return SplitCommas(*nodes);
  }

  Result<std::string> ResolveOne(const std::string& written) {
    ASSIGN_OR_RETURN(std::vector<std::string> hosts, Resolve(written));
    if (hosts.size() != 1) {
      return InvalidArgument("'" + written + "' names " + std::to_string(hosts.size()) +
                             " hosts (" + JoinNames(hosts) + "); this field takes one");
    }
    return hosts[0];
  }

  std::vector<std::string> Brokers() const {
    std::vector<std::string> out;
    for (const platforms::NodeInfo& n : cluster_.Nodes()) out.push_back(n.name);
    return out;
  }

  // The lab's hosts, or (network: proxy) the proxied nodes and `clients`; elsewhere, the nodes.
  std::vector<std::string> LabHosts() const {
    if (cluster_.Lab() == nullptr && cluster_.Proxies() == nullptr) return Brokers();
    std::vector<std::string> out;
    if (const net::LabNetwork* lab = cluster_.Lab()) {
      for (const net::LabHost& h : lab->hosts()) out.push_back(h.name);
      return out;
    }
    out = cluster_.Proxies()->Hosts();
    out.push_back(net::kProxyClientsHost);
    return out;
  }

 private:
  StepContext& ctx_;
  platforms::Cluster& cluster_;
};

// "isolate nats-2", "nats-1 -/-> clients", "halves": as the lab partition names itself.
std::string PartitionTarget(const net::PartitionSpec& spec) {
  const std::string kind = net::PartitionKindName(spec.kind);
  if (spec.kind == net::PartitionKind::kIsolate) return kind + " " + JoinNames(spec.nodes);
  if (spec.kind == net::PartitionKind::kOneWay) return spec.from + " -/-> " + spec.to;
  return kind;
}

std::string Tag(const StepContext& ctx) { return "drone:" + ctx.run.run_id() + ":" + ctx.step.id; }

Result<std::vector<std::string>> ResolveList(HostResolver& hosts, const nlohmann::json& names) {
  std::vector<std::string> out;
  for (const nlohmann::json& n : names) {
    ASSIGN_OR_RETURN(std::vector<std::string> some, hosts.Resolve(n.get<std::string>()));
    for (std::string& h : some) {
      if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(std::move(h));
    }
  }
  return out;
}

Status RunImpairment(StepContext& ctx, platforms::Cluster& cluster, HostResolver& hosts) {
  const auto& with = std::get<spec::FaultWith>(ctx.step.with);
  const nlohmann::json base = nlohmann::json::parse(with.impairment);
  std::vector<net::Impairment> impairments;
  std::string target;
  auto add = [&](nlohmann::json j) -> Status {
    ASSIGN_OR_RETURN(net::Impairment imp, net::Impairment::FromJson(j));
    impairments.push_back(std::move(imp));
    return Status::Ok();
  };
  const std::string& endpoint = !with.endpoint.empty() ? with.endpoint : with.target;
  if (!endpoint.empty()) {
    ASSIGN_OR_RETURN(std::vector<std::string> ends, hosts.Resolve(endpoint));
    for (const std::string& e : ends) {
      nlohmann::json j = base;
      j["endpoint"] = e;
      RETURN_IF_ERROR(add(j));
    }
    target = JoinNames(ends);
  } else {
    ASSIGN_OR_RETURN(std::vector<std::string> from, hosts.Resolve(with.from));
    ASSIGN_OR_RETURN(std::vector<std::string> to, hosts.Resolve(with.to));
    for (const std::string& a : from) {
      for (const std::string& b : to) {
        if (a == b) continue;
        nlohmann::json j = base;
        j["from"] = a;
        j["to"] = b;
        RETURN_IF_ERROR(add(j));
      }
    }
    if (impairments.empty()) {
      return InvalidArgument("from and to name the same host; a link needs two");
    }
    target = JoinNames(from) + " -> " + JoinNames(to);
  }
  const std::string requested =
      endpoint.empty() ? with.from + " -> " + with.to : endpoint;
  if (net::ProxyNetwork* proxies = cluster.Proxies(); proxies != nullptr && cluster.Lab() == nullptr) {
    ASSIGN_OR_RETURN(auto plan, net::PlanProxyImpairments(impairments, proxies->Hosts(),
                                                             proxies->HasPeerLinks()));
    auto fault = std::make_shared<net::ProxyFault>(*proxies, "impair", target, std::move(plan), base);
    return InjectAndHold(ctx, std::move(fault), target, requested, with.duration_ns);
  }
  std::shared_ptr<faults::Fault> fault;
  if (cluster.Lab() != nullptr) {
    fault = std::make_shared<net::LabImpairmentFault>(*cluster.Lab(), std::move(impairments),
                                                      net::DetectKernelSupport(), Tag(ctx));
  } else {
    ASSIGN_OR_RETURN(fault, cluster.Control()->NewImpairmentFault(impairments));
  }
  return InjectAndHold(ctx, std::move(fault), target, requested, with.duration_ns);
}

Status RunPartition(StepContext& ctx, platforms::Cluster& cluster, HostResolver& hosts) {
  const auto& with = std::get<spec::FaultWith>(ctx.step.with);
  nlohmann::json j = nlohmann::json::parse(with.partition);
  if (j.contains("nodes")) {
    ASSIGN_OR_RETURN(std::vector<std::string> nodes, ResolveList(hosts, j["nodes"]));
    j["nodes"] = nodes;
  }
  if (j.contains("groups")) {
    nlohmann::json groups = nlohmann::json::array();
    for (const nlohmann::json& g : j["groups"]) {
      ASSIGN_OR_RETURN(std::vector<std::string> members, ResolveList(hosts, g));
      groups.push_back(members);
    }
    j["groups"] = groups;
  }
  for (const char* k : {"from", "to"}) {
    if (j.contains(k)) {
      ASSIGN_OR_RETURN(std::string h, hosts.ResolveOne(j[k].get<std::string>()));
      j[k] = h;
    }
  }
  if (j.contains("among")) {
    ASSIGN_OR_RETURN(std::vector<std::string> among, ResolveList(hosts, j["among"]));
    j["among"] = among;
  } else {
    // Shapes over "the cluster" split the brokers; the clients keep reaching every node.
    const std::string shape = j["partition"].get<std::string>();
    if (shape == "halves" || shape == "majorities-ring" || shape == "bridge") {
      j["among"] = hosts.Brokers();
    }
  }
  ASSIGN_OR_RETURN(net::PartitionSpec spec, net::PartitionSpec::FromJson(j));
  // Checked now, with the lab's hosts, so that a shape that does not fit fails before anything.
  std::vector<std::string> names = hosts.LabHosts();
  ASSIGN_OR_RETURN(net::BlockedPairs blocked, net::Resolve(spec, names));
  if (net::ProxyNetwork* proxies = cluster.Proxies(); proxies != nullptr && cluster.Lab() == nullptr) {
    ASSIGN_OR_RETURN(net::ProxyPartitionPlan plan, net::PlanProxyPartition(blocked, proxies->Hosts(),
                                                                            proxies->HasPeerLinks()));
    const std::string target = PartitionTarget(spec);
    auto fault = std::make_shared<net::ProxyFault>(*proxies, "partition", target,
                                                   std::move(plan.proxies), spec.ToJson(),
                                                   std::move(plan.uncut));
    return InjectAndHold(ctx, std::move(fault), target, "", with.duration_ns);
  }
  std::shared_ptr<faults::Fault> fault;
  if (cluster.Lab() != nullptr) {
    fault = std::make_shared<net::LabPartitionFault>(*cluster.Lab(), spec, Tag(ctx));
  } else {
    ASSIGN_OR_RETURN(fault, cluster.Control()->NewPartitionFault(spec, Tag(ctx)));
  }
  const std::string target = fault->Target();
  return InjectAndHold(ctx, std::move(fault), target, "", with.duration_ns);
}

class FaultPartitionStep : public StepExecutor {
 public:
  std::string Kind() const override { return "fault.partition"; }
  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::FaultWith>(ctx.step.with);
    ASSIGN_OR_RETURN(platforms::Cluster * cluster, ctx.run.FindCluster(with.cluster));
    if (cluster->Lab() == nullptr && cluster->Control() != nullptr) {
      // Platforms that partition inside their nodes (Kubernetes: the pods' sidecars).
      HostResolver hosts(ctx, *cluster);
      Status s = RunPartition(ctx, *cluster, hosts);
      if (s.code() != StatusCode::kUnimplemented) return s;
    }
    return RunLabFault(ctx, *cluster);
  }
};

}  // namespace

Status RunNodeImpairment(StepContext& ctx, platforms::Cluster& cluster) {
  if (cluster.Control() == nullptr) {
    return FailedPrecondition("this cluster's platform has no control over its nodes");
  }
  HostResolver hosts(ctx, cluster);
  return RunImpairment(ctx, cluster, hosts);
}

Status RunLabFault(StepContext& ctx, platforms::Cluster& cluster) {
  if (cluster.Lab() == nullptr && cluster.Proxies() == nullptr) {
    return FailedPrecondition(std::string(spec::StepKindName(ctx.step.kind)) +
                              " needs the cluster in a lab network (platform local, network: lab, "
                              "as root) or behind proxies (network: proxy)");
  }
  HostResolver hosts(ctx, cluster);
  if (ctx.step.kind == spec::StepKind::kFaultPartition) return RunPartition(ctx, cluster, hosts);
  return RunImpairment(ctx, cluster, hosts);
}

std::unique_ptr<StepExecutor> NewFaultPartitionStep() {
  return std::make_unique<FaultPartitionStep>();
}

}  // namespace drone::flow
