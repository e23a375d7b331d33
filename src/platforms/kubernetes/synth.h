// Synthesis: a flow's clusters (and the worker pods that drive its workloads) as a Chart of
// Kubernetes objects, the same for `drone k8s synth` (files for GitOps) and for `drone run
// --platform kubernetes` (applied phase by phase). Everything goes into one namespace per run,
// `drone-<run-id>`; every object carries app.kubernetes.io/managed-by=drone, drone.dev/run-id and
// drone.dev/flow. Phases: 00-namespace.yaml, 10-rbac.yaml, 20-<cluster>.yaml per cluster step,
// 30-workers.yaml. Names derive only from the inputs, so synthesis is deterministic.
//
// Thread-safety: pure functions over their arguments.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "drivers/driver.h"
#include "platforms/kubernetes/manifest.h"
#include "platforms/kubernetes/providers.h"
#include "spec/flow_spec.h"

namespace drone::platforms::kubernetes {

inline constexpr const char* kFieldManager = "drone";
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kRunIdLabel = "drone.dev/run-id";
inline constexpr const char* kFlowLabel = "drone.dev/flow";
inline constexpr const char* kClusterLabel = "drone.dev/cluster";
inline constexpr const char* kNetfaultContainer = "drone-netfault";
// The worker pods' port and command line: the one place that says how a worker is started.
inline constexpr int kWorkerPort = 7700;
// The Secret (key `token`) the worker pods read DRONE_WORKER_TOKEN from.
inline constexpr const char* kWorkerTokenSecret = "drone-worker-token";
std::vector<std::string> WorkerCommand();
// Drone's own image (workers, the network-fault sidecar), pinned to this build's version.
std::string DefaultImage();

// One cluster step to synthesise.
struct ClusterPlan {
  std::string id;      // the step id
  std::string broker;  // kafka | rabbitmq | nats | redis | mqtt
  int nodes = 3;
  // kafka: operator=strimzi (Strimzi Kafka + KafkaNodePool); redis: sentinels=N (default 3).
  std::map<std::string, std::string> options;
  std::string service;     // client Service type; empty: the provider's default
  bool internal_lb = false;
  bool netfault = false;   // add the NET_ADMIN sidecar (network faults, fault.pause)
};

struct SynthOptions {
  std::string run_id;           // DNS-label text; the namespace is drone-<run-id>
  std::string flow;             // the flow's name
  ProviderProfile provider;
  int schedulable_nodes = 0;    // the cluster's nodes; 0 = unknown (anti-affinity preferred)
  std::string image;            // Drone's image; empty: DefaultImage()
  std::string storage_class;    // overrides the provider's; empty: the provider's
  int workers = 0;              // worker pods (30-workers.yaml); 0: none
  // The workers' token, written as the Secret kWorkerTokenSecret; empty: the Secret is left out
  // (GitOps output keeps no secret; create it beside the manifests, docs/platforms/kubernetes.md).
  std::string worker_token;
};

// What the platform needs to know about a synthesised cluster to wait for it, reach it and
// disturb it.
struct ClusterLayout {
  std::string id;                 // step id
  std::string base;               // DNS name of its objects
  std::string phase_file;         // "20-<base>.yaml"
  std::vector<std::string> rollouts;  // "statefulset/NAME": `kubectl rollout status` each
  std::vector<std::string> waits;     // "kafka/NAME": `kubectl wait --for=condition=Ready` each
  std::vector<std::string> pods;      // broker pods, node i = pods[i]
  std::string pod_selector;           // label selector of its broker pods
  std::string broker_container;       // the broker's container name in each pod
  std::string process_name;           // the broker's process, for pkill -STOP in the sidecar
  std::string client_service;         // the client Service's name
  // Redis with sentinels: who to ask for the primary (`primary` targets).
  std::vector<std::string> sentinel_pods;
  std::string sentinel_container;
  std::string sentinel_master;        // the master name the sentinels monitor
  drivers::Endpoint endpoint;         // in-cluster addresses (DNS names of the pods/Services)
  bool netfault = false;
};

std::string NamespaceFor(const std::string& run_id);

// A cluster's plan from its step's fields; `service` InternalLoadBalancer becomes a LoadBalancer
// with the provider's internal annotations (internal_lb). netfault is left false.
ClusterPlan MakePlan(const std::string& id, const std::string& broker, int nodes,
                     const std::map<std::string, std::string>& options, const std::string& service);

// The cluster steps of a flow as plans: nodes, options and the per-cluster Kubernetes fields;
// netfault when a fault.network, fault.partition or fault.pause step targets the cluster.
std::vector<ClusterPlan> PlansFromFlow(const spec::FlowSpec& flow);
// Whether a cluster step of the flow needs the network-fault sidecar.
bool NeedsNetfault(const spec::FlowSpec& flow, const std::string& cluster_id);
// Worker pods for the flow's workloads on cluster `cluster_id` (empty: on any cluster): one per
// producer and consumer of the largest workload, at most kMaxDefaultWorkers.
inline constexpr int kMaxDefaultWorkers = 3;
int WorkerPods(const spec::FlowSpec& flow, const std::string& cluster_id);
// Checks the plans against the provider (brokers, node counts, options, NET_ADMIN); every problem
// in one InvalidArgument.
Status ValidatePlans(const std::vector<ClusterPlan>& plans, const SynthOptions& options);

struct Synthesis {
  Chart chart;
  std::vector<ClusterLayout> clusters;  // in plan order
};
Result<Synthesis> Synthesise(const std::vector<ClusterPlan>& plans, const SynthOptions& options);

}  // namespace drone::platforms::kubernetes
