// `drone k8s synth`, `drone k8s doctor`, `drone clean --kubernetes`, and the flow adjustment
// behind `drone run --platform kubernetes`. See docs/platforms/kubernetes.md. Called from main()
// only; each returns the process exit code.
#pragma once

#include <map>
#include <string>

#include "spec/flow_spec.h"

namespace drone::cli {

struct K8sSynthFlags {
  std::string flow_path;
  std::map<std::string, std::string> params;
  std::string provider = "generic";
  std::string out_dir;
  std::string run_id;         // empty: the flow's name
  int nodes = 0;              // the cluster's schedulable nodes; 0: unknown
  std::string image;          // Drone's image; empty: the pinned default
  std::string storage_class;  // empty: the provider's
  int workers = -1;           // -1: one per producer and consumer, at most 3 (0 without workloads)
  std::string worker_token;   // written as the workers' Secret; empty: the Secret is left out
};

int K8sSynthCommand(const K8sSynthFlags& flags);
int K8sDoctorCommand(const std::string& context, const std::string& provider);
int CleanKubernetesCommand(const std::string& context, bool all_hosts);

// `drone run --platform kubernetes [--context CTX] [--provider P] [--image I]`: every cluster
// step that starts servers moves to platform kubernetes (an `lb: haproxy` becomes the client
// Service). Empty strings leave a field as the flow has it.
void MoveClustersToKubernetes(spec::FlowSpec& flow, const std::string& context,
                              const std::string& provider, const std::string& image);

}  // namespace drone::cli
