#include "platforms/kubernetes/providers.h"

namespace drone::platforms::kubernetes {

const std::vector<ProviderProfile>& Providers() {
  static const std::vector<ProviderProfile> kProfiles = {
      {.name = "eks",
       .description = "Amazon EKS with the EBS CSI driver and the AWS Load Balancer Controller",
       .storage_class = "gp3",
       .service_type = "LoadBalancer",
       // The controller provisions an NLB with IP targets (pods are reached directly); the in-tree
       // `nlb` value would go to the legacy cloud provider instead.
       .lb_annotations = {{"service.beta.kubernetes.io/aws-load-balancer-type", "external"},
                          {"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type", "ip"},
                          {"service.beta.kubernetes.io/aws-load-balancer-scheme",
                           "internet-facing"}},
       .internal_lb_annotations = {
           {"service.beta.kubernetes.io/aws-load-balancer-type", "external"},
           {"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type", "ip"},
           {"service.beta.kubernetes.io/aws-load-balancer-scheme", "internal"}}},
      {.name = "gke",
       .description = "Google GKE Standard (Persistent Disk CSI, passthrough network load balancer)",
       .storage_class = "standard-rwo",
       .service_type = "LoadBalancer",
       .lb_annotations = {},
       .internal_lb_annotations = {{"networking.gke.io/load-balancer-type", "Internal"}}},
      {.name = "gke-autopilot",
       .description = "Google GKE Autopilot (no NET_ADMIN: network faults are refused)",
       .storage_class = "standard-rwo",
       .service_type = "LoadBalancer",
       .lb_annotations = {},
       .internal_lb_annotations = {{"networking.gke.io/load-balancer-type", "Internal"}},
       .net_admin_allowed = false,
       .net_admin_refusal =
           "GKE Autopilot does not admit privileged namespaces or the NET_ADMIN sidecar that "
           "network faults and fault.pause need; run those on a GKE Standard cluster "
           "(--provider gke), or remove the fault.network and fault.pause steps"},
      {.name = "aks",
       .description = "Azure AKS (Azure Disk CSI, Azure load balancer)",
       .storage_class = "managed-csi",
       .service_type = "LoadBalancer",
       .lb_annotations = {},
       .internal_lb_annotations = {
           {"service.beta.kubernetes.io/azure-load-balancer-internal", "true"}}},
      {.name = "kind",
       .description = "kind (local-path storage; NodePort, as kind has no load balancer of its own)",
       .storage_class = "standard",
       .service_type = "NodePort"},
      {.name = "minikube",
       .description = "minikube (hostpath storage; NodePort; LoadBalancer needs `minikube tunnel`)",
       .storage_class = "standard",
       .service_type = "NodePort"},
      {.name = "k3s",
       .description = "k3s (local-path storage; ServiceLB answers LoadBalancer Services)",
       .storage_class = "local-path",
       .service_type = "LoadBalancer"},
      {.name = "microk8s",
       .description = "MicroK8s (hostpath-storage addon; NodePort unless the metallb addon is on)",
       .storage_class = "microk8s-hostpath",
       .service_type = "NodePort"},
      {.name = "generic",
       .description = "any conformant cluster: its default storage class and a LoadBalancer Service",
       .storage_class = "",
       .service_type = "LoadBalancer"},
  };
  return kProfiles;
}

std::vector<std::string> ProviderNames() {
  std::vector<std::string> names;
  for (const ProviderProfile& p : Providers()) names.push_back(p.name);
  return names;
}

Result<ProviderProfile> FindProvider(const std::string& name) {
  for (const ProviderProfile& p : Providers()) {
    if (p.name == name) return p;
  }
  std::string known;
  for (const std::string& n : ProviderNames()) known += (known.empty() ? "" : ", ") + n;
  return InvalidArgument("unknown Kubernetes provider '" + name + "'; known: " + known);
}

}  // namespace drone::platforms::kubernetes
