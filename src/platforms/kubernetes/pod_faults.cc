#include "platforms/kubernetes/pod_faults.h"

#include <map>

#include "faults/network/kernel_render.h"
#include "platforms/kubernetes/synth.h"

namespace drone::platforms::kubernetes {
namespace {

namespace net = drone::faults::network;

constexpr const char* kDevice = "eth0";

Argv InSidecar(const PodTarget& t, const Argv& argv) {
  return ExecArgs(t.ns, t.pod, kNetfaultContainer, argv);
}

PodCommandPlan InSidecar(const PodTarget& t, const net::CommandPlan& plan) {
  PodCommandPlan out;
  for (const net::Argv& a : plan.apply) out.apply.push_back(InSidecar(t, a));
  for (const net::Argv& a : plan.heal) out.heal.push_back(InSidecar(t, a));
  return out;
}

}  // namespace

Argv KillPodArgs(const PodTarget& t) { return DeletePodArgs(t.ns, t.pod, false); }
Argv StopPodArgs(const PodTarget& t) { return DeletePodArgs(t.ns, t.pod, true); }
Argv PausePodArgs(const PodTarget& t) {
  return InSidecar(t, {"pkill", "-STOP", "-x", t.process_name});
}
Argv ResumePodArgs(const PodTarget& t) {
  return InSidecar(t, {"pkill", "-CONT", "-x", t.process_name});
}

Result<PodCommandPlan> DelayPlan(const PodTarget& t, int64_t delay_ns) {
  net::EgressRule rule;
  rule.impairment.delay = net::DelaySpec{.time_ns = delay_ns};
  ASSIGN_OR_RETURN(net::CommandPlan plan, net::RenderTc(kDevice, {rule}, /*netem=*/true));
  return InSidecar(t, plan);
}

PodCommandPlan BlockPlan(const PodTarget& t, const std::vector<std::string>& peers,
                         const std::string& tag) {
  return InSidecar(t, net::RenderIptablesBlock(net::Direction::kIngress, kDevice, peers, tag));
}

Result<PodImpairmentPlan> PlanPodImpairments(const std::string& ns,
                                             const std::vector<PodHost>& hosts,
                                             const std::vector<net::Impairment>& impairments) {
  auto host = [&](const std::string& name) -> Result<const PodHost*> {
    for (const PodHost& h : hosts) {
      if (h.node == name) return &h;
    }
    std::string names;
    for (const PodHost& h : hosts) names += (names.empty() ? "" : ", ") + h.node;
    return InvalidArgument("no node '" + name + "' in the cluster (nodes: " + names + ")");
  };
  // Rules per source pod, in first-use order so that the plan is deterministic.
  std::vector<const PodHost*> order;
  std::map<std::string, std::vector<net::EgressRule>> rules;
  bool used_netem = false, used_tbf = false;
  for (const net::Impairment& imp : impairments) {
    RETURN_IF_ERROR(imp.Validate());
    if (imp.NeedsProxy()) {
      return FailedPrecondition(
          "reset, blackhole and slicer act on TCP streams: only a TCP proxy carries them, and "
          "platform kubernetes has none");
    }
    if (imp.Empty()) continue;
    ASSIGN_OR_RETURN(const PodHost* from, host(imp.target.from));
    net::EgressRule rule{imp, {}};
    if (!imp.target.IsEndpoint()) {
      ASSIGN_OR_RETURN(const PodHost* to, host(imp.target.to));
      if (to->ip.empty()) return FailedPrecondition("pod " + to->pod + " has no IP address yet");
      rule.destinations = {to->ip + "/32"};
    }
    if (!rules.count(from->pod)) order.push_back(from);
    rules[from->pod].push_back(std::move(rule));
    used_netem = used_netem || !net::NetemArgs(imp).empty();
    used_tbf = used_tbf || imp.rate.has_value();
  }
  PodImpairmentPlan plan;
  for (const PodHost* from : order) {
    ASSIGN_OR_RETURN(net::CommandPlan p, net::RenderTc(kDevice, rules[from->pod], /*netem=*/true));
    const PodTarget t{ns, from->pod, ""};
    PodCommandPlan in_pod = InSidecar(t, p);
    plan.apply.insert(plan.apply.end(), in_pod.apply.begin(), in_pod.apply.end());
    plan.heal.insert(plan.heal.end(), in_pod.heal.begin(), in_pod.heal.end());
  }
  if (used_netem) plan.backend = "tc-netem";
  if (used_tbf) plan.backend += std::string(plan.backend.empty() ? "" : "+") + "tc-tbf";
  return plan;
}

Result<PodCommandPlan> PlanPodPartition(const std::string& ns, const std::vector<PodHost>& hosts,
                                        const net::BlockedPairs& blocked, const std::string& tag) {
  auto host = [&](const std::string& name) -> Result<const PodHost*> {
    for (const PodHost& h : hosts) {
      if (h.node == name) return &h;
    }
    return InvalidArgument("no node '" + name + "' in the cluster");
  };
  PodCommandPlan plan;
  for (const auto& [from_name, to_name] : blocked) {
    ASSIGN_OR_RETURN(const PodHost* from, host(from_name));
    ASSIGN_OR_RETURN(const PodHost* to, host(to_name));
    if (from->ip.empty()) return FailedPrecondition("pod " + from->pod + " has no IP address yet");
    PodCommandPlan p = BlockPlan({ns, to->pod, ""}, {from->ip + "/32"}, tag);
    plan.apply.insert(plan.apply.end(), p.apply.begin(), p.apply.end());
    plan.heal.insert(plan.heal.end(), p.heal.begin(), p.heal.end());
  }
  return plan;
}

std::string ExplainSidecarTcError(const std::string& pod, std::string stderr_text) {
  while (!stderr_text.empty() && (stderr_text.back() == '\n' || stderr_text.back() == ' ')) {
    stderr_text.pop_back();
  }
  if (stderr_text.find("qdisc kind is unknown") != std::string::npos) {
    return "the node of pod " + pod +
           " has no sch_netem in its kernel (tc: " + stderr_text +
           "); load it on the node (modprobe sch_netem; most distributions ship it in "
           "linux-modules-extra or kernel-modules-extra), or run the fault on nodes that have it";
  }
  return stderr_text;
}

}  // namespace drone::platforms::kubernetes
