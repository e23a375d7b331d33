#include "platforms/kubernetes/pod_faults.h"

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

}  // namespace drone::platforms::kubernetes
