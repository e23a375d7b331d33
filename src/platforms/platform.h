// Platforms: where clusters run (embedded in-process, local processes, Kubernetes, external
// addresses). A Platform creates Clusters; a Cluster knows its nodes, how clients reach it, and —
// through NodeControl — how to disturb its nodes for process-level faults. New platforms register
// in RegisterBuiltinPlatforms() (platforms/builtin_platforms.h).
//
// Thread-safety: Platform is stateless and shared. A Cluster may be used from several threads
// (faults fire while workloads run); implementations synchronise internally.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "drivers/driver.h"
#include "faults/fault.h"
#include "faults/network/impairment.h"
#include "faults/network/partition.h"

namespace drone::journal {
class Journal;
}
namespace drone::faults::network {
class LabNetwork;
class ProxyNetwork;
}

namespace drone::platforms {

struct ClusterRequest {
  std::string name;      // step id, used in node names and logs
  std::string broker;    // "kafka"
  int nodes = 3;
  std::string bootstrap; // external platform only
  std::string lb = "none";                     // "none" | "haproxy" (local platform)
  std::map<std::string, std::string> options;  // recipe settings (local platform), e.g. sentinels
  const CancelToken* cancel = nullptr;         // when set, a slow start gives up once it fires
  // platform kubernetes (platforms/kubernetes/, docs/platforms/kubernetes.md):
  std::string run_id;                // the namespace is drone-<run-id>; objects are labelled with it
  std::string flow;                  // the flow's name, for labels
  std::string context;               // kubeconfig context; empty: the current one
  std::string provider = "generic";  // provider profile
  std::string service;               // client Service type; empty: the provider's
  std::string image;                 // Drone's image; empty: the pinned default
  bool netfault = false;             // the pods get the network-fault sidecar
  int workers = 0;                   // worker pods that run the flow's workloads; 0: none
  journal::Journal* journal = nullptr;  // the run's undo journal; null: nothing is journalled
  // local platform: "lab" puts every node (and the clients) in a network namespace of its own
  // (docs/network-faults.md), "loopback" uses 127.0.0.N, "proxy" is loopback with a TCP proxy in
  // front of every node's client port; `run_id` also names the lab's namespaces.
  std::string network = "loopback";
};

struct NodeInfo {
  std::string name;     // "broker-1"
  int id = 0;           // broker id where the broker has one
  std::string address;  // host:port
  bool up = true;
  int64_t pid = 0;      // the server process, where Drone started one (local platform)
  std::string role;     // "primary", "replica", "leader", ...; empty when unknown
};

// Process-level control over a cluster's nodes, used by faults. Every method may be called from
// any thread. Unimplemented where the platform cannot do it (external clusters).
class NodeControl {
 public:
  virtual ~NodeControl() = default;
  // The mechanism, recorded as faults[].backend ("embedded-mock", "signal", ...).
  virtual std::string Backend() const = 0;
  // Takes the node down abruptly (no graceful hand-over), moving its duties (partition
  // leadership, group coordination) to surviving nodes as the real broker would fail over.
  virtual Status Kill(const std::string& node) = 0;
  // Brings a killed node back. With `failback`, duties it had return to it (preferred leader
  // election), as a real cluster does after a while.
  virtual Status Start(const std::string& node, bool failback) = 0;
  // Stops the node gracefully (SIGTERM; the broker hands over its duties as on a shutdown).
  // Brought back with Start().
  virtual Status Stop(const std::string& /*node*/) {
    return Unimplemented(Backend() + " cannot stop nodes gracefully");
  }
  // Freezes the node (SIGSTOP): it holds its connections but answers nothing until Resume().
  virtual Status Pause(const std::string& /*node*/) {
    return Unimplemented(Backend() + " cannot pause nodes");
  }
  virtual Status Resume(const std::string& /*node*/) {
    return Unimplemented(Backend() + " cannot pause nodes");
  }
  // Adds `delay_ns` of round-trip time to everything the node answers (0 removes it).
  virtual Status SetDelay(const std::string& node, int64_t delay_ns) = 0;
  // Resolves a target (a node name, "random", "leader", "primary", "minority") to node names, at
  // the moment a fault fires. `seed` makes "random" reproducible. "minority" may name several
  // nodes, joined by commas (the largest set of nodes whose loss leaves a majority up).
  virtual Result<std::string> ResolveTarget(const std::string& target, uint64_t seed) = 0;
  // Network impairments carried inside the nodes themselves, for clusters outside a lab network
  // (Kubernetes: tc in each broker pod's NET_ADMIN sidecar). The impairments' targets name nodes
  // (a link from -> to, or an endpoint). The caller injects and heals the fault. Errors: what
  // the platform cannot carry (Unimplemented, FailedPrecondition), a host that is no node.
  virtual Result<std::shared_ptr<faults::Fault>> NewImpairmentFault(
      const std::vector<faults::network::Impairment>& /*impairments*/) {
    return Unimplemented(Backend() + " cannot impair the links between nodes");
  }
  // A partition between the nodes, outside a lab network (Kubernetes: iptables in the pods'
  // sidecars); the spec's hosts are node names. `tag` marks what the fault adds (iptables
  // comments). As NewImpairmentFault otherwise.
  virtual Result<std::shared_ptr<faults::Fault>> NewPartitionFault(
      const faults::network::PartitionSpec& /*spec*/, const std::string& /*tag*/) {
    return Unimplemented(Backend() + " cannot partition nodes");
  }
};

// A `drone worker` control endpoint (worker/coordinator.h WorkerAddress).
struct WorkerEndpoint {
  std::string url;    // "http://HOST:PORT"
  std::string token;  // bearer token; empty: none
};

class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual std::string Broker() const = 0;
  virtual drivers::Endpoint Endpoint() const = 0;
  virtual std::vector<NodeInfo> Nodes() const = 0;
  // Creates a topic. Platforms whose brokers lack the admin API (librdkafka's mock cluster) do it
  // through their own control plane; others use the driver's Admin.
  virtual Status CreateTopic(const drivers::TopicRequest& request) = 0;
  // Tells the cluster about a consumer group, so that failover can move its coordinator too.
  virtual void NoteConsumerGroup(const std::string& /*group*/) {}
  // Null when the platform has no process-level control.
  virtual NodeControl* Control() { return nullptr; }
  // The lab network the nodes run in (network: lab), or null. Its host "clients" is where
  // clients run: ClientNetns() names its namespace, which a client thread enters (setns) before
  // it creates its client library handle, so that the library's own threads are in there too.
  virtual const faults::network::LabNetwork* Lab() const { return nullptr; }
  virtual std::string ClientNetns() const { return ""; }
  // The TCP proxies in front of the nodes' client ports (network: proxy), or null. Endpoint()
  // and Nodes() then name the proxies' addresses; network faults set impairments on them.
  virtual faults::network::ProxyNetwork* Proxies() const { return nullptr; }
  // `drone worker` processes of the platform's own that run workloads on this cluster (worker
  // pods on Kubernetes, reached through kubectl port-forward); empty: workloads run in Drone.
  virtual std::vector<WorkerEndpoint> Workers() const { return {}; }
  // Stops every node and releases every resource. Idempotent; also run by the destructor.
  virtual Status Stop() = 0;
};

class Platform {
 public:
  virtual ~Platform() = default;
  virtual std::string Name() const = 0;
  // Checks a request without starting anything (for `drone validate`).
  virtual Status Validate(const ClusterRequest& request) const = 0;
  // Starts a cluster and waits until it is ready. On failure nothing is left running.
  virtual Result<std::unique_ptr<Cluster>> CreateCluster(const ClusterRequest& request) = 0;
};

}  // namespace drone::platforms
