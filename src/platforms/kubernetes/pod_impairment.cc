#include "platforms/kubernetes/pod_impairment.h"

#include <set>

#include "core/clock.h"
#include "faults/network/kernel_render.h"

namespace drone::platforms::kubernetes {
namespace {

namespace net = drone::faults::network;

constexpr int64_t kCallTimeoutNs = 60 * kNsPerSec;

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// A heal that found nothing to remove: the qdisc or the iptables rule is gone (or never was: a
// pod that was deleted and came back starts clean), or so is the pod.
bool NothingLeft(const KubectlResult& r) {
  return r.exit_code == 0 || r.err.find("handle of zero") != std::string::npos ||
         r.err.find("No such file or directory") != std::string::npos ||
         r.err.find("does a matching rule exist") != std::string::npos ||
         r.err.find("NotFound") != std::string::npos ||
         r.err.find("not found") != std::string::npos;
}

// Runs every heal line, carrying on past failures; the first one that left something behind.
Status RunHeal(const Kubectl& kubectl, const std::vector<Argv>& lines) {
  Status first;
  for (const Argv& line : lines) {
    auto r = kubectl.Run(line, "", kCallTimeoutNs);
    if (!r.ok()) {
      if (first.ok()) first = r.status();
      continue;
    }
    if (!NothingLeft(*r) && first.ok()) {
      first = Internal("kubectl " + JoinArgv(line) + ": " + Trimmed(r->err));
    }
  }
  return first;
}

// The pods (and IPs) a fault resolved, for its details.
void AddPods(const std::vector<PodHost>& hosts, nlohmann::json& details) {
  nlohmann::json pods = nlohmann::json::object();
  for (const PodHost& h : hosts) {
    if (!h.ip.empty()) pods[h.node] = {{"pod", h.pod}, {"ip", h.ip}};
  }
  if (!pods.empty()) details["pods"] = pods;
}

// Fills in the IPs of `wanted` hosts, asked now: pods get a new one when they are recreated.
Status LookUpIps(const Kubectl& kubectl, const std::string& ns, const std::set<std::string>& wanted,
                 std::vector<PodHost>& hosts) {
  for (PodHost& h : hosts) {
    if (!wanted.count(h.node)) continue;
    auto ip = kubectl.RunChecked(PodIpArgs(ns, h.pod), "", kCallTimeoutNs);
    if (!ip.ok()) return ip.status().WithContext("the IP of pod " + h.pod);
    h.ip = Trimmed(ip->out);
  }
  return Status::Ok();
}

}  // namespace

PodImpairmentFault::PodImpairmentFault(Kubectl kubectl, std::string ns, std::vector<PodHost> hosts,
                                       std::vector<net::Impairment> impairments)
    : kubectl_(std::move(kubectl)), ns_(std::move(ns)), hosts_(std::move(hosts)),
      impairments_(std::move(impairments)) {}

std::string PodImpairmentFault::Target() const {
  std::string out;
  for (const net::Impairment& imp : impairments_) {
    out += (out.empty() ? "" : ", ") + imp.target.from +
           (imp.target.IsEndpoint() ? "" : " -> " + imp.target.to);
  }
  return out;
}

std::string PodImpairmentFault::Backend() const {
  bool netem = false, tbf = false;
  for (const net::Impairment& imp : impairments_) {
    netem = netem || !net::NetemArgs(imp).empty();
    tbf = tbf || imp.rate.has_value();
  }
  if (netem && tbf) return "tc-netem+tc-tbf";
  return tbf ? "tc-tbf" : "tc-netem";
}

nlohmann::json PodImpairmentFault::Details() const {
  nlohmann::json d = nlohmann::json::object();
  d["via"] = "kubectl exec in the drone-netfault sidecar";
  nlohmann::json imps = nlohmann::json::array();
  for (const net::Impairment& imp : impairments_) imps.push_back(imp.ToJson());
  d["impairments"] = imps;
  AddPods(hosts_, d);
  return d;
}

Status PodImpairmentFault::Inject() {
  // The far ends' IPs, now: pods get a new one when they are recreated.
  std::set<std::string> far_ends;
  for (const net::Impairment& imp : impairments_) {
    if (!imp.target.IsEndpoint()) far_ends.insert(imp.target.to);
  }
  RETURN_IF_ERROR(LookUpIps(kubectl_, ns_, far_ends, hosts_));
  ASSIGN_OR_RETURN(plan_, PlanPodImpairments(ns_, hosts_, impairments_));
  injected_ = true;
  for (const Argv& line : plan_.apply) {
    auto r = kubectl_.Run(line, "", kCallTimeoutNs);
    Status failed;
    if (!r.ok()) {
      failed = r.status();
    } else if (r->exit_code != 0) {
      // ExecArgs: {"-n", NS, "exec", POD, ...}
      const std::string pod = line.size() > 3 ? line[3] : "";
      failed = FailedPrecondition("kubectl " + JoinArgv(line) + ": " +
                                  ExplainSidecarTcError(pod, r->err));
    }
    if (!failed.ok()) {
      [[maybe_unused]] Status healed = Heal();
      return failed;
    }
  }
  return Status::Ok();
}

Status PodImpairmentFault::Heal() {
  if (!injected_) return Status::Ok();
  Status healed = RunHeal(kubectl_, plan_.heal);
  if (healed.ok()) injected_ = false;
  return healed;
}

PodPartitionFault::PodPartitionFault(Kubectl kubectl, std::string ns, std::vector<PodHost> hosts,
                                     net::PartitionSpec spec, std::string tag)
    : kubectl_(std::move(kubectl)), ns_(std::move(ns)), hosts_(std::move(hosts)),
      spec_(std::move(spec)), tag_(std::move(tag)) {}

std::string PodPartitionFault::Target() const {
  const std::string kind = net::PartitionKindName(spec_.kind);
  if (spec_.kind == net::PartitionKind::kIsolate) {
    std::string nodes;
    for (const std::string& n : spec_.nodes) nodes += (nodes.empty() ? "" : ", ") + n;
    return kind + " " + nodes;
  }
  if (spec_.kind == net::PartitionKind::kOneWay) return spec_.from + " -/-> " + spec_.to;
  return kind;
}

nlohmann::json PodPartitionFault::Details() const {
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& [a, b] : blocked_) pairs.push_back({a, b});
  nlohmann::json d = {{"partition", spec_.ToJson()}, {"blocked", pairs},
                      {"via", "kubectl exec in the drone-netfault sidecar"}};
  AddPods(hosts_, d);
  return d;
}

Status PodPartitionFault::Inject() {
  std::vector<std::string> names;
  for (const PodHost& h : hosts_) names.push_back(h.node);
  ASSIGN_OR_RETURN(blocked_, net::Resolve(spec_, names));
  std::set<std::string> senders;
  for (const auto& pair : blocked_) senders.insert(pair.first);
  RETURN_IF_ERROR(LookUpIps(kubectl_, ns_, senders, hosts_));
  ASSIGN_OR_RETURN(plan_, PlanPodPartition(ns_, hosts_, blocked_, tag_));
  injected_ = true;
  for (const Argv& line : plan_.apply) {
    auto r = kubectl_.RunChecked(line, "", kCallTimeoutNs);
    if (!r.ok()) {
      [[maybe_unused]] Status healed = Heal();
      return r.status();
    }
  }
  return Status::Ok();
}

Status PodPartitionFault::Heal() {
  if (!injected_) return Status::Ok();
  Status healed = RunHeal(kubectl_, plan_.heal);
  if (healed.ok()) injected_ = false;
  return healed;
}

}  // namespace drone::platforms::kubernetes
