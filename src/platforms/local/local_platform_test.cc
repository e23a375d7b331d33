// The local platform's own mechanics (addresses, ports, run directory, signals, HAProxy), driven
// through a small recipe whose "server" is Python's http.server: a real TCP server that is on
// every machine that runs the test suite. Broker recipes have tests of their own.
#include "platforms/local/local_platform.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/clock.h"
#include "core/testutil.h"
#include "faults/network/lab_network.h"
#include "platforms/local/broker_recipe.h"
#include "platforms/local/loopback.h"

namespace drone::platforms {
namespace {

using local::LocalNode;

class HttpRecipe : public local::BrokerRecipe {
 public:
  explicit HttpRecipe(std::string program = "python3") : program_(std::move(program)) {}
  std::string Broker() const override { return "test-http"; }
  std::vector<local::Requirement> Requirements(const ClusterRequest&) const override {
    return {{program_, "drone-test-" + program_}};
  }
  Status Validate(const ClusterRequest& request) const override {
    for (const auto& [k, v] : request.options) {
      if (k != "greeting") return InvalidArgument("test-http: option '" + k + "' is unknown");
    }
    return Status::Ok();
  }
  std::vector<local::NodeTemplate> Layout(const ClusterRequest& request) const override {
    std::vector<local::NodeTemplate> out;
    for (int i = 0; i < request.nodes; ++i) out.push_back({"http-" + std::to_string(i + 1), "server", {"client"}});
    out.push_back({"helper-1", "helper", {"client"}});
    return out;
  }
  Status Configure(const ClusterRequest&, std::vector<LocalNode>& nodes) override {
    for (LocalNode& n : nodes) {
      std::ofstream(n.dir + "/data/index.html") << n.name;
      n.process.argv = {program_, "-m", "http.server", "--bind", n.host, std::to_string(n.Port("client")),
                        "--directory", n.dir + "/data"};
    }
    return Status::Ok();
  }
  Status Form(local::RecipeContext& ctx, int64_t deadline_ns) override {
    for (const LocalNode& n : ctx.LocalNodes()) {
      Status s = local::WaitForPort(n.host, n.Port("client"), deadline_ns, nullptr);
      if (!s.ok()) return Status(s.code(), n.name + ": " + s.message() + "\n" + ctx.LogTail(n.name));
    }
    return Status::Ok();
  }
  Status WaitNodeReady(local::RecipeContext&, const LocalNode& node, int64_t deadline_ns) override {
    return local::WaitForPort(node.host, node.Port("client"), deadline_ns, nullptr);
  }
  drivers::Endpoint ClientEndpoint(const std::vector<LocalNode>& nodes,
                                   const std::string& lb_address) const override {
    if (!lb_address.empty()) return {lb_address, {}, {}};
    std::string bootstrap;
    for (const LocalNode& n : nodes) {
      if (n.kind == "server") bootstrap += (bootstrap.empty() ? "" : ",") + n.Address();
    }
    return {bootstrap, {}, {}};
  }
  Result<std::string> ResolveRole(local::RecipeContext&, const std::string& role) override {
    if (role == "first") return std::string("http-1");
    return InvalidArgument("test-http has no role '" + role + "'");
  }

 private:
  std::string program_;
};

// The same servers, but the helper shares the host of http-2 (as an epmd shares its Erlang
// node's), and Form runs `ip addr` on http-2's host and on the clients' to show where each ran.
class SharedHostRecipe : public HttpRecipe {
 public:
  std::string Broker() const override { return "test-http-shared"; }
  bool SupportsLab() const override { return true; }
  std::vector<local::NodeTemplate> Layout(const ClusterRequest& request) const override {
    std::vector<local::NodeTemplate> out = HttpRecipe::Layout(request);
    out.back().shares_host_with = "http-2";
    return out;
  }
  Status Configure(const ClusterRequest& request, std::vector<LocalNode>& nodes) override {
    configured = nodes;
    return HttpRecipe::Configure(request, nodes);
  }
  Status Form(local::RecipeContext& ctx, int64_t deadline_ns) override {
    RETURN_IF_ERROR(HttpRecipe::Form(ctx, deadline_ns));
    const std::vector<std::string> ip = {"ip", "-o", "-4", "addr", "show"};
    ASSIGN_OR_RETURN(local::ToolOutput on_node,
                     ctx.RunToolOn(ctx.LocalNodes()[1], ip, {}, 10 * kNsPerSec));
    ASSIGN_OR_RETURN(local::ToolOutput on_clients, ctx.RunTool(ip, {}, 10 * kNsPerSec));
    ip_on_node = on_node.output;
    ip_on_clients = on_clients.output;
    return Status::Ok();
  }
  // What the last cluster of this recipe was given and saw (one test at a time).
  static inline std::vector<LocalNode> configured;
  static inline std::string ip_on_node;
  static inline std::string ip_on_clients;
};

class LocalPlatformTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    local::RecipeRegistry().Register("test-http", "test", [] { return std::make_unique<HttpRecipe>(); });
    local::RecipeRegistry().Register("test-missing", "test",
                                     [] { return std::make_unique<HttpRecipe>("no-such-server-drone"); });
    local::RecipeRegistry().Register("test-http-shared", "test",
                                     [] { return std::make_unique<SharedHostRecipe>(); });
  }
  void SetUp() override {
    if (!local::FindExecutable("python3").ok()) GTEST_SKIP() << "python3 is not installed";
  }

  ClusterRequest Request(int nodes = 3) {
    ClusterRequest r;
    r.name = "test";
    r.broker = "test-http";
    r.nodes = nodes;
    return r;
  }

  std::unique_ptr<Platform> platform_ = NewLocalPlatform();
};

char ProcState(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  return stat[close + 2];
}

// An HTTP GET of / through host:port; returns the body ("" on failure).
std::string HttpGet(const std::string& address) {
  auto curl = local::FindExecutable("python3");
  if (!curl.ok()) return "";
  // Through a child process as well, so the test needs no HTTP client library.
  local::ProcessSpec spec;
  spec.name = "get";
  std::string dir = ::testing::TempDir();
  spec.log_path = dir + "/get-" + std::to_string(NowNs()) + ".log";
  spec.argv = {"python3", "-c",
               "import sys, urllib.request\n"
               "print(urllib.request.urlopen('http://' + sys.argv[1] + '/', timeout=5).read().decode(), end='')\n",
               address};
  auto child = local::ChildProcess::Start(spec);
  if (!child.ok() || !(*child)->WaitExit(10 * kNsPerSec)) return "";
  std::string out = (*child)->ExitCode() == 0 ? (*child)->LogTail(4096) : "";
  std::filesystem::remove(spec.log_path);
  return out;
}

TEST_F(LocalPlatformTest, ValidateRejectsUnknownBrokerBadLbAndOptions) {
  ClusterRequest r = Request();
  r.broker = "no-such-broker";
  Status s = platform_->Validate(r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("test-http"), std::string::npos) << "lists what it runs: " << s.message();

  r = Request();
  r.lb = "nginx";
  EXPECT_EQ(platform_->Validate(r).code(), StatusCode::kInvalidArgument);

  r = Request();
  r.options["colour"] = "blue";
  s = platform_->Validate(r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("colour"), std::string::npos);

  r = Request();
  r.options["greeting"] = "hi";
  EXPECT_OK(platform_->Validate(r));
}

TEST_F(LocalPlatformTest, MissingProgramNamesThePackage) {
  ClusterRequest r = Request();
  r.broker = "test-missing";
  Status s = platform_->Validate(r);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("no-such-server-drone is not installed"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("drone-test-no-such-server-drone"), std::string::npos) << s.message();
  auto cluster = platform_->CreateCluster(r);
  EXPECT_FALSE(cluster.ok());
}

TEST_F(LocalPlatformTest, NodesGetTheirOwnAddressesPortsAndProcesses) {
  auto cluster = platform_->CreateCluster(Request());
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  std::vector<NodeInfo> nodes = (*cluster)->Nodes();
  ASSERT_EQ(nodes.size(), 3u) << "helpers are not broker nodes";
  std::set<std::string> hosts;
  for (const NodeInfo& n : nodes) {
    EXPECT_TRUE(n.up);
    EXPECT_GT(n.pid, 0);
    hosts.insert(n.address.substr(0, n.address.find(':')));
    EXPECT_EQ(HttpGet(n.address), n.name) << "each node serves its own directory";
  }
  EXPECT_EQ(hosts.size(), 3u);
  EXPECT_EQ((*cluster)->Endpoint().bootstrap,
            nodes[0].address + "," + nodes[1].address + "," + nodes[2].address);
  ASSERT_OK((*cluster)->Stop());
  for (const NodeInfo& n : nodes) EXPECT_EQ(ProcState(n.pid), 0) << n.name << " is gone";
  ASSERT_OK((*cluster)->Stop());  // idempotent
}

TEST_F(LocalPlatformTest, HelperSharesTheHostOfItsNode) {
  ClusterRequest r = Request();
  r.broker = "test-http-shared";
  auto cluster = platform_->CreateCluster(r);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  const std::vector<LocalNode>& nodes = SharedHostRecipe::configured;
  ASSERT_EQ(nodes.size(), 4u);
  EXPECT_EQ(nodes[3].host, nodes[1].host) << "helper-1 is on http-2's address";
  EXPECT_NE(nodes[3].Port("client"), nodes[1].Port("client"));
  EXPECT_NE(nodes[0].host, nodes[1].host);
  EXPECT_EQ(HttpGet(nodes[3].Address()), "helper-1");
  EXPECT_EQ(HttpGet(nodes[1].Address()), "http-2");
  ASSERT_OK((*cluster)->Stop());
}

TEST_F(LocalPlatformTest, InALabAHelperRunsInItsNodesNamespaceAndToolsRunWhereAsked) {
  const faults::network::KernelSupport& k = faults::network::DetectKernelSupport();
  if (!k.privileged || !k.netns) GTEST_SKIP() << "network namespaces need root";
  ClusterRequest r = Request();
  r.broker = "test-http-shared";
  r.network = "lab";
  r.run_id = "lptest-" + std::to_string(::getpid());
  auto cluster = platform_->CreateCluster(r);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  const faults::network::LabNetwork* lab = (*cluster)->Lab();
  ASSERT_NE(lab, nullptr);
  std::vector<std::string> hosts;
  for (const faults::network::LabHost& h : lab->hosts()) hosts.push_back(h.name);
  EXPECT_EQ(hosts, (std::vector<std::string>{"http-1", "http-2", "http-3", "clients"}))
      << "no host of its own for the helper";
  const std::vector<LocalNode>& nodes = SharedHostRecipe::configured;
  ASSERT_EQ(nodes.size(), 4u);
  EXPECT_EQ(nodes[3].process.netns, nodes[1].process.netns);
  EXPECT_EQ(nodes[3].host, nodes[1].host);
  auto clients = lab->Host("clients");
  ASSERT_TRUE(clients.ok());
  const std::string node_ip = " " + nodes[1].host + "/";
  const std::string clients_ip = " " + (*clients)->address + "/";
  EXPECT_NE(SharedHostRecipe::ip_on_node.find(node_ip), std::string::npos)
      << SharedHostRecipe::ip_on_node;
  EXPECT_EQ(SharedHostRecipe::ip_on_node.find(clients_ip), std::string::npos);
  EXPECT_NE(SharedHostRecipe::ip_on_clients.find(clients_ip), std::string::npos)
      << SharedHostRecipe::ip_on_clients;
  EXPECT_EQ(SharedHostRecipe::ip_on_clients.find(node_ip), std::string::npos);
  ASSERT_OK((*cluster)->Stop());
  auto left = faults::network::ListNetns("drone-" + r.run_id);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

TEST_F(LocalPlatformTest, RunDirectoryIsRemovedOnStop) {
  const std::string tmp = ::testing::TempDir() + "/local-platform-tmp";
  std::filesystem::create_directories(tmp);
  ::setenv("TMPDIR", tmp.c_str(), 1);
  auto cluster = platform_->CreateCluster(Request(1));
  ::unsetenv("TMPDIR");
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(tmp)) ++entries;
  EXPECT_EQ(entries, 1);
  ASSERT_OK((*cluster)->Stop());
  EXPECT_TRUE(std::filesystem::is_empty(tmp));
  std::filesystem::remove_all(tmp);
}

TEST_F(LocalPlatformTest, KillStartStopPauseThroughSignals) {
  auto cluster = platform_->CreateCluster(Request());
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  NodeControl* control = (*cluster)->Control();
  ASSERT_NE(control, nullptr);
  EXPECT_EQ(control->Backend(), "signal");
  NodeInfo before = (*cluster)->Nodes()[1];

  ASSERT_OK(control->Kill("http-2"));
  NodeInfo killed = (*cluster)->Nodes()[1];
  EXPECT_FALSE(killed.up);
  EXPECT_EQ(ProcState(before.pid), 0);
  EXPECT_EQ(HttpGet(before.address), "");
  EXPECT_EQ(control->Kill("http-2").code(), StatusCode::kFailedPrecondition);

  ASSERT_OK(control->Start("http-2", true));
  NodeInfo restarted = (*cluster)->Nodes()[1];
  EXPECT_TRUE(restarted.up);
  EXPECT_NE(restarted.pid, before.pid);
  EXPECT_EQ(restarted.address, before.address) << "same address and port after a restart";
  EXPECT_EQ(HttpGet(restarted.address), "http-2");

  ASSERT_OK(control->Stop("http-3"));
  EXPECT_FALSE((*cluster)->Nodes()[2].up);
  ASSERT_OK(control->Start("http-3", false));
  EXPECT_TRUE((*cluster)->Nodes()[2].up);

  const int64_t pid1 = (*cluster)->Nodes()[0].pid;
  ASSERT_OK(control->Pause("http-1"));
  int64_t deadline = MonotonicNs() + 5 * kNsPerSec;
  while (ProcState(pid1) != 'T' && MonotonicNs() < deadline) SleepUntilNs(NowNs() + kNsPerMs);
  EXPECT_EQ(ProcState(pid1), 'T');
  ASSERT_OK(control->Resume("http-1"));
  EXPECT_EQ(HttpGet((*cluster)->Nodes()[0].address), "http-1");

  EXPECT_EQ(control->Kill("http-9").code(), StatusCode::kNotFound);
  ASSERT_OK((*cluster)->Stop());
}

TEST_F(LocalPlatformTest, ResolvesTargets) {
  auto cluster = platform_->CreateCluster(Request());
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  NodeControl* control = (*cluster)->Control();
  Result<std::string> by_name = control->ResolveTarget("helper-1", 1);
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(*by_name, "helper-1") << "helper processes are fault targets too";
  Result<std::string> role = control->ResolveTarget("first", 1);
  ASSERT_TRUE(role.ok());
  EXPECT_EQ(*role, "http-1");
  Result<std::string> r1 = control->ResolveTarget("random", 7);
  Result<std::string> r2 = control->ResolveTarget("random", 7);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(*r1, *r2) << "seeded";
  EXPECT_EQ(r1->rfind("http-", 0), 0u) << "random picks a broker node";
  Result<std::string> minority = control->ResolveTarget("minority", 1);
  ASSERT_TRUE(minority.ok());
  EXPECT_EQ(minority->find(','), std::string::npos) << "one of three is the minority: " << *minority;
  // A killed node is no candidate for random.
  ASSERT_OK(control->Kill("http-1"));
  ASSERT_OK(control->Kill("http-2"));
  for (uint64_t seed = 0; seed < 8; ++seed) {
    Result<std::string> r = control->ResolveTarget("random", seed);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, "http-3");
  }
  Result<std::string> unknown = control->ResolveTarget("leader-of-the-pack", 1);
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("http-1"), std::string::npos) << "lists the nodes";
  ASSERT_OK((*cluster)->Stop());
}

TEST_F(LocalPlatformTest, FiveNodesHaveAMinorityOfTwo) {
  auto cluster = platform_->CreateCluster(Request(5));
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  Result<std::string> minority = (*cluster)->Control()->ResolveTarget("minority", 1);
  ASSERT_TRUE(minority.ok());
  EXPECT_EQ(std::count(minority->begin(), minority->end(), ','), 1) << *minority;
  ASSERT_OK((*cluster)->Stop());
}

TEST_F(LocalPlatformTest, HaproxyFrontsTheNodes) {
  if (!local::FindExecutable("haproxy").ok()) GTEST_SKIP() << "haproxy is not installed";
  ClusterRequest r = Request();
  r.lb = "haproxy";
  auto cluster = platform_->CreateCluster(r);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  const std::string lb = (*cluster)->Endpoint().bootstrap;
  EXPECT_EQ(lb.find(','), std::string::npos) << "clients get the one front-end address: " << lb;
  // Round robin over the three nodes: three requests reach three different nodes.
  std::set<std::string> served;
  for (int i = 0; i < 3; ++i) served.insert(HttpGet(lb));
  EXPECT_EQ(served, (std::set<std::string>{"http-1", "http-2", "http-3"}));
  // With one node killed the front end still serves (health checks take it out).
  ASSERT_OK((*cluster)->Control()->Kill("http-1"));
  int ok = 0;
  for (int i = 0; i < 4; ++i) {
    std::string body = HttpGet(lb);
    if (body == "http-2" || body == "http-3") ++ok;
  }
  EXPECT_GE(ok, 2);
  ASSERT_OK((*cluster)->Stop());
  EXPECT_FALSE(local::CanConnect("127.0.0.1", std::stoi(lb.substr(lb.find(':') + 1)), 200 * kNsPerMs));
}

}  // namespace
}  // namespace drone::platforms
