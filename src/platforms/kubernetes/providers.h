// Provider profiles: what differs between Kubernetes distributions for the objects Drone creates —
// the storage class of the brokers' volumes, the client Service's type and load-balancer
// annotations, and whether pods may carry the NET_ADMIN sidecar that network faults need (which
// needs the namespace's Pod Security level `privileged`). `generic` leaves every choice to the
// cluster's defaults. See docs/platforms/kubernetes.md for what each provider needs beforehand.
//
// Thread-safety: immutable values; the table is built once and only read.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace drone::platforms::kubernetes {

struct ProviderProfile {
  std::string name;           // "eks"
  std::string description;    // one line for `drone k8s synth --help` and the docs
  std::string storage_class;  // empty: the cluster's default class (storageClassName left out)
  std::string service_type;   // default client Service type: LoadBalancer | NodePort | ClusterIP
  // Annotations on a LoadBalancer Service, internet-facing and internal.
  std::map<std::string, std::string> lb_annotations;
  std::map<std::string, std::string> internal_lb_annotations;
  // Whether a namespace may be labelled pod-security.kubernetes.io/enforce=privileged and pods
  // may add NET_ADMIN. False where the provider's admission refuses it whatever the label says.
  bool net_admin_allowed = true;
  std::string net_admin_refusal;  // why not, and what to do, when !net_admin_allowed
};

// Every profile, in the order `drone k8s synth --help` lists them.
const std::vector<ProviderProfile>& Providers();
// The profile of that name, or InvalidArgument naming the known ones.
Result<ProviderProfile> FindProvider(const std::string& name);
std::vector<std::string> ProviderNames();

}  // namespace drone::platforms::kubernetes
