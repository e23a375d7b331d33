// The kernel renderer: turns impairments and partitions into the exact command lines (`tc ...`,
// `iptables ...`) that carry them out in the kernel — netem (where the kernel has sch_netem) and
// tbf as egress qdiscs, iptables' statistic match for plain random loss, iptables DROP rules for
// partitions, and the NFQUEUE rules that hand a link's packets to the userspace impairer. Each
// rendering comes with its heal commands. The device-level functions know nothing about the lab,
// so the Kubernetes NET_ADMIN sidecar runs the same lines in a pod; PlanLab* place them in the
// lab's namespaces. Pure functions (golden-tested); thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "faults/network/impairment.h"
#include "faults/network/lab_network.h"
#include "faults/network/partition.h"

namespace drone::faults::network {

using Argv = std::vector<std::string>;

// netem's arguments for everything but the rate ({"delay", "100ms", "10ms", ...}); empty when
// the impairment needs no netem.
Argv NetemArgs(const Impairment& imp);
// tbf's arguments for a rate ({"rate", "10000000bit", "burst", "3028", "latency", "100000us"}).
Argv TbfArgs(const RateSpec& rate);
// Whether the impairment needs sch_netem (anything but a rate and plain random loss).
bool NeedsNetem(const Impairment& imp);
// Plain random loss without correlation: what iptables' statistic match can do.
bool IsPlainRandomLoss(const LossSpec& loss);

// One impairment on the egress of a device, for packets to `destinations` (CIDRs; empty: all).
struct EgressRule {
  Impairment impairment;
  std::vector<std::string> destinations;
};

struct CommandPlan {
  std::vector<Argv> apply;
  std::vector<Argv> heal;
};

// tc commands for the egress of `device`. A single rule for all traffic becomes the root qdisc
// (netem, with tbf beneath it for a rate; or tbf alone). Otherwise an htb root gets one class
// per rule, each with its netem/tbf and a u32 filter per destination; unclassified traffic
// passes untouched (htb "default 0"). With `netem` false only rates can be rendered (an error
// names the rule that needs netem). Heal deletes the root qdisc, which takes everything beneath it.
Result<CommandPlan> RenderTc(const std::string& device, const std::vector<EgressRule>& rules,
                             bool netem);

// The direction of an iptables rule relative to the namespace it lives in.
enum class Direction { kEgress, kIngress };

// iptables rules in `chain` direction on `device`: `peers` are the far ends (addresses or CIDRs;
// empty: all). Each rule carries `-m comment --comment TAG` so it can be found and deleted.
CommandPlan RenderIptablesLoss(Direction dir, const std::string& device,
                               const std::vector<std::string>& peers, double probability,
                               const std::string& tag);
// DROP rules, inserted first in the chain so that they win over any impairment rule.
CommandPlan RenderIptablesBlock(Direction dir, const std::string& device,
                                const std::vector<std::string>& peers, const std::string& tag);
// NFQUEUE rules handing the packets to queue `queue`, except the impairer's own copies (marked
// kInjectMark). --queue-bypass: when no impairer listens
// (it crashed), packets pass unimpaired instead of the link going dark.
CommandPlan RenderNfqueue(Direction dir, const std::string& device,
                          const std::vector<std::string>& peers, int queue, const std::string& tag);

// A command placed in one of the lab's namespaces.
struct PlacedCommand {
  std::string netns;
  Argv argv;
  bool operator==(const PlacedCommand&) const = default;
};

struct LabPlan {
  std::string backend;  // "tc-netem", "tc-tbf", "iptables", "tc-tbf+iptables", ...
  std::vector<PlacedCommand> apply;
  std::vector<PlacedCommand> heal;
};

// Kernel commands for a set of impairments in a lab: a link a -> b acts on a's eth0 for packets to
// b; an endpoint acts on its eth0 (egress) and on its peer's end on the hub (ingress). Rates go to
// tbf; with `support.netem` everything else goes to netem; without it, plain random loss goes to
// iptables' statistic match and anything else is an error (FailedPrecondition: the NFQUEUE
// impairer carries it). `tag` marks the iptables rules.
Result<LabPlan> PlanLabImpairments(const std::vector<LabHost>& hosts, const std::string& hub_netns,
                                   const std::vector<Impairment>& impairments, bool netem,
                                   const std::string& tag);

// DROP rules for the blocked pairs: (a, b) becomes a rule in b's namespace dropping what arrives
// from a on eth0 — the packets vanish in flight, as in a real partition, rather than failing at
// a's send call.
Result<LabPlan> PlanLabPartition(const std::vector<LabHost>& hosts, const BlockedPairs& blocked,
                                 const std::string& tag);

// Runs a plan's apply commands in order; on the first failure runs the heal commands of the whole
// plan (best effort) and returns the failure.
Status ApplyPlan(const LabPlan& plan);
// Runs every heal command, carrying on past failures (a qdisc or rule that is already gone is
// fine); returns the first failure that left something behind.
Status HealPlan(const LabPlan& plan);

}  // namespace drone::faults::network
