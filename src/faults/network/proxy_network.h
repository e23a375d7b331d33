// The proxy network of a cluster (`network: proxy`, the backend for runs without privilege): one
// TcpProxy in front of each node's client port, each on a loopback address of its own, and the
// clients pointed at the proxies instead of the nodes. The proxies pass everything through until
// a fault sets an impairment on them; a fault sets each proxy's two directions — `up` (what the
// clients send to the node) and `down` (what the node sends back) — and heals by putting back
// what was there before. Only the links between the clients and the nodes pass through proxies:
// PlanProxyImpairments and PlanProxyPartition turn a fault written for any backend into settings
// per proxy, and say which links a proxy cannot reach.
//
// Thread-safety: every method of ProxyNetwork is safe from any thread (faults fire while the
// workloads run). The Plan functions are pure.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "faults/network/impairment.h"
#include "faults/network/partition.h"
#include "faults/network/tcp_proxy.h"

namespace drone::faults::network {

// The host name that stands for every client of the cluster, as in a lab network.
inline constexpr char kProxyClientsHost[] = "clients";

struct ProxiedHost {
  std::string name;      // the node: "nats-1"
  std::string listen;    // where its proxy listens: "127.0.1.2:0" (port 0: any free one)
  std::string upstream;  // the node's own client address: "127.0.0.2:4222"
};

// What one proxy does to each direction. Empty impairments pass everything through.
struct ProxyDirections {
  Impairment up;    // clients -> node
  Impairment down;  // node -> clients
  bool operator==(const ProxyDirections&) const = default;
  bool Blackholes() const { return up.blackhole || down.blackhole; }
};

class ProxyNetwork {
 public:
  // Starts one pass-through proxy per host. On error nothing is left running.
  static Result<std::unique_ptr<ProxyNetwork>> Start(const std::vector<ProxiedHost>& hosts);
  ~ProxyNetwork();
  ProxyNetwork(const ProxyNetwork&) = delete;
  ProxyNetwork& operator=(const ProxyNetwork&) = delete;

  std::vector<std::string> Hosts() const;  // in the order given to Start
  // The proxy's "host:port" for `host`, which clients connect to. NotFound for an unknown host.
  Result<std::string> Address(const std::string& host) const;
  Result<ProxyDirections> Get(const std::string& host) const;
  // Sets both directions of `host`'s proxy; bytes already queued keep their release times.
  // With `reset_open`, the connections open now are reset first (after a blackhole their
  // streams have lost bytes and cannot go on).
  Status Set(const std::string& host, const ProxyDirections& directions, bool reset_open = false);
  Result<TcpProxyStats> Stats(const std::string& host) const;
  // {"nats-1": {"address": ..., "upstream": ..., "connections": ...}, ...}
  nlohmann::json ToJson() const;
  // Stops every proxy (closes their connections, joins their threads). Idempotent.
  void Stop();

 private:
  struct Entry {
    std::string name, upstream;
    std::unique_ptr<TcpProxy> proxy;
    ProxyDirections current;
  };
  ProxyNetwork() = default;
  Result<Entry*> Find(const std::string& host);
  Result<const Entry*> Find(const std::string& host) const;

  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // guarded by mu_ (the vector itself is fixed after Start)
};

// Settings per proxy (by node name) for impairments written as for a lab: a link `clients ->
// node` is that node's `up`, `node -> clients` its `down`; an endpoint that is a node is both of
// its directions, the endpoint `clients` both directions of every proxy. A link between two
// nodes, a packet fault (loss, duplicate, corrupt, reorder) and two different impairments for
// one direction are refused (FailedPrecondition / InvalidArgument, naming the lab network as the
// way to get them where that applies). The impairments' targets are dropped.
Result<std::map<std::string, ProxyDirections>> PlanProxyImpairments(
    const std::vector<Impairment>& impairments, const std::vector<std::string>& nodes);

struct ProxyPartitionPlan {
  std::map<std::string, ProxyDirections> proxies;  // the blackholes, by node
  // Blocked pairs no proxy can cut (between two nodes), kept in the result.
  std::vector<std::pair<std::string, std::string>> uncut;
};

// Blackholes for the blocked pairs between the clients and the nodes: (clients, node) is the
// node's `up`, (node, clients) its `down`. FailedPrecondition when no pair involves the clients
// (a partition between brokers only: the brokers' own links do not pass through proxies).
Result<ProxyPartitionPlan> PlanProxyPartition(const BlockedPairs& blocked,
                                              const std::vector<std::string>& nodes);

}  // namespace drone::faults::network
