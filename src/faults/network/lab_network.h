// The lab network: every host of a test (a broker node, a client group, a load balancer) gets a
// network namespace of its own, `drone-<run>-<host>`, with one interface `eth0` holding an address
// in 10.213.0.0/24. The hosts' veth peers sit on a bridge in a hub namespace, `drone-<run>-hub`,
// so they reach each other and nothing else: no namespace of a lab has a route out of it, and the
// host's own network is never touched (the range exists only inside the lab, which is why several
// labs can each use it at once). Faults then act inside those namespaces: tc qdiscs on `eth0`
// (a host's egress) and on its hub-side peer (its ingress), iptables rules in the host namespace.
//
// Everything is created with `ip` (argv, never a shell) and recorded; Teardown() deletes the
// namespaces, which takes their interfaces, qdiscs and iptables rules with them. Deletion is keyed
// by name and idempotent, so `drone clean` can remove a crashed run's labs by their prefix.
//
// This file also detects what the kernel can do for network faults (DetectKernelSupport): the
// privilege for namespaces, and sch_netem, tbf, iptables' statistic match and NFQUEUE, each tried
// for real in a scratch namespace.
//
// Thread-safety: a LabNetwork is owned by one thread; Spawn/Run may be called from several
// threads once Create returned (they only read). The free functions are thread-safe.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "faults/network/command.h"

namespace drone::faults::network {

inline constexpr char kLabSubnet[] = "10.213.0.0/24";
inline constexpr char kLabNamespacePrefix[] = "drone-";
inline constexpr int kMaxLabHosts = 250;

struct LabHost {
  std::string name;           // "node-1"
  std::string netns;          // "drone-<run>-node-1"
  std::string address;        // "10.213.0.2"
  std::string interface;      // "eth0", in `netns`
  std::string hub_interface;  // its veth peer on the hub's bridge ("vh1"): the host's ingress
};

// "drone-<run>-<host>". Run ids and host names are [A-Za-z0-9-] (checked by Create).
std::string LabNamespaceName(const std::string& run_id, const std::string& host);

class LabNetwork {
 public:
  // Creates the hub and one namespace per host, in order; hosts get 10.213.0.2, .3, ... On error
  // everything created so far is deleted again and the error names the failing command.
  static Result<std::unique_ptr<LabNetwork>> Create(const std::string& run_id,
                                                    const std::vector<std::string>& hosts);
  ~LabNetwork();
  LabNetwork(const LabNetwork&) = delete;
  LabNetwork& operator=(const LabNetwork&) = delete;

  // Deletes every namespace of the lab (hosts first, then the hub). Idempotent. Processes started
  // with Spawn must be stopped first, or their namespace lingers (unnamed) until they exit.
  Status Teardown();

  const std::string& run_id() const { return run_id_; }
  const std::string& hub_netns() const { return hub_netns_; }
  const std::vector<LabHost>& hosts() const { return hosts_; }
  Result<const LabHost*> Host(const std::string& name) const;
  // Every namespace this lab created, in creation order (for the undo journal).
  std::vector<std::string> Namespaces() const;

  // Runs argv inside a host's namespace to completion / in the background.
  Result<CommandResult> Run(const std::string& host, const std::vector<std::string>& argv) const;
  Result<NetnsProcess> Spawn(const std::string& host, const std::vector<std::string>& argv) const;

 private:
  LabNetwork() = default;
  Status Build(const std::vector<std::string>& hosts);

  std::string run_id_;
  std::string hub_netns_;
  std::vector<LabHost> hosts_;
  std::vector<std::string> created_;  // namespaces, in creation order
};

// Deletes a network namespace by name; OK when there is none.
Status DeleteNetns(const std::string& name);
// Names of the network namespaces whose names start with `prefix` ("drone-" finds every lab).
Result<std::vector<std::string>> ListNetns(const std::string& prefix);
// Deletes every namespace of run `run_id` ("drone-<run>-*"); returns how many there were.
Result<int> CleanLab(const std::string& run_id);

// What this machine offers network faults, each tried for real.
struct KernelSupport {
  bool privileged = false;          // CAP_NET_ADMIN and CAP_SYS_ADMIN: namespaces, tc, iptables
  bool netns = false;               // a namespace and a veth pair could be created
  bool netem = false;               // sch_netem
  bool tbf = false;                 // sch_tbf
  bool htb = false;                 // sch_htb + u32: per-destination classes
  bool iptables = false;            // iptables works inside a namespace
  bool iptables_statistic = false;  // -m statistic --mode random
  bool nfqueue = false;             // -j NFQUEUE
  std::vector<std::string> notes;   // why something is missing, in the tools' own words
  nlohmann::json ToJson() const;
  // One line for users: what will carry impairments here and why.
  std::string Summary() const;
};

// Probes once per process (the result is cached); later calls return the first answer.
const KernelSupport& DetectKernelSupport();
// Ok when this process may create a lab's namespaces; else FailedPrecondition saying what is
// missing and ending with `way_out` ("run as root, or ...").
Status CheckLabPrivilege(const std::string& way_out);
// Probes again, without the cache (tests).
KernelSupport ProbeKernelSupport();

}  // namespace drone::faults::network
