#include "platforms/local/recipes/redis_recipe.h"

#include <charconv>
#include <fstream>
#include <functional>

#include "core/clock.h"
#include "drivers/redis/redis_client.h"
#include "drivers/redis/redis_driver.h"

namespace drone::platforms::local {
namespace {

namespace redis = drivers::redis;

constexpr const char* kMaster = "drone";
constexpr int64_t kProbeTimeoutNs = 500 * kNsPerMs;
constexpr int64_t kProbeIntervalNs = 100 * kNsPerMs;

struct Settings {
  int sentinels = 3;
  int down_after_ms = 1000;
  int failover_timeout_ms = 5000;
  std::string appendfsync = "everysec";
};

Result<int> OptionInt(const std::string& key, const std::string& value, int min, int max) {
  int v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || ptr != value.data() + value.size() || v < min || v > max) {
    return InvalidArgument("redis option " + key + ": expected an integer " + std::to_string(min) + ".." +
                           std::to_string(max) + ", got '" + value + "'");
  }
  return v;
}

Result<Settings> ParseSettings(const ClusterRequest& request) {
  Settings s;
  if (request.nodes == 1) s.sentinels = 0;  // nothing to fail over to
  for (const auto& [k, v] : request.options) {
    if (k == "sentinels") {
      ASSIGN_OR_RETURN(s.sentinels, OptionInt(k, v, 0, 7));
    } else if (k == "down_after_ms") {
      ASSIGN_OR_RETURN(s.down_after_ms, OptionInt(k, v, 100, 600000));
    } else if (k == "failover_timeout_ms") {
      ASSIGN_OR_RETURN(s.failover_timeout_ms, OptionInt(k, v, 1000, 600000));
    } else if (k == "appendfsync") {
      if (v != "always" && v != "everysec" && v != "no") {
        return InvalidArgument("redis option appendfsync: always, everysec or no, not '" + v + "'");
      }
      s.appendfsync = v;
    } else {
      return InvalidArgument("redis: unknown option '" + k +
                             "'; known: sentinels, down_after_ms, failover_timeout_ms, appendfsync");
    }
  }
  if (request.nodes > 1 && s.sentinels == 1) {
    return InvalidArgument("redis: one sentinel cannot reach a quorum that others confirm; use 0 or 2..7");
  }
  return s;
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Internal("cannot write " + path);
  return Status::Ok();
}

// The value of `field` in an INFO section ("connected_slaves:2\r\n"), or "".
std::string InfoField(const std::string& info, const std::string& field) {
  const std::string key = field + ":";
  size_t at = info.find("\n" + key);
  if (at == std::string::npos) {
    if (info.rfind(key, 0) != 0) return "";
    at = 0;
  } else {
    at += 1;
  }
  size_t end = info.find_first_of("\r\n", at);
  return info.substr(at + key.size(), end == std::string::npos ? std::string::npos : end - at - key.size());
}

Result<redis::Reply> Ask(const LocalNode& node, const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(redis::Context c, redis::Connect({node.host, node.Port("client")}, kProbeTimeoutNs));
  ASSIGN_OR_RETURN(redis::Reply r, redis::Command(c.get(), argv));
  if (r->type == REDIS_REPLY_ERROR) return Unavailable(node.name + ": " + std::string(r->str, r->len));
  return r;
}

Result<std::string> AskText(const LocalNode& node, const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(redis::Reply r, Ask(node, argv));
  if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) return Unavailable("unexpected reply");
  return std::string(r->str, r->len);
}

Result<bool> Pongs(const LocalNode& node) {
  Result<std::string> pong = AskText(node, {"PING"});
  if (!pong.ok()) return pong.status();
  return *pong == "PONG";
}

// Polls `ready` until it holds, the deadline passes or the run is cancelled; `what` and the
// last reason go into the error.
Status WaitUntil(RecipeContext& ctx, int64_t deadline_ns, const std::string& what,
                 const std::function<Result<bool>()>& ready) {
  std::string last = "not yet";
  while (true) {
    Result<bool> r = ready();
    if (r.ok() && *r) return Status::Ok();
    if (!r.ok()) last = r.status().message();
    if (ctx.Cancelled()) return Cancelled("cancelled while waiting: " + what);
    if (MonotonicNs() >= deadline_ns) return DeadlineExceeded(what + " (" + last + ")");
    SleepUntilNs(NowNs() + kProbeIntervalNs);
  }
}

class RedisRecipe : public BrokerRecipe {
 public:
  std::string Broker() const override { return "redis"; }

  std::vector<Requirement> Requirements(const ClusterRequest& request) const override {
    std::vector<Requirement> r = {{"redis-server", "redis-server"}};
    Result<Settings> s = ParseSettings(request);
    if (s.ok() && s->sentinels > 0) r.push_back({"redis-sentinel", "redis-sentinel"});
    return r;
  }

  Status Validate(const ClusterRequest& request) const override {
    if (request.nodes < 1 || request.nodes > 9) {
      return InvalidArgument("redis on platform local runs 1..9 nodes (a primary and replicas), not " +
                             std::to_string(request.nodes));
    }
    return ParseSettings(request).status();
  }

  std::vector<NodeTemplate> Layout(const ClusterRequest& request) const override {
    std::vector<NodeTemplate> out;
    for (int i = 0; i < request.nodes; ++i) out.push_back({"redis-" + std::to_string(i + 1), "server", {"client"}});
    Result<Settings> s = ParseSettings(request);
    for (int i = 0; s.ok() && i < s->sentinels; ++i) {
      out.push_back({"sentinel-" + std::to_string(i + 1), "sentinel", {"client"}});
    }
    return out;
  }

  bool SupportsLoadBalancer() const override { return false; }  // clients ask the sentinels

  // The sentinels answer with the primary's own address, which would take the clients past the
  // proxies; a single server, or replicas without sentinels, keep them on the proxy.
  Status CheckProxyNetwork(const ClusterRequest& request) const override {
    Result<Settings> s = ParseSettings(request);
    if (s.ok() && s->sentinels > 0) {
      return FailedPrecondition(
          "redis with sentinels cannot run in network: proxy: the sentinels name the primary's "
          "own address, which takes the clients past the proxies; set options: { sentinels: 0 }, "
          "or run drone as root for a lab network");
    }
    return Status::Ok();
  }
  int64_t StopGraceNs() const override { return 5 * kNsPerSec; }

  Status Configure(const ClusterRequest& request, std::vector<LocalNode>& nodes) override {
    ASSIGN_OR_RETURN(settings_, ParseSettings(request));
    const LocalNode& primary = nodes.front();
    servers_ = 0;
    for (LocalNode& n : nodes) {
      const std::string conf = n.dir + "/" + (n.kind == "server" ? "redis.conf" : "sentinel.conf");
      std::string text =
          "bind " + n.host + "\n" +
          "port " + std::to_string(n.Port("client")) + "\n" +
          "dir " + n.dir + "/data\n"
          "daemonize no\n"
          "protected-mode no\n"
          "logfile \"\"\n";
      if (n.kind == "server") {
        ++servers_;
        // Announce the node's own address: its outgoing connections come from 127.0.0.1, and
        // the sentinels must reach replicas where they listen.
        text += "replica-announce-ip " + n.host + "\n"
                "save \"\"\n"
                "appendonly yes\n"
                "appendfsync " + settings_.appendfsync + "\n";
        if (&n != &primary) text += "replicaof " + primary.host + " " + std::to_string(primary.Port("client")) + "\n";
        n.process.argv = {"redis-server", conf};
      } else {
        const int quorum = settings_.sentinels / 2 + 1;
        text += "sentinel announce-ip " + n.host + "\n" +
                "sentinel monitor " + kMaster + " " + primary.host + " " + std::to_string(primary.Port("client")) +
                " " + std::to_string(quorum) + "\n" +
                "sentinel down-after-milliseconds " + kMaster + " " + std::to_string(settings_.down_after_ms) + "\n" +
                "sentinel failover-timeout " + kMaster + " " + std::to_string(settings_.failover_timeout_ms) + "\n" +
                "sentinel parallel-syncs " + kMaster + " 1\n";
        n.process.argv = {"redis-sentinel", conf};
      }
      RETURN_IF_ERROR(WriteFile(conf, text));
    }
    return Status::Ok();
  }

  Status Form(RecipeContext& ctx, int64_t deadline_ns) override {
    const std::vector<LocalNode>& nodes = ctx.LocalNodes();
    for (const LocalNode& n : nodes) {
      RETURN_IF_ERROR(WaitUntil(ctx, deadline_ns, n.name + " answers PING", [&] { return Pongs(n); }));
    }
    const LocalNode& primary = nodes.front();
    const int replicas = servers_ - 1;
    if (replicas > 0) {
      RETURN_IF_ERROR(WaitUntil(ctx, deadline_ns, "every replica in sync with " + primary.name, [&]() -> Result<bool> {
        ASSIGN_OR_RETURN(std::string info, AskText(primary, {"INFO", "replication"}));
        int online = 0;
        for (int i = 0; i < replicas; ++i) {
          if (InfoField(info, "slave" + std::to_string(i)).find("state=online") != std::string::npos) ++online;
        }
        return online == replicas;
      }));
    }
    for (const LocalNode& n : nodes) {
      if (n.kind != "sentinel") continue;
      RETURN_IF_ERROR(WaitUntil(ctx, deadline_ns, n.name + " sees the primary, the replicas and the other sentinels",
                                [&]() -> Result<bool> {
                                  ASSIGN_OR_RETURN(redis::HostPort p, redis::AskSentinel({n.host, n.Port("client")}, kMaster,
                                                                                         kProbeTimeoutNs));
                                  if (p.ToString() != primary.Address()) return false;
                                  ASSIGN_OR_RETURN(redis::Reply rs, Ask(n, {"SENTINEL", "replicas", kMaster}));
                                  ASSIGN_OR_RETURN(redis::Reply ss, Ask(n, {"SENTINEL", "sentinels", kMaster}));
                                  return static_cast<int>(rs->elements) == replicas &&
                                         static_cast<int>(ss->elements) == settings_.sentinels - 1;
                                }));
    }
    return Status::Ok();
  }

  Status WaitNodeReady(RecipeContext& ctx, const LocalNode& node, int64_t deadline_ns) override {
    RETURN_IF_ERROR(WaitUntil(ctx, deadline_ns, node.name + " answers PING", [&] { return Pongs(node); }));
    if (node.kind != "server" || servers_ == 1) return Status::Ok();
    // A server that comes back rejoins as a replica of whoever is primary now, unless it is the
    // primary itself. A returning old primary starts as a primary of its own stale data; the
    // sentinels would demote it at their next INFO round (up to 10 s later), so it is pointed at
    // the current primary at once, as an operator restarting it would.
    return WaitUntil(ctx, deadline_ns, node.name + " replicates from the primary again", [&]() -> Result<bool> {
      ASSIGN_OR_RETURN(std::string primary, PrimaryName(ctx));
      if (primary == node.name) return true;
      ASSIGN_OR_RETURN(std::string info, AskText(node, {"INFO", "replication"}));
      if (InfoField(info, "role") == "master") {
        for (const LocalNode& n : ctx.LocalNodes()) {
          if (n.name != primary) continue;
          ASSIGN_OR_RETURN(redis::Reply r, Ask(node, {"REPLICAOF", n.host, std::to_string(n.Port("client"))}));
          (void)r;
        }
        return false;
      }
      return InfoField(info, "master_link_status") == "up";
    });
  }

  drivers::Endpoint ClientEndpoint(const std::vector<LocalNode>& nodes, const std::string& /*lb*/) const override {
    drivers::Endpoint e;
    std::string sentinels;
    for (const LocalNode& n : nodes) {
      if (n.kind == "sentinel") sentinels += (sentinels.empty() ? "" : ",") + n.Address();
    }
    if (!sentinels.empty()) {
      e.bootstrap = sentinels;
      e.properties[drivers::kRedisSentinelMaster] = kMaster;
    } else {
      e.bootstrap = nodes.front().Address();
    }
    e.properties[drivers::kRedisReplicas] = std::to_string(servers_ - 1);
    return e;
  }

  Result<std::string> ResolveRole(RecipeContext& ctx, const std::string& role) override {
    if (role == "primary" || role == "leader" || role == "master") return PrimaryName(ctx);
    if (role == "replica") {
      ASSIGN_OR_RETURN(std::string primary, PrimaryName(ctx));
      for (const LocalNode& n : ctx.LocalNodes()) {
        if (n.kind == "server" && n.name != primary && ctx.IsUp(n.name)) return n.name;
      }
      return Unavailable("no replica is up");
    }
    if (role == "sentinel") {
      for (const LocalNode& n : ctx.LocalNodes()) {
        if (n.kind == "sentinel" && ctx.IsUp(n.name)) return n.name;
      }
      return Unavailable("no sentinel is up");
    }
    return InvalidArgument("redis roles are primary (or leader), replica and sentinel");
  }

  std::string NodeRole(RecipeContext& ctx, const LocalNode& node) override {
    if (node.kind == "sentinel") return "sentinel";
    Result<std::string> primary = PrimaryName(ctx);
    if (!primary.ok()) return "";
    return *primary == node.name ? "primary" : "replica";
  }

 private:
  // The primary as the first answering sentinel reports it (redis-1 without sentinels).
  Result<std::string> PrimaryName(RecipeContext& ctx) const {
    const std::vector<LocalNode>& nodes = ctx.LocalNodes();
    if (settings_.sentinels == 0) return nodes.front().name;
    std::string why = "no sentinel is up";
    for (const LocalNode& s : nodes) {
      if (s.kind != "sentinel" || !ctx.IsUp(s.name) || ctx.IsPaused(s.name)) continue;
      Result<redis::HostPort> p = redis::AskSentinel({s.host, s.Port("client")}, kMaster, kProbeTimeoutNs);
      if (!p.ok()) {
        why = p.status().message();
        continue;
      }
      for (const LocalNode& n : nodes) {
        if (n.kind == "server" && n.Address() == p->ToString()) return n.name;
      }
      why = "the sentinels name an unknown primary " + p->ToString();
    }
    return Unavailable("cannot tell the primary: " + why);
  }

  Settings settings_;
  int servers_ = 0;
};

}  // namespace

std::unique_ptr<BrokerRecipe> NewRedisRecipe() { return std::make_unique<RedisRecipe>(); }

}  // namespace drone::platforms::local
