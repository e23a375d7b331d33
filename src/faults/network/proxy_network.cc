#include "faults/network/proxy_network.h"

#include <algorithm>

namespace drone::faults::network {
namespace {

constexpr char kLabHint[] =
    " (a lab network carries it: run drone as root, where network faults get network namespaces)";

bool IsNode(const std::vector<std::string>& nodes, const std::string& name) {
  return std::find(nodes.begin(), nodes.end(), name) != nodes.end();
}

std::string Known(const std::vector<std::string>& nodes) {
  std::string out = kProxyClientsHost;
  for (const std::string& n : nodes) out += ", " + n;
  return out;
}

}  // namespace

std::string PeerLinkKey(const std::string& from, const std::string& to) { return from + "->" + to; }

Result<std::unique_ptr<ProxyNetwork>> ProxyNetwork::Start(const std::vector<ProxiedHost>& hosts) {
  std::unique_ptr<ProxyNetwork> net(new ProxyNetwork());
  net->entries_.reserve(hosts.size());
  for (const ProxiedHost& h : hosts) {
    Result<std::unique_ptr<TcpProxy>> proxy = TcpProxy::Start(h.listen, h.upstream, {}, {});
    if (!proxy.ok()) {
      net->Stop();
      return proxy.status().WithContext("the proxy of " +
                                        (h.from.empty() ? h.name : PeerLinkKey(h.from, h.name)));
    }
    const bool peer = !h.from.empty();
    net->entries_.push_back(
        Entry{peer ? PeerLinkKey(h.from, h.name) : h.name, h.upstream, peer, std::move(*proxy), {}});
  }
  return net;
}

ProxyNetwork::~ProxyNetwork() { Stop(); }

std::vector<std::string> ProxyNetwork::Hosts() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) {
    if (!e.peer) out.push_back(e.name);
  }
  return out;
}

bool ProxyNetwork::HasPeerLinks() const {
  return std::any_of(entries_.begin(), entries_.end(), [](const Entry& e) { return e.peer; });
}

Result<ProxyNetwork::Entry*> ProxyNetwork::Find(const std::string& host) {
  for (Entry& e : entries_) {
    if (e.name == host) return &e;
  }
  return NotFound("no proxy for '" + host + "'");
}

Result<const ProxyNetwork::Entry*> ProxyNetwork::Find(const std::string& host) const {
  for (const Entry& e : entries_) {
    if (e.name == host) return &e;
  }
  return NotFound("no proxy for '" + host + "'");
}

Result<std::string> ProxyNetwork::Address(const std::string& host) const {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(const Entry* e, Find(host));
  if (!e->proxy) return FailedPrecondition("the proxies are stopped");
  return e->proxy->address();
}

Result<ProxyDirections> ProxyNetwork::Get(const std::string& host) const {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(const Entry* e, Find(host));
  return e->current;
}

Status ProxyNetwork::Set(const std::string& host, const ProxyDirections& directions,
                         bool reset_open) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Entry * e, Find(host));
  if (!e->proxy) return FailedPrecondition("the proxies are stopped");
  if (reset_open) e->proxy->ResetOpen();
  RETURN_IF_ERROR(e->proxy->Update(directions.up, directions.down));
  e->current = directions;
  return Status::Ok();
}

Result<TcpProxyStats> ProxyNetwork::Stats(const std::string& host) const {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(const Entry* e, Find(host));
  if (!e->proxy) return FailedPrecondition("the proxies are stopped");
  return e->proxy->stats();
}

nlohmann::json ProxyNetwork::ToJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json out = nlohmann::json::object();
  for (const Entry& e : entries_) {
    if (!e.proxy) continue;
    nlohmann::json j = e.proxy->stats().ToJson();
    j["address"] = e.proxy->address();
    j["upstream"] = e.upstream;
    out[e.name] = std::move(j);
  }
  return out;
}

void ProxyNetwork::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  for (Entry& e : entries_) {
    if (e.proxy) e.proxy->Stop();
    e.proxy.reset();
  }
}

Result<std::map<std::string, ProxyDirections>> PlanProxyImpairments(
    const std::vector<Impairment>& impairments, const std::vector<std::string>& nodes,
    bool peer_links) {
  std::map<std::string, ProxyDirections> out;
  std::map<std::pair<std::string, bool>, bool> set;  // (node, up?) already given an impairment
  auto put = [&](const std::string& node, bool up, Impairment imp) -> Status {
    imp.target = {};
    Impairment& slot = up ? out[node].up : out[node].down;
    const auto key = std::make_pair(node, up);
    if (set[key] && !(slot == imp)) {
      return InvalidArgument("two different impairments for one direction of the proxy " + node +
                             "; a proxy direction takes one");
    }
    set[key] = true;
    slot = std::move(imp);
    return Status::Ok();
  };
  for (const Impairment& imp : impairments) {
    const std::string bad = ProxyUnsupportedFields(imp);
    if (!bad.empty()) {
      return FailedPrecondition(bad + ": packet faults cannot happen inside the TCP streams of "
                                      "network: proxy, which carries delay, rate, reset, "
                                      "blackhole and slicer" + kLabHint);
    }
    const ImpairmentTarget& t = imp.target;
    if (t.IsEndpoint()) {
      if (t.from == kProxyClientsHost) {
        for (const std::string& n : nodes) {
          RETURN_IF_ERROR(put(n, true, imp));
          RETURN_IF_ERROR(put(n, false, imp));
        }
      } else if (IsNode(nodes, t.from)) {
        RETURN_IF_ERROR(put(t.from, true, imp));
        RETURN_IF_ERROR(put(t.from, false, imp));
        for (const std::string& peer : peer_links ? nodes : std::vector<std::string>{}) {
          if (peer == t.from) continue;
          for (const std::string& key : {PeerLinkKey(t.from, peer), PeerLinkKey(peer, t.from)}) {
            RETURN_IF_ERROR(put(key, true, imp));
            RETURN_IF_ERROR(put(key, false, imp));
          }
        }
      } else {
        return InvalidArgument("no host '" + t.from + "' (hosts: " + Known(nodes) + ")");
      }
      continue;
    }
    for (const std::string* h : {&t.from, &t.to}) {
      if (*h != kProxyClientsHost && !IsNode(nodes, *h)) {
        return InvalidArgument("no host '" + *h + "' (hosts: " + Known(nodes) + ")");
      }
    }
    if (t.from == kProxyClientsHost && t.to != kProxyClientsHost) {
      RETURN_IF_ERROR(put(t.to, true, imp));
    } else if (t.to == kProxyClientsHost && t.from != kProxyClientsHost) {
      RETURN_IF_ERROR(put(t.from, false, imp));
    } else if (peer_links && t.from != kProxyClientsHost) {
      RETURN_IF_ERROR(put(PeerLinkKey(t.from, t.to), true, imp));
      RETURN_IF_ERROR(put(PeerLinkKey(t.to, t.from), false, imp));
    } else {
      return FailedPrecondition("the link " + t.from + " -> " + t.to +
                                " does not pass through a proxy: in network: proxy only the "
                                "links between the clients and the nodes do" + kLabHint);
    }
  }
  return out;
}

Result<ProxyPartitionPlan> PlanProxyPartition(const BlockedPairs& blocked,
                                              const std::vector<std::string>& nodes,
                                              bool peer_links) {
  ProxyPartitionPlan plan;
  for (const auto& [a, b] : blocked) {
    if (a == kProxyClientsHost && IsNode(nodes, b)) {
      plan.proxies[b].up.blackhole = true;
    } else if (b == kProxyClientsHost && IsNode(nodes, a)) {
      plan.proxies[a].down.blackhole = true;
    } else if (peer_links && IsNode(nodes, a) && IsNode(nodes, b)) {
      plan.proxies[PeerLinkKey(a, b)].up.blackhole = true;
      plan.proxies[PeerLinkKey(b, a)].down.blackhole = true;
    } else {
      plan.uncut.emplace_back(a, b);
    }
  }
  if (plan.proxies.empty()) {
    return FailedPrecondition(
        "this partition cuts only links between brokers, and in network: proxy only the links "
        "between the clients and the nodes pass through proxies for this broker; partition the "
        "clients from nodes (e.g. isolate a node)" + std::string(kLabHint));
  }
  return plan;
}

}  // namespace drone::faults::network
