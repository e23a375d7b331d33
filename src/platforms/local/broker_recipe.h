// BrokerRecipe: how the local platform runs one broker kind as real server processes — which
// processes a cluster has, their config files and command lines, how they are formed into one
// cluster (join), when a node is ready, how clients reach the cluster, and which node holds a role
// ("leader", "primary") at a given moment. Recipes are registered by broker name in
// RegisterBuiltinRecipes() (platforms/local/recipes/builtin_recipes.cc).
//
// The platform does everything that is the same for every broker: it checks the programs are
// installed, picks an address (127.0.0.N) and free ports for every node, creates the run directory
// with one directory per node, spawns, signals and reaps the processes, puts HAProxy in front when
// asked, and resolves the targets `random` and `minority` itself.
//
// Lifecycle of a cluster: Validate() (also for `drone validate`) -> Layout() -> the platform
// allocates addresses, ports and directories -> Configure() -> the platform spawns every process
// -> Form() -> in use (ClientEndpoint(), ResolveRole(), NodeRole(), WaitNodeReady() after a
// restart) -> the platform stops every process (SIGTERM, then SIGKILL after StopGraceNs()).
//
// Thread-safety: a recipe instance belongs to one cluster. Form() runs before the cluster is
// shared; afterwards ResolveRole(), NodeRole() and WaitNodeReady() may be called from several
// threads (faults fire while workloads run) and must not keep unsynchronised state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/status.h"
#include "drivers/driver.h"
#include "platforms/local/child_process.h"
#include "platforms/platform.h"

namespace drone::platforms::local {

// A program the recipe runs, and the Debian package that provides it (for the error message
// when it is missing: one line naming the package).
struct Requirement {
  std::string program;  // "redis-server"
  std::string package;  // "redis-server"
};

// One process the recipe wants, before addresses are allocated.
struct NodeTemplate {
  std::string name;                // unique in the cluster; fault targets use it: "redis-1"
  std::string kind = "server";     // "server" = a broker node; anything else is a helper
                                   // process ("sentinel") that is not in `outputs.nodes`
  std::vector<std::string> ports;  // port names to allocate, e.g. {"client", "cluster"}
  // The process whose host this one shares (its address and, in a lab network, its namespace):
  // a per-node helper such as the epmd an Erlang node registers with on its own loopback.
  // Empty: a host of its own. Names another process of the layout, one with a host of its own.
  std::string shares_host_with = {};
};

// One process of a local cluster, with what the platform allocated for it.
struct LocalNode {
  std::string name;
  std::string kind;
  int index = 0;                     // 0-based among the nodes of its kind
  std::string host;                  // its own loopback address, e.g. "127.0.0.3"
  std::map<std::string, int> ports;  // by the names the template asked for
  std::string dir;                   // the node's own directory (config, data, log)
  ProcessSpec process;               // filled by Configure(): argv, env; log_path preset
  // network: proxy, for recipes with a ProxiedPeerPort(): the address at which this node reaches
  // each peer's peer port (a proxy of its own per peer), by peer name; empty otherwise.
  std::map<std::string, std::string> peer_addresses;

  int Port(const std::string& port_name) const {
    auto it = ports.find(port_name);
    return it == ports.end() ? 0 : it->second;
  }
  std::string Address(const std::string& port_name = "client") const {
    return host + ":" + std::to_string(Port(port_name));
  }
};

struct ToolOutput {
  int exit_status = -1;  // -1: did not exit normally (killed, timed out)
  std::string output;    // stdout and stderr, interleaved, truncated to the last 64 KiB
};

// What a recipe may ask of the running cluster. Implemented by the local platform.
class RecipeContext {
 public:
  virtual ~RecipeContext() = default;
  virtual const std::vector<LocalNode>& LocalNodes() const = 0;
  virtual const std::map<std::string, std::string>& Options() const = 0;
  // False while the node is killed or stopped by a fault (a paused node is up).
  virtual bool IsUp(const std::string& node) const = 0;
  virtual bool IsPaused(const std::string& node) const = 0;
  // Runs a short-lived program (rabbitmqctl, redis-cli, ...) from an argv array to its end, or
  // kills it at `timeout_ns`. Its output goes to the cluster's run directory log as well.
  virtual Result<ToolOutput> RunTool(const std::vector<std::string>& argv,
                                     const std::map<std::string, std::string>& env,
                                     int64_t timeout_ns) = 0;
  // RunTool inside `node`'s own host: in a lab network its namespace (a tool that must reach the
  // node on its loopback, such as rabbitmqctl through the node's epmd); elsewhere as RunTool.
  virtual Result<ToolOutput> RunToolOn(const LocalNode& node, const std::vector<std::string>& argv,
                                       const std::map<std::string, std::string>& env,
                                       int64_t timeout_ns) = 0;
  // The log tail of a node, for error messages ("redis-2 did not become ready: ... <tail>").
  virtual std::string LogTail(const std::string& node) const = 0;
  // True once the run is being cancelled: waits should give up promptly.
  virtual bool Cancelled() const = 0;
};

class BrokerRecipe {
 public:
  virtual ~BrokerRecipe() = default;
  virtual std::string Broker() const = 0;  // "redis", as in `broker:` and the driver registry

  // The programs this cluster needs. The platform checks them before anything starts.
  virtual std::vector<Requirement> Requirements(const ClusterRequest& request) const = 0;

  // Checks `nodes` and `options` without starting anything. InvalidArgument with a message that
  // says what is wrong and what to do ("redis: option 'sentinel' is unknown; known: sentinels").
  virtual Status Validate(const ClusterRequest& request) const = 0;

  // The processes of the cluster: the broker nodes first (kind "server"), then helpers.
  virtual std::vector<NodeTemplate> Layout(const ClusterRequest& request) const = 0;

  // True when every node may have an address of its own (127.0.0.N). False for brokers whose
  // nodes must share one host name (Erlang distribution): then all nodes get 127.0.0.1.
  virtual bool DistinctAddresses() const { return true; }

  // True when the cluster can run in a lab network (`network: lab`, a namespace and a 10.x
  // address per host; Layout() and Configure() see `request.network` and the nodes' netns).
  virtual bool SupportsLab() const { return DistinctAddresses(); }

  // With addresses, ports and directories allocated: writes config files into the node
  // directories and fills every node's `process` (argv, env; cwd defaults to the node dir).
  virtual Status Configure(const ClusterRequest& request, std::vector<LocalNode>& nodes) = 0;

  // After every process was spawned: waits until every node serves and forms the cluster (joins,
  // replication set-up), before `deadline_ns` (MonotonicNs). Unavailable / DeadlineExceeded with
  // the failing node's log tail when it cannot.
  virtual Status Form(RecipeContext& ctx, int64_t deadline_ns) = 0;

  // After `node` was restarted (by a fault): waits until it serves again, rejoining the cluster
  // where the broker needs that, before `deadline_ns`.
  virtual Status WaitNodeReady(RecipeContext& ctx, const LocalNode& node, int64_t deadline_ns) = 0;

  // How clients reach the cluster. `lb_address` is HAProxy's "host:port" when `lb: haproxy`,
  // else empty; recipes whose clients must see the nodes themselves (sentinel discovery) may
  // ignore it.
  virtual drivers::Endpoint ClientEndpoint(const std::vector<LocalNode>& nodes,
                                           const std::string& lb_address) const = 0;

  // Whether `lb: haproxy` makes sense for this broker. The platform rejects it otherwise.
  virtual bool SupportsLoadBalancer() const { return true; }

  // Whether `network: proxy` works for this cluster: its clients must stay on the proxies'
  // addresses that ClientEndpoint() is given (no broker reply may send them to a node's own
  // address). FailedPrecondition saying why and what to do otherwise.
  virtual Status CheckProxyNetwork(const ClusterRequest& /*request*/) const { return Status::Ok(); }

  // In network: proxy, the port (by its Layout name) on which the nodes talk to each other, when
  // the recipe can point each node at a proxy per peer (LocalNode::peer_addresses) so that
  // broker-to-broker links can be impaired and partitioned too; empty: they stay direct.
  virtual std::string ProxiedPeerPort(const ClusterRequest& /*request*/) const { return ""; }

  // The node that holds `role` now ("leader", "primary", ...). The platform resolves node names,
  // "random" and "minority" itself and asks the recipe for anything else. InvalidArgument for a
  // role the broker has no notion of; Unavailable when it cannot be found out now.
  virtual Result<std::string> ResolveRole(RecipeContext& ctx, const std::string& role) = 0;

  // The role a node has now, for outputs and events ("primary", "replica", "sentinel"); empty
  // when the broker has no roles or it cannot be found out quickly.
  virtual std::string NodeRole(RecipeContext& /*ctx*/, const LocalNode& /*node*/) { return ""; }

  // How long a node may take to exit after SIGTERM before it gets SIGKILL.
  virtual int64_t StopGraceNs() const { return 10'000'000'000; }
};

// Recipes by broker name. Safe from any thread after first use.
Registry<BrokerRecipe>& RecipeRegistry();
void RegisterBuiltinRecipes(Registry<BrokerRecipe>& registry);

}  // namespace drone::platforms::local
