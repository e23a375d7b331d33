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
#include "faults/network/impairment.h"
#include "faults/network/partition.h"
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

// A broker node as network faults in pods see it.
struct PodHost {
  std::string node;  // the flow's name for it: "broker-1"
  std::string pod;
  std::string ip;    // the pod's IP (status.podIP); needed only where it is a link's far end
};

struct PodImpairmentPlan {
  std::string backend;  // "tc-netem", "tc-tbf", "tc-netem+tc-tbf"
  std::vector<Argv> apply;
  std::vector<Argv> heal;
};
// The tc lines (faults/network/kernel_render.h RenderTc, with netem) for impairments between a
// cluster's pods, each run in its source pod's sidecar: a link a -> b shapes what a sends to b's
// pod IP (an htb class with a u32 filter on the destination), an endpoint everything its pod
// sends. Several impairments leaving one pod share its root qdisc. Heal deletes each touched
// pod's root qdisc. InvalidArgument for a host that is no node, FailedPrecondition for what
// only a TCP proxy carries (reset, blackhole, slicer).
Result<PodImpairmentPlan> PlanPodImpairments(const std::string& ns,
                                             const std::vector<PodHost>& hosts,
                                             const std::vector<faults::network::Impairment>& impairments);

// iptables DROP rules for a partition's blocked pairs: (a, b) becomes a rule in b's sidecar
// dropping what arrives on eth0 from a's pod IP — the packets vanish in flight, as in the lab.
// Every host of a pair needs its IP; InvalidArgument for a host that is no node.
Result<PodCommandPlan> PlanPodPartition(const std::string& ns, const std::vector<PodHost>& hosts,
                                        const faults::network::BlockedPairs& blocked,
                                        const std::string& tag);

// What a failed tc line in a sidecar means, for the user: a node without sch_netem (tc's
// "Specified qdisc kind is unknown") gets the way out named; anything else is passed on.
std::string ExplainSidecarTcError(const std::string& pod, std::string stderr_text);

}  // namespace drone::platforms::kubernetes
