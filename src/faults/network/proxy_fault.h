// Network faults on a cluster's proxy network (`network: proxy`, faults/network/proxy_network.h):
// an impairment (delay, jitter, rate, reset, blackhole, slicer) on the proxies between the
// clients and some nodes, and a partition between the clients and some nodes (the proxies
// blackhole the cut directions). Inject remembers what each proxy did before and sets the plan;
// Heal puts it back — after a blackhole, the connections open through the proxy are reset, since
// their streams have lost bytes and cannot go on (the clients reconnect, as after a real
// partition whose connections timed out). Backend "tcp-proxy".
//
// Thread-safety: as faults::Fault. The ProxyNetwork must outlive the fault.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "faults/fault.h"
#include "faults/network/partition.h"
#include "faults/network/proxy_network.h"

namespace drone::faults::network {

class ProxyFault : public Fault {
 public:
  // `plan`: the settings per node (PlanProxyImpairments / PlanProxyPartition); `uncut`: blocked
  // pairs that no proxy carries, reported in Details().
  ProxyFault(ProxyNetwork& proxies, std::string kind, std::string target,
             std::map<std::string, ProxyDirections> plan, nlohmann::json spec,
             std::vector<std::pair<std::string, std::string>> uncut = {});
  ~ProxyFault() override;

  std::string Kind() const override { return kind_; }
  std::string Target() const override { return target_; }
  std::string Backend() const override { return "tcp-proxy"; }
  // The spec, each proxy's settings and its counters when the fault began.
  nlohmann::json Details() const override;
  // What the proxies counted while the fault was on (bytes forwarded and blackholed, connections
  // accepted and reset), by node.
  nlohmann::json HealDetails() const override;
  Status Inject() override;
  Status Heal() override;

 private:
  ProxyNetwork& proxies_;
  const std::string kind_, target_;
  const std::map<std::string, ProxyDirections> plan_;
  const nlohmann::json spec_;
  const std::vector<std::pair<std::string, std::string>> uncut_;
  bool injected_ = false;
  std::map<std::string, ProxyDirections> before_;
  std::map<std::string, TcpProxyStats> at_inject_, at_heal_;
};

}  // namespace drone::faults::network
