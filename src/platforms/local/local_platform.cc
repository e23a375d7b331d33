#include "platforms/local/local_platform.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <functional>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "drivers/builtin_drivers.h"
#include "faults/network/command.h"
#include "faults/network/lab_network.h"
#include "faults/network/proxy_network.h"
#include "journal/undo_journal.h"
#include "platforms/local/broker_recipe.h"
#include "platforms/local/haproxy_frontend.h"
#include "platforms/local/loopback.h"
#include "platforms/local/proxy_front.h"

namespace drone::platforms {
namespace {

using local::BrokerRecipe;
using local::ChildProcess;
using local::LocalNode;
using local::RecipeContext;
using local::ToolOutput;
using faults::network::LabNetwork;
using faults::network::ProxyNetwork;

// The lab host every client of a cluster runs in (docs/platforms/local.md).
constexpr char kClientsHost[] = "clients";

constexpr int64_t kFormTimeoutNs = 90 * kNsPerSec;
constexpr int64_t kRestartTimeoutNs = 60 * kNsPerSec;
constexpr int64_t kLbReadyTimeoutNs = 10 * kNsPerSec;
constexpr int64_t kLbStopGraceNs = 2 * kNsPerSec;
constexpr size_t kLogTailBytes = 2048;
constexpr size_t kToolOutputBytes = 64 * 1024;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Internal("cannot write " + path);
  return Status::Ok();
}

// Checks the programs a cluster needs: one message naming the package of every missing one.
Status CheckRequirements(const std::vector<local::Requirement>& requirements) {
  std::vector<std::string> missing;
  std::set<std::string> packages;
  for (const local::Requirement& r : requirements) {
    if (local::FindExecutable(r.program).ok()) continue;
    missing.push_back(r.program);
    packages.insert(r.package);
  }
  if (missing.empty()) return Status::Ok();
  std::string programs, install;
  for (const std::string& m : missing) programs += (programs.empty() ? "" : ", ") + m;
  for (const std::string& p : packages) install += " " + p;
  return FailedPrecondition(programs + (missing.size() == 1 ? " is" : " are") +
                            " not installed (not found in PATH); install the Debian package" +
                            (packages.size() == 1 ? "" : "s") + ":" + install +
                            " (apt-get install" + install + ", or make setup)");
}


class LocalCluster : public Cluster, public NodeControl, public RecipeContext {
 public:
  LocalCluster(ClusterRequest request, std::unique_ptr<BrokerRecipe> recipe, std::string run_dir,
               uint64_t run_dir_journal_id, std::vector<LocalNode> nodes,
               std::unique_ptr<LabNetwork> lab, std::unique_ptr<ProxyNetwork> proxies,
               std::vector<LocalNode> proxied_nodes)
      : request_(std::move(request)),
        recipe_(std::move(recipe)),
        run_dir_(std::move(run_dir)),
        run_dir_journal_id_(run_dir_journal_id),
        nodes_(std::move(nodes)),
        lab_(std::move(lab)),
        client_netns_(lab_ ? faults::network::LabNamespaceName(lab_->run_id(), kClientsHost) : ""),
        proxies_(std::move(proxies)),
        proxied_nodes_(std::move(proxied_nodes)),
        procs_(nodes_.size()),
        up_(nodes_.size(), false) {}

  ~LocalCluster() override { (void)Stop(); }

  // Spawns every node, forms the cluster, starts the load balancer. On error the caller stops
  // the cluster (which removes everything).
  Status Start() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      RETURN_IF_ERROR(Spawn(i));
    }
    Status formed = InClients([&] { return recipe_->Form(*this, MonotonicNs() + kFormTimeoutNs); });
    if (!formed.ok()) return WithExits(formed);
    if (request_.lb == "haproxy") RETURN_IF_ERROR(InClients([&] { return StartLoadBalancer(); }));
    return Status::Ok();
  }

  const LabNetwork* Lab() const override { return lab_.get(); }
  std::string ClientNetns() const override { return client_netns_; }
  ProxyNetwork* Proxies() const override { return proxies_.get(); }

  // ---- Cluster ----
  std::string Broker() const override { return request_.broker; }
  drivers::Endpoint Endpoint() const override {
    return recipe_->ClientEndpoint(proxies_ ? proxied_nodes_ : nodes_, lb_address_);
  }

  std::vector<NodeInfo> Nodes() const override {
    std::vector<NodeInfo> out;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const LocalNode& n = nodes_[i];
      if (n.kind != "server") continue;
      NodeInfo info;
      info.name = n.name;
      info.id = n.index + 1;
      info.address = proxies_ ? proxied_nodes_[i].Address() : n.Address();
      {
        std::lock_guard<std::mutex> lock(mu_);
        info.up = up_[i];
        info.pid = procs_[i] ? procs_[i]->pid() : 0;
      }
      // NodeRole() asks the broker (a tool run): the context is not changed by it, only used.
      (void)InClients([&] {
        info.role = recipe_->NodeRole(*const_cast<LocalCluster*>(this), n);
        return Status::Ok();
      });
      out.push_back(std::move(info));
    }
    return out;
  }

  Status CreateTopic(const drivers::TopicRequest& request) override {
    ASSIGN_OR_RETURN(auto driver, drivers::DriverRegistry().Create(request_.broker));
    return InClients([&]() -> Status {
      ASSIGN_OR_RETURN(auto admin, driver->NewAdmin(Endpoint()));
      return admin->CreateTopic(request, 30 * kNsPerSec);
    });
  }

  NodeControl* Control() override { return this; }

  Status Stop() override {
    std::unique_ptr<ChildProcess> lb;
    std::vector<std::unique_ptr<ChildProcess>> procs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return Status::Ok();
      stopped_ = true;
      lb = std::move(lb_);
      for (auto& p : procs_) procs.push_back(std::move(p));
      std::fill(up_.begin(), up_.end(), false);
    }
    if (lb) (void)lb->Stop(kLbStopGraceNs);
    if (proxies_) proxies_->Stop();
    // In parallel: every node gets its grace period at the same time. Helpers (listed last)
    // are told first, so that no sentinel starts a failover while the servers go down.
    const int64_t grace = recipe_->StopGraceNs();
    std::vector<std::thread> stoppers;
    for (auto it = procs.rbegin(); it != procs.rend(); ++it) {
      if (*it) stoppers.emplace_back([p = it->get(), grace] { (void)p->Stop(grace); });
    }
    for (std::thread& t : stoppers) t.join();
    procs.clear();
    if (lab_) {
      Status gone = lab_->Teardown();
      if (!gone.ok()) return gone.WithContext("removing the lab network of " + request_.name);
    }
    std::error_code ec;
    std::filesystem::remove_all(run_dir_, ec);
    if (ec) return Internal("cannot remove " + run_dir_ + ": " + ec.message());
    if (request_.journal != nullptr && run_dir_journal_id_ != 0) {
      RETURN_IF_ERROR(request_.journal->Done(run_dir_journal_id_));
    }
    return Status::Ok();
  }

  // ---- NodeControl ----
  std::string Backend() const override { return "signal"; }

  Status Kill(const std::string& node) override {
    ASSIGN_OR_RETURN(size_t i, Find(node));
    ChildProcess* p = Process(i);
    if (p == nullptr) return FailedPrecondition(node + " is not running");
    RETURN_IF_ERROR(p->Kill());
    MarkDown(i);
    return Status::Ok();
  }

  Status Stop(const std::string& node) override {
    ASSIGN_OR_RETURN(size_t i, Find(node));
    ChildProcess* p = Process(i);
    if (p == nullptr) return FailedPrecondition(node + " is not running");
    RETURN_IF_ERROR(p->Stop(recipe_->StopGraceNs()));
    MarkDown(i);
    return Status::Ok();
  }

  Status Pause(const std::string& node) override {
    ASSIGN_OR_RETURN(size_t i, Find(node));
    ChildProcess* p = Process(i);
    if (p == nullptr) return FailedPrecondition(node + " is not running");
    return p->Pause();
  }

  Status Resume(const std::string& node) override {
    ASSIGN_OR_RETURN(size_t i, Find(node));
    ChildProcess* p = Process(i);
    if (p == nullptr) return FailedPrecondition(node + " is not running");
    return p->Resume();
  }

  Status Start(const std::string& node, bool /*failback*/) override {
    ASSIGN_OR_RETURN(size_t i, Find(node));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return FailedPrecondition("the cluster is stopped");
      if (up_[i] && procs_[i] && procs_[i]->Running()) return Status::Ok();
    }
    RETURN_IF_ERROR(Spawn(i));
    Status ready = InClients(
        [&] { return recipe_->WaitNodeReady(*this, nodes_[i], MonotonicNs() + kRestartTimeoutNs); });
    if (!ready.ok()) return WithExits(ready);
    return Status::Ok();
  }

  Status SetDelay(const std::string& /*node*/, int64_t /*delay_ns*/) override {
    return Unimplemented("platform local has no network impairments on its nodes yet");
  }

  Result<std::string> ResolveTarget(const std::string& target, uint64_t seed) override {
    if (Find(target).ok()) return target;
    std::vector<std::string> servers;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].kind == "server" && IsUpIndex(i)) servers.push_back(nodes_[i].name);
    }
    if (target == "random") {
      if (servers.empty()) return Unavailable("no node is up");
      std::mt19937_64 rng(seed);
      return servers[rng() % servers.size()];
    }
    if (target == "minority") {
      // The largest set of nodes whose loss leaves a majority of the cluster up; the nodes
      // holding a role (leader, primary) are spared when the recipe can tell, so that the fault
      // hits followers, which is what "lose a minority" usually means.
      const size_t total = static_cast<size_t>(std::count_if(
          nodes_.begin(), nodes_.end(), [](const LocalNode& n) { return n.kind == "server"; }));
      const size_t count = (total - 1) / 2;
      if (count == 0) return InvalidArgument("a cluster of " + std::to_string(total) + " node(s) has no minority to lose");
      std::string joined;
      size_t taken = 0;
      for (auto it = servers.rbegin(); it != servers.rend() && taken < count; ++it, ++taken) {
        joined = joined.empty() ? *it : *it + "," + joined;
      }
      if (taken < count) return Unavailable("fewer nodes are up than a minority");
      return joined;
    }
    Result<std::string> role = Status(StatusCode::kInternal, "not resolved");
    (void)InClients([&] {
      role = recipe_->ResolveRole(*this, target);
      return Status::Ok();
    });
    if (role.ok() || role.status().code() != StatusCode::kInvalidArgument) return role;
    std::string names;
    for (const LocalNode& n : nodes_) names += (names.empty() ? "" : ", ") + n.name;
    return InvalidArgument("unknown target '" + target + "': " + role.status().message() +
                           "; nodes: " + names + "; roles: random, minority");
  }

  // ---- RecipeContext ----
  const std::vector<LocalNode>& LocalNodes() const override { return nodes_; }
  const std::map<std::string, std::string>& Options() const override { return request_.options; }
  bool IsUp(const std::string& node) const override {
    Result<size_t> i = Find(node);
    return i.ok() && IsUpIndex(*i);
  }
  bool IsPaused(const std::string& node) const override {
    Result<size_t> i = Find(node);
    if (!i.ok()) return false;
    std::lock_guard<std::mutex> lock(mu_);
    return procs_[*i] && procs_[*i]->paused();
  }
  std::string LogTail(const std::string& node) const override {
    Result<size_t> i = Find(node);
    if (!i.ok()) return "";
    std::ifstream in(nodes_[*i].process.log_path, std::ios::binary | std::ios::ate);
    if (!in) return "";
    const std::streamoff size = in.tellg();
    const std::streamoff from = std::max<std::streamoff>(0, size - static_cast<std::streamoff>(kLogTailBytes));
    in.seekg(from);
    std::string out(static_cast<size_t>(size - from), '\0');
    in.read(out.data(), static_cast<std::streamsize>(out.size()));
    return out;
  }
  bool Cancelled() const override { return request_.cancel != nullptr && request_.cancel->cancelled(); }

  Result<ToolOutput> RunTool(const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env,
                             int64_t timeout_ns) override {
    return RunToolIn(client_netns_, argv, env, timeout_ns);
  }

  Result<ToolOutput> RunToolOn(const LocalNode& node, const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& env,
                               int64_t timeout_ns) override {
    return RunToolIn(lab_ ? node.process.netns : client_netns_, argv, env, timeout_ns);
  }

 private:
  Result<ToolOutput> RunToolIn(const std::string& netns, const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& env, int64_t timeout_ns) {
    if (argv.empty()) return InvalidArgument("empty tool argv");
    local::ProcessSpec spec;
    spec.name = argv[0];
    spec.argv = argv;
    spec.env = env;
    spec.cwd = run_dir_;
    spec.journal = request_.journal;
    spec.netns = netns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      spec.log_path = run_dir_ + "/tool-" + std::to_string(++tool_runs_) + ".log";
    }
    ASSIGN_OR_RETURN(auto child, ChildProcess::Start(spec));
    ToolOutput out;
    if (child->WaitExit(timeout_ns)) {
      out.exit_status = child->ExitCode();
    } else {
      (void)child->Kill();
    }
    std::string text = child->LogTail(kToolOutputBytes);
    std::error_code ec;
    std::filesystem::remove(spec.log_path, ec);
    out.output = std::move(text);
    return out;
  }

  // Runs `fn` on this thread inside the clients' lab host, where the nodes can be reached (in
  // lab mode: Drone's own namespace has no route to the lab), or just runs it.
  Status InClients(const std::function<Status()>& fn) const {
    if (client_netns_.empty()) return fn();
    return faults::network::WithNetns(client_netns_, fn);
  }

  Result<size_t> Find(const std::string& node) const {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].name == node) return i;
    }
    return NotFound("no node '" + node + "'");
  }

  bool IsUpIndex(size_t i) const {
    std::lock_guard<std::mutex> lock(mu_);
    return up_[i];
  }

  ChildProcess* Process(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return up_[i] ? procs_[i].get() : nullptr;
  }

  void MarkDown(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    up_[i] = false;
  }

  Status Spawn(size_t i) {
    ASSIGN_OR_RETURN(auto child, ChildProcess::Start(nodes_[i].process));
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return FailedPrecondition("the cluster is stopped");
    procs_[i] = std::move(child);  // the previous, reaped process (after a kill) goes here
    up_[i] = true;
    return Status::Ok();
  }

  // Adds which processes died (and how) to a failed start: "redis-2 exited with status 1: <log>".
  Status WithExits(const Status& s) {
    std::string died;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      ChildProcess* p = Process(i);
      if (p == nullptr || p->Running()) continue;
      died += "; " + nodes_[i].name + " " + p->DescribeExit() + ", log tail:\n" +
              Trim(LogTail(nodes_[i].name));
    }
    return Status(s.code(), s.message() + died);
  }

  Status StartLoadBalancer() {
    const std::string host = "127.0.0.1";
    ASSIGN_OR_RETURN(int port, local::FreeTcpPort(host));
    std::vector<local::HaproxyBackend> backends;
    for (const LocalNode& n : proxies_ ? proxied_nodes_ : nodes_) {
      if (n.kind == "server") backends.push_back({n.name, n.host, n.Port("client")});
    }
    const std::string dir = run_dir_ + "/haproxy";
    std::filesystem::create_directories(dir);
    RETURN_IF_ERROR(WriteFile(dir + "/haproxy.cfg", local::HaproxyConfig(host, port, backends)));
    local::ProcessSpec spec;
    spec.name = "haproxy";
    spec.argv = {"haproxy", "-db", "-f", dir + "/haproxy.cfg"};
    spec.cwd = dir;
    spec.log_path = dir + "/haproxy.log";
    spec.journal = request_.journal;
    spec.netns = client_netns_;  // the clients reach it on their own loopback
    ASSIGN_OR_RETURN(auto child, ChildProcess::Start(spec));
    ChildProcess* lb = child.get();
    {
      std::lock_guard<std::mutex> lock(mu_);
      lb_ = std::move(child);
    }
    Status ready = local::WaitForPort(host, port, MonotonicNs() + kLbReadyTimeoutNs, request_.cancel);
    if (!ready.ok()) {
      return Unavailable("haproxy did not start: " + ready.message() + " (" + lb->DescribeExit() +
                         "), log tail:\n" + Trim(lb->LogTail(kLogTailBytes)));
    }
    lb_address_ = host + ":" + std::to_string(port);
    return Status::Ok();
  }

  const ClusterRequest request_;
  const std::unique_ptr<BrokerRecipe> recipe_;
  const std::string run_dir_;
  const uint64_t run_dir_journal_id_;  // 0: not journaled
  const std::vector<LocalNode> nodes_;
  // network: lab — every node's process runs in its own host of the lab, clients in "clients".
  // Torn down by Stop(), after the processes are gone.
  const std::unique_ptr<LabNetwork> lab_;
  const std::string client_netns_;
  // network: proxy (platforms/local/proxy_front.h); stopped by Stop().
  const std::unique_ptr<ProxyNetwork> proxies_;
  const std::vector<LocalNode> proxied_nodes_;  // nodes_ with the proxies' client addresses
  std::string lb_address_;  // written by Start() before the cluster is shared

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<ChildProcess>> procs_;  // guarded by mu_; by node index
  std::vector<bool> up_;                              // guarded by mu_
  std::unique_ptr<ChildProcess> lb_;                  // guarded by mu_
  bool stopped_ = false;                              // guarded by mu_
  uint64_t tool_runs_ = 0;                            // guarded by mu_
};

// The lab's name: "<run>-<cluster>", in the characters and length a lab takes, so that
// `drone clean RUN` (CleanLab: "drone-<run>-*") finds it.
std::string LabId(const ClusterRequest& request) {
  std::string id = (request.run_id.empty() ? std::string("run") : request.run_id) + "-" + request.name;
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '-';
  }
  return id.substr(0, 40);
}

class LocalPlatform : public Platform {
 public:
  std::string Name() const override { return "local"; }

  Status Validate(const ClusterRequest& request) const override {
    if (!local::RecipeRegistry().Contains(request.broker)) {
      std::string known;
      for (const auto& [name, description] : local::RecipeRegistry().List()) {
        known += (known.empty() ? "" : ", ") + name;
      }
      return InvalidArgument("platform local cannot run broker '" + request.broker + "'" +
                             (known.empty() ? "" : "; it runs: " + known));
    }
    ASSIGN_OR_RETURN(auto recipe, local::RecipeRegistry().Create(request.broker));
    if (request.lb != "none" && request.lb != "haproxy") {
      return InvalidArgument("lb must be none or haproxy, not '" + request.lb + "'");
    }
    if (request.lb == "haproxy" && !recipe->SupportsLoadBalancer()) {
      return InvalidArgument("broker " + request.broker +
                             " does not work behind a load balancer on platform local; use lb: none");
    }
    RETURN_IF_ERROR(recipe->Validate(request));
    if (request.network != "loopback" && request.network != "lab" && request.network != "proxy") {
      return InvalidArgument("network must be lab, proxy or loopback, not '" + request.network + "'");
    }
    if (request.network == "proxy") RETURN_IF_ERROR(recipe->CheckProxyNetwork(request));
    if (request.network == "lab") {
      if (!recipe->SupportsLab()) {
        return InvalidArgument("broker " + request.broker +
                               " cannot run in a lab network on platform local yet; use "
                               "network: loopback");
      }
      RETURN_IF_ERROR(faults::network::CheckLabPrivilege("run as root, or use network: loopback"));
    }
    std::vector<local::Requirement> requirements = recipe->Requirements(request);
    if (request.lb == "haproxy") requirements.push_back({"haproxy", "haproxy"});
    return CheckRequirements(requirements);
  }

  Result<std::unique_ptr<Cluster>> CreateCluster(const ClusterRequest& request) override {
    RETURN_IF_ERROR(Validate(request));
    ASSIGN_OR_RETURN(auto recipe, local::RecipeRegistry().Create(request.broker));
    std::vector<local::NodeTemplate> layout = recipe->Layout(request);

    const std::string tmp = journal::TempBase();
    uint64_t run_dir_journal_id = 0;
    ASSIGN_OR_RETURN(const std::string run_dir,
                     journal::MakeTempDirectory(tmp, request.name, "run directory", request.journal,
                                                &run_dir_journal_id));
    auto remove_dir = [&run_dir, &request, run_dir_journal_id] {
      std::error_code ec;
      std::filesystem::remove_all(run_dir, ec);
      if (!ec && request.journal != nullptr && run_dir_journal_id != 0) {
        (void)request.journal->Done(run_dir_journal_id);
      }
    };

    // network: lab — one host per process of the layout, plus the clients' host.
    std::unique_ptr<LabNetwork> lab;
    if (request.network == "lab") {
      std::vector<std::string> hosts;
      for (const local::NodeTemplate& t : layout) {
        if (t.shares_host_with.empty()) hosts.push_back(t.name);
      }
      hosts.push_back(kClientsHost);
      auto made = LabNetwork::Create(LabId(request), hosts);
      if (!made.ok()) {
        remove_dir();
        return made.status().WithContext("cluster '" + request.name + "'");
      }
      lab = std::move(*made);
    }

    std::vector<LocalNode> nodes;
    std::map<std::string, int> per_kind;
    std::set<std::pair<std::string, int>> taken;
    for (size_t i = 0; i < layout.size(); ++i) {
      LocalNode n;
      n.name = layout[i].name;
      n.kind = layout[i].kind;
      n.index = per_kind[n.kind]++;
      // The process whose host this one is on: itself, or the one it shares a host with.
      size_t owner = i;
      if (const std::string& with = layout[i].shares_host_with; !with.empty()) {
        auto it = std::find_if(layout.begin(), layout.end(),
                               [&](const local::NodeTemplate& t) { return t.name == with; });
        if (it == layout.end() || !it->shares_host_with.empty()) {
          remove_dir();
          return Internal(n.name + " shares the host of '" + with + "', which has none of its own");
        }
        owner = static_cast<size_t>(it - layout.begin());
      }
      n.host = recipe->DistinctAddresses() ? local::NodeHost(static_cast<int>(owner)) : "127.0.0.1";
      if (lab) {
        Result<const faults::network::LabHost*> host = lab->Host(layout[owner].name);
        if (!host.ok()) {
          remove_dir();
          return host.status();
        }
        n.host = (*host)->address;
        n.process.netns = (*host)->netns;
      }
      for (const std::string& port_name : layout[i].ports) {
        Result<int> port = Status(StatusCode::kInternal, "no attempt");
        for (int attempt = 0; attempt < 16; ++attempt) {
          if (lab) {
            // Free in the node's own namespace, where the server binds it.
            Status in = faults::network::WithNetns(n.process.netns, [&] {
              port = local::FreeTcpPort(n.host);
              return Status::Ok();
            });
            if (!in.ok()) port = in;
          } else {
            port = local::FreeTcpPort(n.host);
          }
          if (!port.ok() || taken.insert({n.host, *port}).second) break;
        }
        if (!port.ok()) {
          remove_dir();
          return port.status().WithContext(n.name + ": no free port");
        }
        n.ports[port_name] = *port;
      }
      n.dir = run_dir + "/" + n.name;
      std::error_code ec;
      std::filesystem::create_directories(n.dir + "/data", ec);
      if (ec) {
        remove_dir();
        return Internal("cannot create " + n.dir + ": " + ec.message());
      }
      n.process.name = n.name;
      n.process.cwd = n.dir;
      n.process.log_path = n.dir + "/" + n.name + ".log";
      n.process.journal = request.journal;
      nodes.push_back(std::move(n));
    }
    // network: proxy — started before Configure, which points the nodes at their peers' proxies.
    std::unique_ptr<ProxyNetwork> proxies;
    std::vector<LocalNode> proxied_nodes;
    if (request.network == "proxy") {
      Status fronted = [&]() -> Status {
        ASSIGN_OR_RETURN(proxies, local::StartProxyFront(nodes, recipe->ProxiedPeerPort(request)));
        ASSIGN_OR_RETURN(proxied_nodes, local::ProxiedNodes(*proxies, nodes));
        return Status::Ok();
      }();
      if (!fronted.ok()) {
        remove_dir();
        return fronted.WithContext("cluster '" + request.name + "': the proxies");
      }
    }
    Status configured = recipe->Configure(request, nodes);
    if (!configured.ok()) {
      remove_dir();
      return configured;
    }
    auto cluster = std::make_unique<LocalCluster>(request, std::move(recipe), run_dir,
                                                   run_dir_journal_id, std::move(nodes), std::move(lab),
                                                   std::move(proxies), std::move(proxied_nodes));
    Status started = cluster->Start();
    if (!started.ok()) {
      (void)cluster->Stop();  // kills what runs and removes the run directory
      return started.WithContext("starting " + request.broker + " cluster '" + request.name + "'");
    }
    LogInfo("cluster " + request.name + ": " + request.broker + " on platform local in " + run_dir +
            (cluster->Lab() ? std::string(" (lab network ") + faults::network::kLabSubnet + ")" : "") +
            (cluster->Proxies() ? " (network: proxy, a TCP proxy in front of every node)" : ""));
    return std::unique_ptr<Cluster>(std::move(cluster));
  }
};

}  // namespace

std::unique_ptr<Platform> NewLocalPlatform() { return std::make_unique<LocalPlatform>(); }

}  // namespace drone::platforms
