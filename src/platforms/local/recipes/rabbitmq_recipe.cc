#include "platforms/local/recipes/rabbitmq_recipe.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "platforms/local/loopback.h"

namespace drone::platforms::local {
namespace {

// Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user and writes to /var/log; the
// scripts behind it run the broker as whoever starts them, with everything taken from the
// environment.
constexpr char kDefaultBinDir[] = "/usr/lib/rabbitmq/bin";
constexpr int kMaxNodes = 9;
constexpr int64_t kToolTimeoutNs = 60 * kNsPerSec;
constexpr int64_t kRoleToolTimeoutNs = 15 * kNsPerSec;
// In a lab every node has a namespace of its own, so each one's epmd can take the port every
// Erlang node looks for by default.
constexpr int kLabEpmdPort = 4369;

Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Internal("cannot write " + path.string());
  return Status::Ok();
}

// Erlang node names allow letters, digits, '-' and '_'; the cluster's name may hold anything.
std::string Sanitize(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    out += ok ? c : '-';
  }
  return out.empty() ? "cluster" : out.substr(0, 40);
}

std::string BinDir(const ClusterRequest& request) {
  auto it = request.options.find("bin_dir");
  return it == request.options.end() || it->second.empty() ? kDefaultBinDir : it->second;
}

class RabbitMqRecipe : public BrokerRecipe {
 public:
  std::string Broker() const override { return "rabbitmq"; }

  std::vector<Requirement> Requirements(const ClusterRequest& request) const override {
    std::string bin = BinDir(request);
    return {{bin + "/rabbitmq-server", "rabbitmq-server"},
            {bin + "/rabbitmqctl", "rabbitmq-server"},
            {"epmd", "erlang-base"}};
  }

  Status Validate(const ClusterRequest& request) const override {
    if (request.nodes < 1 || request.nodes > kMaxNodes) {
      return InvalidArgument("rabbitmq on platform local runs 1.." + std::to_string(kMaxNodes) +
                             " nodes, not " + std::to_string(request.nodes));
    }
    for (const auto& [k, v] : request.options) {
      if (k != "bin_dir") {
        return InvalidArgument("rabbitmq: option '" + k + "' is unknown; known: bin_dir (where " +
                               "rabbitmq-server and rabbitmqctl are, default " + kDefaultBinDir +
                               ")");
      }
    }
    return Status::Ok();
  }

  // epmd comes first: the nodes register with it as they boot, so it must be listening before
  // they are spawned (the platform spawns in layout order). On loopback one epmd serves every
  // node; in a lab a node registers with the epmd on its own host's loopback and the others find
  // it through that host's address, so every node has its own epmd beside it.
  std::vector<NodeTemplate> Layout(const ClusterRequest& request) const override {
    std::vector<NodeTemplate> out;
    if (request.network == "lab") {
      for (int i = 1; i <= request.nodes; ++i) {
        out.push_back({"epmd-" + std::to_string(i), "epmd", {}, "rabbitmq-" + std::to_string(i)});
      }
    } else {
      out.push_back({"epmd", "epmd", {"epmd"}});
    }
    for (int i = 1; i <= request.nodes; ++i) {
      out.push_back({"rabbitmq-" + std::to_string(i), "server", {"client", "dist"}});
    }
    return out;
  }

  // Erlang node names are name@host, and the host part must resolve to where the node listens:
  // on loopback every node is on 127.0.0.1 ("localhost"), told apart by its ports. In a lab the
  // nodes use long names by address (name@10.213.0.N), which need no name resolution at all.
  bool DistinctAddresses() const override { return false; }
  bool SupportsLab() const override { return true; }

  Status Configure(const ClusterRequest& request, std::vector<LocalNode>& nodes) override {
    bin_dir_ = BinDir(request);
    prefix_ = "drone-" + Sanitize(request.name) + "-";
    std::random_device rd;
    std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
    std::string cookie;
    for (int i = 0; i < 32; ++i) cookie += static_cast<char>('A' + rng() % 26);

    lab_ = request.network == "lab";
    for (LocalNode& n : nodes) {
      if (n.kind == "epmd") epmd_port_ = lab_ ? kLabEpmdPort : n.Port("epmd");
    }
    if (epmd_port_ == 0) return Internal("rabbitmq: no epmd port allocated");
    for (LocalNode& n : nodes) {
      if (n.kind == "epmd") {
        // epmd adds the loopback address to the ones it is given: the node registers there.
        n.process.argv = {"epmd", "-address", n.host, "-port", std::to_string(epmd_port_)};
        continue;
      }
      std::filesystem::path dir(n.dir);
      std::error_code ec;
      std::filesystem::create_directories(dir / "home", ec);
      std::filesystem::create_directories(dir / "log", ec);
      if (ec) return Internal("cannot create " + (dir / "home").string() + ": " + ec.message());
      // The broker refuses a cookie file others can read.
      std::filesystem::path cookie_file = dir / "home" / ".erlang.cookie";
      RETURN_IF_ERROR(WriteFile(cookie_file, cookie));
      ::chmod(cookie_file.c_str(), 0400);
      RETURN_IF_ERROR(
          WriteFile(dir / "rabbitmq.conf",
                    "listeners.tcp.default = " + n.Address("client") +
                        "\n"
                        "# Drone connects as guest, from an address other than 127.0.0.1.\n"
                        "loopback_users = none\n"
                        "log.file.level = info\n"
                        "log.console = false\n"));
      RETURN_IF_ERROR(WriteFile(dir / "enabled_plugins", "[].\n"));  // management off
      RETURN_IF_ERROR(WriteFile(dir / "rabbitmq-env.conf", ""));
      n.process.argv = {bin_dir_ + "/rabbitmq-server"};
      n.process.env = ServerEnv(n);
      if (ctl_home_.empty()) {
        ctl_home_ = (dir / "home").string();
        ctl_env_file_ = (dir / "rabbitmq-env.conf").string();
      }
    }
    return Status::Ok();
  }

  Status Form(RecipeContext& ctx, int64_t deadline_ns) override {
    std::vector<const LocalNode*> servers = Servers(ctx);
    if (servers.empty()) return Internal("rabbitmq: no server nodes");
    int64_t started = MonotonicNs();
    for (const LocalNode* n : servers) RETURN_IF_ERROR(WaitServing(ctx, *n, deadline_ns));
    LogInfo("rabbitmq: " + std::to_string(servers.size()) + " nodes booted in " +
            std::to_string((MonotonicNs() - started) / kNsPerMs) + " ms");
    // Joining one at a time: concurrent joins to the same seed node race in mnesia.
    for (size_t i = 1; i < servers.size(); ++i) {
      const LocalNode& node = *servers[i];
      RETURN_IF_ERROR(Ctl(ctx, node, {"stop_app"}, deadline_ns).status());
      RETURN_IF_ERROR(
          Ctl(ctx, node, {"join_cluster", ErlangName(*servers[0])}, deadline_ns).status());
      RETURN_IF_ERROR(Ctl(ctx, node, {"start_app"}, deadline_ns).status());
      RETURN_IF_ERROR(WaitServing(ctx, *servers[i], deadline_ns));
    }
    LogInfo("rabbitmq: cluster of " + std::to_string(servers.size()) + " formed in " +
            std::to_string((MonotonicNs() - started) / kNsPerMs) + " ms");
    return Status::Ok();
  }

  // A restarted node finds its cluster in its own mnesia directory and rejoins on boot.
  Status WaitNodeReady(RecipeContext& ctx, const LocalNode& node, int64_t deadline_ns) override {
    return WaitServing(ctx, node, deadline_ns);
  }

  drivers::Endpoint ClientEndpoint(const std::vector<LocalNode>& nodes,
                                   const std::string& lb_address) const override {
    drivers::Endpoint e;
    if (!lb_address.empty()) {
      e.bootstrap = lb_address;
      return e;
    }
    for (const LocalNode& n : nodes) {
      if (n.kind != "server") continue;
      e.bootstrap += (e.bootstrap.empty() ? "" : ",") + n.Address("client");
    }
    return e;
  }

  Result<std::string> ResolveRole(RecipeContext& ctx, const std::string& role) override {
    std::string queue;
    if (role.rfind("leader:", 0) == 0) {
      queue = role.substr(7);
    } else if (role != "leader") {
      return InvalidArgument("rabbitmq has no role '" + role +
                             "'; known: leader (of the only queue), leader:<queue>");
    }
    std::vector<const LocalNode*> asked;
    for (const LocalNode* n : Servers(ctx)) {
      if (ctx.IsUp(n->name) && !ctx.IsPaused(n->name)) asked.push_back(n);
    }
    if (asked.empty()) return Unavailable("rabbitmq: no node is up to ask who leads");
    Status last = Unavailable("rabbitmq: no answer");
    for (const LocalNode* n : asked) {
      Result<std::string> out =
          Ctl(ctx, *n, {"list_queues", "--formatter", "json", "name", "type", "leader"},
              MonotonicNs() + kRoleToolTimeoutNs);
      if (!out.ok()) {
        last = out.status();
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<RabbitMqQueueRow> rows, ParseRabbitMqQueues(*out));
      ASSIGN_OR_RETURN(RabbitMqQueueRow row, PickRabbitMqQueue(rows, queue));
      if (!row.leader.empty()) {
        for (const LocalNode* m : Servers(ctx)) {
          if (ErlangName(*m) == row.leader) return m->name;
        }
        return Unavailable("rabbitmq: the leader " + row.leader + " is not a node of this cluster");
      }
      // A classic queue lives on one node, which lists it among its --local queues.
      for (const LocalNode* m : asked) {
        Result<std::string> local =
            Ctl(ctx, *m, {"list_queues", "--local", "--formatter", "json", "name"},
                MonotonicNs() + kRoleToolTimeoutNs);
        if (!local.ok()) continue;
        Result<std::vector<RabbitMqQueueRow>> here = ParseRabbitMqQueues(*local);
        if (!here.ok()) continue;
        for (const RabbitMqQueueRow& r : *here) {
          if (r.name == row.name) return m->name;
        }
      }
      return Unavailable("rabbitmq: the node hosting queue " + row.name + " is not running");
    }
    return last;
  }

  int64_t StopGraceNs() const override { return 15 * kNsPerSec; }

 private:
  std::string ErlangName(const LocalNode& n) const {
    return prefix_ + std::to_string(n.index + 1) + "@" + (lab_ ? n.host : "localhost");
  }

  // "{10,213,0,3}": an IPv4 address as an Erlang tuple, for kernel parameters.
  static std::string ErlangAddress(const std::string& ip) {
    std::string out = "{" + ip + "}";
    std::replace(out.begin(), out.end(), '.', ',');
    return out;
  }

  std::map<std::string, std::string> ServerEnv(const LocalNode& n) const {
    std::filesystem::path dir(n.dir);
    std::map<std::string, std::string> env = {
        {"HOME", (dir / "home").string()},
        {"ERL_EPMD_PORT", std::to_string(epmd_port_)},
        {"RABBITMQ_NODENAME", ErlangName(n)},
        {"RABBITMQ_DIST_PORT", std::to_string(n.Port("dist"))},
        {"RABBITMQ_MNESIA_BASE", (dir / "data").string()},
        {"RABBITMQ_LOG_BASE", (dir / "log").string()},
        {"RABBITMQ_CONFIG_FILE", (dir / "rabbitmq.conf").string()},
        {"RABBITMQ_ADVANCED_CONFIG_FILE", (dir / "advanced.config").string()},
        {"RABBITMQ_ENABLED_PLUGINS_FILE", (dir / "enabled_plugins").string()},
        {"RABBITMQ_CONF_ENV_FILE", (dir / "rabbitmq-env.conf").string()},
        {"RABBITMQ_PID_FILE", (dir / "rabbitmq.pid").string()},
        // The start script then execs the Erlang VM instead of running it as its child, so the
        // VM is the process Drone started: the death signal (Drone killed) and every fault
        // signal reach it directly. Nothing else changes without a NOTIFY_SOCKET.
        {"RUNNING_UNDER_SYSTEMD", "true"},
        // The cluster's own epmd is already running; distribution listens on the node's
        // address only.
        {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
         "-start_epmd false -kernel inet_dist_use_interface " + ErlangAddress(n.host)},
    };
    if (lab_) env["RABBITMQ_USE_LONGNAME"] = "true";
    return env;
  }

  std::vector<const LocalNode*> Servers(RecipeContext& ctx) const {
    std::vector<const LocalNode*> out;
    for (const LocalNode& n : ctx.LocalNodes()) {
      if (n.kind == "server") out.push_back(&n);
    }
    return out;
  }

  // Runs rabbitmqctl against `n`, on n's own host (in a lab the tool's Erlang node needs an
  // epmd on its loopback, and only the nodes' hosts have one); its output when it exits 0.
  Result<std::string> Ctl(RecipeContext& ctx, const LocalNode& n, std::vector<std::string> args,
                          int64_t deadline_ns) {
    const std::string node = ErlangName(n);
    std::vector<std::string> argv = {bin_dir_ + "/rabbitmqctl", "-n", node, "-q"};
    if (lab_) argv.push_back("--longnames");
    argv.insert(argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> env = {{"HOME", ctl_home_},
                                              {"ERL_EPMD_PORT", std::to_string(epmd_port_)},
                                              {"RABBITMQ_CONF_ENV_FILE", ctl_env_file_}};
    // The tool names its own Erlang node after RABBITMQ_NODENAME ("rabbitmqcli-<n>-<that>"),
    // and the other nodes answer some commands (list_queues) by connecting back to it: in a lab
    // that name must carry this host's address, which they reach, not the machine's host name.
    if (lab_) env["RABBITMQ_NODENAME"] = node;
    int64_t timeout = std::min(kToolTimeoutNs, deadline_ns - MonotonicNs());
    if (timeout <= 0) return DeadlineExceeded("rabbitmq: no time left for rabbitmqctl " + args[0]);
    ASSIGN_OR_RETURN(ToolOutput out, ctx.RunToolOn(n, argv, env, timeout));
    if (out.exit_status != 0) {
      std::string text =
          out.output.size() > 600 ? out.output.substr(out.output.size() - 600) : out.output;
      return Unavailable(
          "rabbitmqctl -n " + node + " " + args[0] +
          (out.exit_status < 0 ? " timed out" : " exited " + std::to_string(out.exit_status)) +
          ": " + text);
    }
    return out.output;
  }

  // The AMQP listener opens last in a node's boot, so an open port means the broker serves.
  Status WaitServing(RecipeContext& ctx, const LocalNode& n, int64_t deadline_ns) {
    while (true) {
      if (ctx.Cancelled()) return Cancelled("rabbitmq: start cancelled");
      if (CanConnect(n.host, n.Port("client"), 200 * kNsPerMs)) return Status::Ok();
      if (MonotonicNs() >= deadline_ns) {
        return DeadlineExceeded(n.name + " did not open its AMQP port " + n.Address("client") +
                                " in time; log tail:\n" + ctx.LogTail(n.name));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::string bin_dir_ = kDefaultBinDir;
  std::string prefix_;
  bool lab_ = false;  // network: lab — long node names by address, an epmd per node
  int epmd_port_ = 0;
  std::string ctl_home_;
  std::string ctl_env_file_;
};

}  // namespace

Result<std::vector<RabbitMqQueueRow>> ParseRabbitMqQueues(const std::string& json) {
  nlohmann::json rows = nlohmann::json::parse(json, nullptr, false);
  if (rows.is_discarded() || !rows.is_array()) {
    return Unavailable("rabbitmq: cannot read the queue list: " + json.substr(0, 200));
  }
  std::vector<RabbitMqQueueRow> out;
  for (const auto& r : rows) {
    if (!r.is_object()) continue;
    auto text = [&](const char* key) {
      return r.contains(key) && r[key].is_string() ? r[key].get<std::string>() : std::string();
    };
    RabbitMqQueueRow row{text("name"), text("type"), text("leader")};
    if (row.leader == "undefined") row.leader.clear();
    out.push_back(std::move(row));
  }
  return out;
}

Result<RabbitMqQueueRow> PickRabbitMqQueue(const std::vector<RabbitMqQueueRow>& rows,
                                           const std::string& queue) {
  std::string names;
  for (const RabbitMqQueueRow& r : rows) {
    names += (names.empty() ? "" : ", ") + r.name;
    if (!queue.empty() && r.name == queue) return r;
  }
  if (queue.empty() && rows.size() == 1) return rows[0];
  if (queue.empty()) {
    return InvalidArgument("rabbitmq: role leader needs exactly one queue, there are [" + names +
                           "]; name it: leader:<queue>");
  }
  return Unavailable("rabbitmq: no queue " + queue + " (queues: [" + names + "])");
}

std::unique_ptr<BrokerRecipe> NewRabbitMqRecipe() { return std::make_unique<RabbitMqRecipe>(); }

}  // namespace drone::platforms::local
