// The proxy network of a cluster (`network: proxy`, the backend for runs without privilege): one
// TcpProxy in front of each node's client port, each on a loopback address of its own, and the
// clients pointed at the proxies instead of the nodes — and, for brokers whose nodes can be
// pointed at proxies (NATS routes), one proxy per ordered pair of nodes on the way from one to the
// other's peer port. The proxies pass everything through until a fault sets an impairment on
// them; a fault sets each proxy's two directions — `up` (what the clients send to the node) and
// `down` (what the node sends back) — and heals by putting back what was there before.
// PlanProxyImpairments and PlanProxyPartition turn a fault written for any backend into settings
// per proxy, and say which links no proxy reaches (between nodes, when those are not proxied).
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
  // A peer link: the proxy on the way from node `from` to `name`'s peer port (`upstream`);
  // empty: the clients' proxy of `name`.
  std::string from;
};

// The key of a proxy in ProxyNetwork and in the plans: the node's name for its clients' proxy,
// "a->b" for the peer link from a to b.
std::string PeerLinkKey(const std::string& from, const std::string& to);

// What one proxy does to each direction. Empty impairments pass everything through.
struct ProxyDirections {
  Impairment up;    // clients -> node (a peer link a->b: a -> b)
  Impairment down;  // node -> clients (b -> a)
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

  std::vector<std::string> Hosts() const;  // the nodes with a clients' proxy, in Start's order
  bool HasPeerLinks() const;
  // The "host:port" of the proxy with key `host` (PeerLinkKey), which clients (or the peer)
  // connect to. NotFound for an unknown key. Get, Set and Stats take the same keys.
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
    std::string name, upstream;  // name: the key
    bool peer = false;
    std::unique_ptr<TcpProxy> proxy;
    ProxyDirections current;
  };
  ProxyNetwork() = default;
  Result<Entry*> Find(const std::string& host);
  Result<const Entry*> Find(const std::string& host) const;

  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // guarded by mu_ (the vector itself is fixed after Start)
};

// Settings per proxy (by key) for impairments written as for a lab: a link `clients -> node` is
// that node's `up`, `node -> clients` its `down`; with `peer_links`, a link `a -> b` between
// nodes is a->b's `up` and b->a's `down`. An endpoint that is a node is both directions of its
// proxies (its peer links too), the endpoint `clients` both directions of every clients' proxy.
// A link between nodes without peer links, a packet fault (loss, duplicate, corrupt, reorder) and
// two different impairments for one direction are refused (FailedPrecondition / InvalidArgument,
// naming the lab network as the way to get them where that applies). Targets are dropped.
Result<std::map<std::string, ProxyDirections>> PlanProxyImpairments(
    const std::vector<Impairment>& impairments, const std::vector<std::string>& nodes,
    bool peer_links = false);

struct ProxyPartitionPlan {
  std::map<std::string, ProxyDirections> proxies;  // the blackholes, by proxy key
  // Blocked pairs no proxy can cut (between two nodes), kept in the result.
  std::vector<std::pair<std::string, std::string>> uncut;
};

// Blackholes for the blocked pairs: (clients, node) is the node's `up`, (node, clients) its
// `down`; with `peer_links`, (a, b) between nodes is a->b's `up` and b->a's `down`, otherwise it
// is kept in `uncut`. FailedPrecondition when nothing would be cut.
Result<ProxyPartitionPlan> PlanProxyPartition(const BlockedPairs& blocked,
                                              const std::vector<std::string>& nodes,
                                              bool peer_links = false);

}  // namespace drone::faults::network
