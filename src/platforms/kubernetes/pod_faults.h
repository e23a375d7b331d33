// Faults inside pods, as command lines: process faults act on the pod (deletion) or, through the
// network-fault sidecar that shares the pod's process namespace, on the broker's process
// (SIGSTOP/SIGCONT by name: PID 1 of a container ignores those when they come from inside it);
// network faults are the tc/iptables lines of faults/network/kernel_render.h run in the sidecar,
// which shares the pod's network namespace (device eth0, peers = the other pods' IPs). Each
// function returns complete kubectl argument lists (after `kubectl --context CTX`).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "platforms/kubernetes/kubectl.h"

namespace drone::platforms::kubernetes {

struct PodTarget {
  std::string ns;
  std::string pod;
  std::string process_name;  // the broker's process (java, beam.smp, nats-server, ...)
};

Argv KillPodArgs(const PodTarget& t);   // delete --grace-period=0 --force
Argv StopPodArgs(const PodTarget& t);   // delete, with the pod's grace period
Argv PausePodArgs(const PodTarget& t);  // sidecar: pkill -STOP -x NAME
Argv ResumePodArgs(const PodTarget& t); // sidecar: pkill -CONT -x NAME

struct PodCommandPlan {
  std::vector<Argv> apply;
  std::vector<Argv> heal;
};
// Added round-trip time on everything the pod sends (netem delay on eth0's root qdisc).
Result<PodCommandPlan> DelayPlan(const PodTarget& t, int64_t delay_ns);
// Drops what arrives at the pod from `peers` (pod IPs): one side of a partition.
PodCommandPlan BlockPlan(const PodTarget& t, const std::vector<std::string>& peers,
                         const std::string& tag);

}  // namespace drone::platforms::kubernetes
