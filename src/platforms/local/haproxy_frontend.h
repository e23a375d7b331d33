// The HAProxy front end of a local cluster (`lb: haproxy`): a TCP proxy on an address of its own
// that spreads client connections over the cluster's nodes, health-checks them (a killed node is
// out within a second) and closes the sessions of a node marked down, so that clients reconnect
// to a live one. The config is generated into the run directory; HAProxy runs with -db (no
// daemon) so that it stays Drone's child.
//
// Thread-safety: plain functions over value types.
#pragma once

#include <string>
#include <vector>

namespace drone::platforms::local {

struct HaproxyBackend {
  std::string name;  // "redis-1"
  std::string host;
  int port = 0;
};

// The haproxy.cfg text for a TCP frontend on frontend_host:frontend_port.
std::string HaproxyConfig(const std::string& frontend_host, int frontend_port,
                          const std::vector<HaproxyBackend>& backends);

}  // namespace drone::platforms::local
