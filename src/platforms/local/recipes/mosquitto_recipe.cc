#include "platforms/local/recipes/mosquitto_recipe.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

#include "core/clock.h"
#include "drivers/mqtt/mqtt_driver.h"
#include "platforms/local/loopback.h"

namespace drone::platforms::local {
namespace {

const std::map<std::string, std::string>& Defaults() {
  static const std::map<std::string, std::string> defaults = {
      {"persistence", "true"},
      // mosquitto's own defaults: saved every 30 minutes and on a graceful stop.
      {"autosave_interval", "1800"},
      {"max_inflight_messages", "20"},
      // Large enough that an open-loop load against a briefly absent subscriber is queued, not
      // dropped (mosquitto's default is 1000).
      {"max_queued_messages", "1000000"},
  };
  return defaults;
}

bool IsCount(const std::string& v) {
  return !v.empty() && v.size() <= 9 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Status Probe(const LocalNode& node) {
  auto driver = drivers::NewMqttDriver();
  drivers::Endpoint endpoint{node.Address(), {}, {}};
  Result<std::unique_ptr<drivers::Admin>> admin = driver->NewAdmin(endpoint);
  if (!admin.ok()) return admin.status();
  return (*admin)->Ping(kNsPerSec);
}

Status WaitReady(RecipeContext& ctx, const LocalNode& node, int64_t deadline_ns) {
  RETURN_IF_ERROR(WaitForPort(node.host, node.Port("client"), deadline_ns, nullptr)
                      .WithContext(node.name + " port"));
  while (true) {
    Status s = Probe(node);
    if (s.ok()) return s;
    if (ctx.Cancelled()) return Cancelled(node.name + ": cancelled while waiting for readiness");
    if (MonotonicNs() >= deadline_ns) {
      return DeadlineExceeded(node.name + " answered no MQTT CONNECT: " + s.message() + "\n" +
                              ctx.LogTail(node.name));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

class MosquittoRecipe : public BrokerRecipe {
 public:
  std::string Broker() const override { return "mqtt"; }

  std::vector<Requirement> Requirements(const ClusterRequest& /*request*/) const override {
    return {{"mosquitto", "mosquitto"}};
  }

  Status Validate(const ClusterRequest& request) const override {
    if (request.nodes != 1) {
      return InvalidArgument("mqtt: mosquitto runs as a single node; use nodes: 1 (got " +
                             std::to_string(request.nodes) + ")");
    }
    for (const auto& [k, v] : request.options) {
      if (Defaults().count(k) == 0) {
        std::string known;
        for (const auto& [name, value] : Defaults()) known += (known.empty() ? "" : ", ") + name;
        return InvalidArgument("mqtt: option '" + k + "' is unknown; known: " + known);
      }
      if (k == "persistence" ? (v != "true" && v != "false") : !IsCount(v)) {
        return InvalidArgument("mqtt: option " + k + " must be " +
                               (k == "persistence" ? "true or false" : "a whole number") +
                               ", not '" + v + "'");
      }
    }
    return Status::Ok();
  }

  std::vector<NodeTemplate> Layout(const ClusterRequest& /*request*/) const override {
    return {{"mosquitto-1", "server", {"client"}}};
  }

  Status Configure(const ClusterRequest& request, std::vector<LocalNode>& nodes) override {
    std::map<std::string, std::string> o = Defaults();
    for (const auto& [k, v] : request.options) o[k] = v;
    for (LocalNode& n : nodes) {
      const std::string conf = n.dir + "/mosquitto.conf";
      std::ofstream out(conf);
      out << "# Written by Drone for node " << n.name << " of cluster " << request.name << "\n"
          << "listener " << n.Port("client") << " " << n.host << "\n"
          << "allow_anonymous true\n"
          << "persistence " << o["persistence"] << "\n"
          << "persistence_location " << n.dir << "/data/\n"
          << "autosave_interval " << o["autosave_interval"] << "\n"
          << "max_inflight_messages " << o["max_inflight_messages"] << "\n"
          << "max_queued_messages " << o["max_queued_messages"] << "\n"
          << "log_dest stderr\n";
      // Started as root, mosquitto switches to the user "mosquitto", who cannot write the run
      // directory: it stays the user that runs Drone.
      if (const passwd* pw = getpwuid(geteuid()); pw != nullptr) out << "user " << pw->pw_name << "\n";
      out.close();
      if (!out) return Internal("mqtt: cannot write " + conf);
      n.process.argv = {"mosquitto", "-c", conf};
    }
    return Status::Ok();
  }

  Status Form(RecipeContext& ctx, int64_t deadline_ns) override {
    for (const LocalNode& n : ctx.LocalNodes()) RETURN_IF_ERROR(WaitReady(ctx, n, deadline_ns));
    return Status::Ok();
  }

  Status WaitNodeReady(RecipeContext& ctx, const LocalNode& node, int64_t deadline_ns) override {
    return WaitReady(ctx, node, deadline_ns);
  }

  drivers::Endpoint ClientEndpoint(const std::vector<LocalNode>& nodes,
                                   const std::string& /*lb_address*/) const override {
    return {nodes.empty() ? "" : nodes[0].Address(), {}, {}};
  }

  bool SupportsLoadBalancer() const override { return false; }

  Result<std::string> ResolveRole(RecipeContext& /*ctx*/, const std::string& role) override {
    return InvalidArgument("mqtt: mosquitto has no role '" + role +
                           "'; it runs one node: target it by name (mosquitto-1)");
  }
};

}  // namespace

std::unique_ptr<BrokerRecipe> NewMosquittoRecipe() { return std::make_unique<MosquittoRecipe>(); }

}  // namespace drone::platforms::local
