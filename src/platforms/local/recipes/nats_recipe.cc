#include "platforms/local/recipes/nats_recipe.h"

#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/clock.h"
#include "platforms/broker_roles.h"
#include "platforms/local/loopback.h"

namespace drone::platforms::local {
namespace {

constexpr int kMaxNodes = 9;

// One GET against a node's monitoring port; the body when the status is 200.
Result<std::string> MonitorGet(const LocalNode& node, const std::string& path, int64_t timeout_ns) {
  httplib::Client client(node.host, node.Port("http"));
  const time_t sec = static_cast<time_t>(timeout_ns / kNsPerSec);
  const time_t usec = static_cast<time_t>((timeout_ns % kNsPerSec) / kNsPerUs);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  httplib::Result res = client.Get(path);
  if (!res) return Unavailable(node.name + " " + path + ": " + httplib::to_string(res.error()));
  if (res->status != 200) {
    return Unavailable(node.name + " " + path + ": HTTP " + std::to_string(res->status) + " " + res->body);
  }
  return res->body;
}

// The JetStream meta leader as `node` sees it; empty while there is none.
std::string MetaLeader(const LocalNode& node, int64_t timeout_ns) {
  Result<std::string> body = MonitorGet(node, "/jsz", timeout_ns);
  if (!body.ok()) return "";
  nlohmann::json j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.contains("meta_cluster")) return "";
  return j["meta_cluster"].value("leader", "");
}

// Ready: /healthz ok (JetStream up and current) and, in a cluster, a meta leader is known.
Status NodeReady(const LocalNode& node, bool clustered) {
  RETURN_IF_ERROR(MonitorGet(node, "/healthz", kNsPerSec).status());
  if (clustered && MetaLeader(node, kNsPerSec).empty()) {
    return Unavailable(node.name + " knows no JetStream meta leader yet");
  }
  return Status::Ok();
}

Status WaitReady(RecipeContext& ctx, const LocalNode& node, bool clustered, int64_t deadline_ns) {
  RETURN_IF_ERROR(WaitForPort(node.host, node.Port("client"), deadline_ns, nullptr)
                      .WithContext(node.name + " client port"));
  Status last = Unavailable("not probed");
  while (true) {
    last = NodeReady(node, clustered);
    if (last.ok()) return last;
    if (ctx.Cancelled()) return Cancelled(node.name + ": cancelled while waiting for readiness");
    if (MonotonicNs() >= deadline_ns) {
      return DeadlineExceeded(node.name + " did not become ready: " + last.message() + "\n" +
                              ctx.LogTail(node.name));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

class NatsRecipe : public BrokerRecipe {
 public:
  std::string Broker() const override { return "nats"; }

  std::vector<Requirement> Requirements(const ClusterRequest& /*request*/) const override {
    return {{"nats-server", "nats-server"}};
  }

  Status Validate(const ClusterRequest& request) const override {
    if (request.nodes < 1 || request.nodes > kMaxNodes) {
      return InvalidArgument("nats: nodes must be from 1 to " + std::to_string(kMaxNodes) + " (got " +
                             std::to_string(request.nodes) + "); 3 for replicated streams");
    }
    if (!request.options.empty()) {
      return InvalidArgument("nats: option '" + request.options.begin()->first +
                             "' is unknown; the NATS recipe takes no options (stream settings go "
                             "in the topic step's config)");
    }
    return Status::Ok();
  }

  std::vector<NodeTemplate> Layout(const ClusterRequest& request) const override {
    std::vector<NodeTemplate> out;
    for (int i = 0; i < request.nodes; ++i) {
      out.push_back({"nats-" + std::to_string(i + 1), "server", {"client", "cluster", "http"}});
    }
    return out;
  }

  std::string ProxiedPeerPort(const ClusterRequest& request) const override {
    return request.nodes > 1 ? "cluster" : "";
  }

  Status Configure(const ClusterRequest& request, std::vector<LocalNode>& nodes) override {
    std::string all_routes;
    for (const LocalNode& n : nodes) {
      all_routes += (all_routes.empty() ? "" : ", ") + std::string("nats-route://") + n.Address("cluster");
    }
    for (LocalNode& n : nodes) {
      // network: proxy — each peer through this node's own proxy to it.
      std::string routes = all_routes;
      if (!n.peer_addresses.empty()) {
        routes.clear();
        for (const auto& [peer, address] : n.peer_addresses) {
          routes += (routes.empty() ? "" : ", ") + std::string("nats-route://") + address;
        }
      }
      const std::string conf = n.dir + "/nats.conf";
      std::ofstream out(conf);
      out << "# Written by Drone for node " << n.name << " of cluster " << request.name << "\n"
          << "server_name: " << n.name << "\n"
          << "listen: " << Quoted(n.Address("client")) << "\n"
          << "http: " << Quoted(n.Address("http")) << "\n"
          // Bounded so that a test bench on a shared machine cannot claim all of its memory.
          << "jetstream {\n  store_dir: " << Quoted(n.dir + "/data") << "\n"
          << "  max_memory_store: 256MB\n  max_file_store: 4GB\n}\n";
      if (nodes.size() > 1) {
        out << "cluster {\n  name: " << Quoted("drone-" + request.name) << "\n"
            << "  listen: " << Quoted(n.Address("cluster")) << "\n"
            << "  routes: [ " << routes << " ]\n";
        // Gossip tells the other nodes where a node's routes listen, and a node not yet connected
        // to a peer would connect there directly, around the proxies. Port 1 on loopback is
        // privileged and unused, so such an implicit route is refused at once and dropped.
        if (!n.peer_addresses.empty()) out << "  advertise: \"127.0.0.1:1\"\n";
        // Behind HAProxy or the proxies of network: proxy, clients must not learn the nodes'
        // own addresses (INFO connect_urls) and bypass them.
        if (request.lb == "haproxy" || request.network == "proxy") out << "  no_advertise: true\n";
        out << "}\n";
      }
      out.close();
      if (!out) return Internal("nats: cannot write " + conf);
      n.process.argv = {"nats-server", "-c", conf};
    }
    return Status::Ok();
  }

  Status Form(RecipeContext& ctx, int64_t deadline_ns) override {
    const bool clustered = ctx.LocalNodes().size() > 1;
    for (const LocalNode& n : ctx.LocalNodes()) {
      RETURN_IF_ERROR(WaitReady(ctx, n, clustered, deadline_ns));
    }
    return Status::Ok();
  }

  Status WaitNodeReady(RecipeContext& ctx, const LocalNode& node, int64_t deadline_ns) override {
    return WaitReady(ctx, node, ctx.LocalNodes().size() > 1, deadline_ns);
  }

  drivers::Endpoint ClientEndpoint(const std::vector<LocalNode>& nodes,
                                   const std::string& lb_address) const override {
    if (!lb_address.empty()) return {"nats://" + lb_address, {}, {}};
    std::string bootstrap;
    for (const LocalNode& n : nodes) {
      bootstrap += (bootstrap.empty() ? "" : ",") + std::string("nats://") + n.Address("client");
    }
    return {bootstrap, {}, {}};
  }

  Result<std::string> ResolveRole(RecipeContext& ctx, const std::string& role) override {
    if (role != "leader" && role != "meta_leader") {
      return InvalidArgument("nats: no role '" + role + "'; known: leader, meta_leader");
    }
    Status last = Unavailable("no node is up to ask");
    for (const LocalNode& n : ctx.LocalNodes()) {
      if (!ctx.IsUp(n.name) || ctx.IsPaused(n.name)) continue;
      Result<std::string> body = MonitorGet(n, "/jsz?streams=true", 2 * kNsPerSec);
      if (!body.ok()) {
        last = body.status();
        continue;
      }
      Result<NatsLeaders> leaders = ParseNatsJsz(*body);
      if (!leaders.ok()) continue;
      if (role == "leader" && !leaders->stream.empty()) return leaders->stream;
      if (!leaders->meta.empty()) return leaders->meta;
      last = Unavailable("nats: " + n.name + " knows no JetStream leader right now");
    }
    return last;
  }

  std::string NodeRole(RecipeContext& ctx, const LocalNode& node) override {
    if (ctx.LocalNodes().size() < 2 || !ctx.IsUp(node.name) || ctx.IsPaused(node.name)) return "";
    std::string meta = MetaLeader(node, kNsPerSec / 2);
    if (meta.empty()) return "";
    return meta == node.name ? "meta_leader" : "follower";
  }
};

}  // namespace

std::unique_ptr<BrokerRecipe> NewNatsRecipe() { return std::make_unique<NatsRecipe>(); }

}  // namespace drone::platforms::local
