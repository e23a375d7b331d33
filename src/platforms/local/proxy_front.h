// The proxies of `network: proxy` for a local cluster (faults/network/proxy_network.h): a TCP
// proxy in front of every server's client port on 127.0.1.N (N as the node's 127.0.0.N), and —
// when the recipe names a ProxiedPeerPort() — one proxy per ordered pair of servers on 127.0.2.N
// (N of the node that connects), forwarding to the other's peer port; each node's
// `peer_addresses` then name them, for the recipe's Configure(). The proxies start as
// pass-through before the servers do: a connection made before a server listens is reset, as a
// refused one would be.
//
// Thread-safety: plain functions; call them before the cluster is shared.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "faults/network/proxy_network.h"
#include "platforms/local/broker_recipe.h"

namespace drone::platforms::local {

// Starts the proxies for `nodes` (addresses and ports allocated) and fills their
// `peer_addresses` when `peer_port` is not empty. On error nothing is left running.
Result<std::unique_ptr<faults::network::ProxyNetwork>> StartProxyFront(
    std::vector<LocalNode>& nodes, const std::string& peer_port);

// `nodes` with each server's host and client port replaced by its proxy's, for ClientEndpoint()
// and the cluster's outputs.
Result<std::vector<LocalNode>> ProxiedNodes(const faults::network::ProxyNetwork& proxies,
                                            const std::vector<LocalNode>& nodes);

}  // namespace drone::platforms::local
