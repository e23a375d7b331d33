// Network faults as faults::Fault, ready for the fault step kinds: impairments and partitions on
// a lab network, each impairment carried by the backend ChooseBackend picks (kernel tc/iptables,
// or the NFQUEUE impairer where the kernel lacks sch_netem), and impairments of a TCP proxy in
// front of an endpoint (the backend without privilege). Backend() names what carried the fault
// ("tc-tbf+nfqueue" when several did); Details() holds the spec, the per-impairment choice and
// reason, and the impairers' counters.
//
// Inject() undoes its own partial work on error; Heal() is idempotent and removes NFQUEUE rules
// before stopping the impairers, so no packet is queued to a departed impairer (and the rules'
// --queue-bypass covers a crash).
//
// Thread-safety: as faults::Fault; Update() must not run concurrently with Inject()/Heal().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "faults/fault.h"
#include "faults/network/impairment.h"
#include "faults/network/kernel_render.h"
#include "faults/network/lab_network.h"
#include "faults/network/partition.h"
#include "faults/network/tcp_proxy.h"

namespace drone::faults::network {

class LabImpairmentFault : public Fault {
 public:
  // `lab` must outlive the fault. `tag` marks its iptables rules ("drone:<run>:<step>").
  LabImpairmentFault(const LabNetwork& lab, std::vector<Impairment> impairments,
                     KernelSupport support, std::string tag);
  ~LabImpairmentFault() override;

  std::string Kind() const override { return "impair"; }
  std::string Target() const override;
  std::string Backend() const override;
  nlohmann::json Details() const override;
  Status Inject() override;
  Status Heal() override;
  // Changes the impairments while injected: the NFQUEUE impairer takes the new spec in place
  // (its random streams go on); kernel-carried ones are replaced (healed and injected again).
  Status Update(std::vector<Impairment> impairments);

  struct Active;

 private:
  const LabNetwork& lab_;
  std::vector<Impairment> impairments_;
  KernelSupport support_;
  std::string tag_;
  std::vector<std::string> backends_, reasons_;
  std::unique_ptr<Active> active_;
};

class LabPartitionFault : public Fault {
 public:
  LabPartitionFault(const LabNetwork& lab, PartitionSpec spec, std::string tag);
  ~LabPartitionFault() override;

  std::string Kind() const override { return "partition"; }
  std::string Target() const override;
  std::string Backend() const override { return "iptables"; }
  nlohmann::json Details() const override;
  Status Inject() override;
  Status Heal() override;

 private:
  const LabNetwork& lab_;
  PartitionSpec spec_;
  std::string tag_;
  BlockedPairs blocked_;
  std::unique_ptr<LabPlan> plan_;
};

// A TCP proxy on `listen` in front of `upstream`: clients pointed at its address() see the
// impairment (`up`: client -> upstream, `down`: back). Inject starts the proxy with the
// impairment; Heal sets it to pass-through (connections keep working), and the destructor stops
// it. Backend "tcp-proxy".
class ProxyImpairmentFault : public Fault {
 public:
  ProxyImpairmentFault(std::string listen, std::string upstream, Impairment up, Impairment down);
  ~ProxyImpairmentFault() override;
  std::string Kind() const override { return "impair"; }
  std::string Target() const override { return upstream_; }
  std::string Backend() const override { return "tcp-proxy"; }
  nlohmann::json Details() const override;
  // Starts the proxy (pass-through) so clients can be pointed at it before the fault begins.
  Status Listen();
  std::string address() const;
  Status Inject() override;
  Status Heal() override;

 private:
  std::string listen_, upstream_;
  Impairment up_, down_;
  std::unique_ptr<TcpProxy> proxy_;
};

}  // namespace drone::faults::network
