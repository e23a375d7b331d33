#include "platforms/local/proxy_front.h"

namespace drone::platforms::local {

using faults::network::PeerLinkKey;
using faults::network::ProxiedHost;
using faults::network::ProxyNetwork;

Result<std::unique_ptr<ProxyNetwork>> StartProxyFront(std::vector<LocalNode>& nodes,
                                                      const std::string& peer_port) {
  std::vector<ProxiedHost> hosts;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].kind != "server") continue;
    hosts.push_back({nodes[i].name, "127.0.1." + std::to_string(2 + i) + ":0",
                     nodes[i].Address("client"), ""});
  }
  if (!peer_port.empty()) {
    for (size_t a = 0; a < nodes.size(); ++a) {
      for (size_t b = 0; b < nodes.size(); ++b) {
        if (a == b || nodes[a].kind != "server" || nodes[b].kind != "server") continue;
        hosts.push_back({nodes[b].name, "127.0.2." + std::to_string(2 + a) + ":0",
                         nodes[b].Address(peer_port), nodes[a].name});
      }
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<ProxyNetwork> proxies, ProxyNetwork::Start(hosts));
  if (!peer_port.empty()) {
    for (LocalNode& a : nodes) {
      for (const LocalNode& b : nodes) {
        if (&a == &b || a.kind != "server" || b.kind != "server") continue;
        ASSIGN_OR_RETURN(a.peer_addresses[b.name], proxies->Address(PeerLinkKey(a.name, b.name)));
      }
    }
  }
  return proxies;
}

Result<std::vector<LocalNode>> ProxiedNodes(const ProxyNetwork& proxies,
                                            const std::vector<LocalNode>& nodes) {
  std::vector<LocalNode> out = nodes;
  for (LocalNode& n : out) {
    if (n.kind != "server") continue;
    ASSIGN_OR_RETURN(std::string address, proxies.Address(n.name));
    const size_t colon = address.rfind(':');
    n.host = address.substr(0, colon);
    n.ports["client"] = std::stoi(address.substr(colon + 1));
  }
  return out;
}

}  // namespace drone::platforms::local
