// Network faults between a Kubernetes cluster's broker pods, as faults::Fault. An impairment
// (fault.network):
// Inject() asks the API server for the pod IPs that the links lead to (at that moment: a pod
// that was deleted and came back has a new one), renders the tc lines (pod_faults.h
// PlanPodImpairments) and runs them through `kubectl exec` in each source pod's NET_ADMIN
// sidecar; Heal() deletes the root qdiscs it added. A node without sch_netem makes Inject fail
// with tc's error and the way out (ExplainSidecarTcError); whatever was applied by then is healed.
// A partition (fault.partition): the blocked pairs of the spec become iptables DROP rules, each
// in the receiving pod's sidecar for the sender's pod IP (asked for at Inject, as above), tagged
// so that Heal deletes exactly them.
//
// Thread-safety: as faults::Fault (one thread drives it; Heal may follow on the teardown thread).
#pragma once

#include <string>
#include <vector>

#include "faults/fault.h"
#include "faults/network/impairment.h"
#include "platforms/kubernetes/kubectl.h"
#include "platforms/kubernetes/pod_faults.h"

namespace drone::platforms::kubernetes {

class PodImpairmentFault : public faults::Fault {
 public:
  // `hosts`: every broker node of the cluster with its pod (IPs are looked up by Inject).
  PodImpairmentFault(Kubectl kubectl, std::string ns, std::vector<PodHost> hosts,
                     std::vector<faults::network::Impairment> impairments);

  std::string Kind() const override { return "impair"; }
  std::string Target() const override;
  std::string Backend() const override;
  nlohmann::json Details() const override;
  Status Inject() override;
  Status Heal() override;

 private:
  const Kubectl kubectl_;
  const std::string ns_;
  std::vector<PodHost> hosts_;
  const std::vector<faults::network::Impairment> impairments_;
  PodImpairmentPlan plan_;
  bool injected_ = false;
};

class PodPartitionFault : public faults::Fault {
 public:
  PodPartitionFault(Kubectl kubectl, std::string ns, std::vector<PodHost> hosts,
                    faults::network::PartitionSpec spec, std::string tag);

  std::string Kind() const override { return "partition"; }
  std::string Target() const override;
  std::string Backend() const override { return "iptables"; }
  nlohmann::json Details() const override;
  Status Inject() override;
  Status Heal() override;

 private:
  const Kubectl kubectl_;
  const std::string ns_;
  std::vector<PodHost> hosts_;
  const faults::network::PartitionSpec spec_;
  const std::string tag_;
  faults::network::BlockedPairs blocked_;
  PodCommandPlan plan_;
  bool injected_ = false;
};

}  // namespace drone::platforms::kubernetes
