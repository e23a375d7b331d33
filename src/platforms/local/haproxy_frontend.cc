#include "platforms/local/haproxy_frontend.h"

namespace drone::platforms::local {

std::string HaproxyConfig(const std::string& frontend_host, int frontend_port,
                          const std::vector<HaproxyBackend>& backends) {
  // Long client/server timeouts: idle consumers must not be cut off by the proxy. Fast checks
  // (inter 500ms, fall 2) take a killed node out within a second; until then a refused
  // connection is redispatched to another node.
  std::string cfg =
      "global\n"
      "  maxconn 4096\n"
      "\n"
      "defaults\n"
      "  mode tcp\n"
      "  retries 2\n"
      "  option redispatch\n"
      "  timeout connect 2s\n"
      "  timeout client 1h\n"
      "  timeout server 1h\n"
      "  timeout check 1s\n"
      "\n"
      "frontend drone_frontend\n"
      "  bind " + frontend_host + ":" + std::to_string(frontend_port) + "\n"
      "  default_backend drone_nodes\n"
      "\n"
      "backend drone_nodes\n"
      "  balance roundrobin\n"
      "  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions\n";
  for (const HaproxyBackend& b : backends) {
    cfg += "  server " + b.name + " " + b.host + ":" + std::to_string(b.port) + " check\n";
  }
  return cfg;
}

}  // namespace drone::platforms::local
