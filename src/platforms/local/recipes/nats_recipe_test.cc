// A real 3-node NATS JetStream cluster on the local platform: formed, a replicated stream on it,
// the leader role resolved from the stream's replica group, and the stream surviving the loss of
// that leader. Skips when nats-server is not installed.
#include "platforms/local/recipes/nats_recipe.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "core/clock.h"
#include "core/testutil.h"
#include "drivers/nats/nats_driver.h"
#include "faults/network/proxy_network.h"
#include "platforms/local/child_process.h"
#include "platforms/local/local_platform.h"

namespace drone::platforms::local {
namespace {

class Acks : public drivers::DeliveryHandler {
 public:
  void OnDelivery(const drivers::Delivery& d) override {
    acked += d.outcome == drivers::Outcome::kAck ? 1 : 0;
  }
  int acked = 0;
};

TEST(NatsRecipeTest, ValidatesNodesAndOptions) {
  auto recipe = NewNatsRecipe();
  ClusterRequest r;
  r.broker = "nats";
  r.nodes = 3;
  EXPECT_OK(recipe->Validate(r));
  r.nodes = 0;
  EXPECT_EQ(recipe->Validate(r).code(), StatusCode::kInvalidArgument);
  r.nodes = 3;
  r.options["replicas"] = "3";
  Status s = recipe->Validate(r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("replicas"), std::string::npos) << s.message();
}

TEST(NatsRecipeTest, ThreeNodeJetStreamClusterSurvivesTheLossOfTheStreamLeader) {
  if (!FindExecutable("nats-server").ok()) GTEST_SKIP() << "nats-server is not installed";
  auto platform = NewLocalPlatform();
  ClusterRequest r;
  r.name = "natstest";
  r.broker = "nats";
  r.nodes = 3;
  auto cluster = platform->CreateCluster(r);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  std::vector<NodeInfo> nodes = (*cluster)->Nodes();
  ASSERT_EQ(nodes.size(), 3u);
  std::set<std::string> roles;
  for (const NodeInfo& n : nodes) roles.insert(n.role);
  EXPECT_EQ(roles, (std::set<std::string>{"meta_leader", "follower"}));

  ASSERT_OK((*cluster)->CreateTopic(drivers::TopicRequest{"orders", 1, 3, {}}));
  const std::string bootstrap = (*cluster)->Endpoint().bootstrap;
  Result<std::string> stream_leader = drivers::NatsJetStreamLeader(bootstrap, "orders", 5 * kNsPerSec);
  ASSERT_TRUE(stream_leader.ok()) << stream_leader.status().ToString();
  NodeControl* control = (*cluster)->Control();
  ASSERT_NE(control, nullptr);
  Result<std::string> leader = control->ResolveTarget("leader", 1);
  ASSERT_TRUE(leader.ok()) << leader.status().ToString();
  EXPECT_EQ(*leader, *stream_leader) << "the leader role is the stream's leader";
  EXPECT_EQ(control->ResolveTarget("duke", 1).status().code(), StatusCode::kInvalidArgument);

  ASSERT_OK(control->Kill(*leader));
  // A new leader is elected among the two left; the stream takes writes again.
  Result<std::string> next = Unavailable("not asked");
  for (int64_t deadline = MonotonicNs() + 20 * kNsPerSec; MonotonicNs() < deadline;) {
    next = drivers::NatsJetStreamLeader(bootstrap, "orders", kNsPerSec);
    if (next.ok() && *next != *leader) break;
  }
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_NE(*next, *leader);
  auto driver = drivers::NewNatsDriver();
  Acks acks;
  drivers::ProducerOptions po;
  po.topic = "orders";
  auto producer = driver->NewProducer((*cluster)->Endpoint(), po, acks);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  for (uint64_t i = 0; i < 20; ++i) ASSERT_OK((*producer)->Send(0, "", "x", i));
  EXPECT_EQ((*producer)->Flush(10 * kNsPerSec), 0u);
  EXPECT_EQ(acks.acked, 20);
  ASSERT_OK(control->Start(*leader, false));  // waits until it is ready again
  ASSERT_OK((*cluster)->Stop());
  for (const NodeInfo& n : nodes) EXPECT_NE(::kill(static_cast<pid_t>(n.pid), 0), 0) << n.name;
}

// network: proxy — the clients get the proxies, and every route between two nodes goes through
// one of the two peer-link proxies of the pair (none around them, though gossip names every
// node's route address).
TEST(NatsRecipeTest, InNetworkProxyClientsAndRoutesGoThroughTheProxies) {
  if (!FindExecutable("nats-server").ok()) GTEST_SKIP() << "nats-server is not installed";
  auto platform = NewLocalPlatform();
  ClusterRequest r;
  r.name = "natsproxy";
  r.broker = "nats";
  r.nodes = 3;
  r.network = "proxy";
  auto cluster = platform->CreateCluster(r);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  faults::network::ProxyNetwork* proxies = (*cluster)->Proxies();
  ASSERT_NE(proxies, nullptr);
  ASSERT_TRUE(proxies->HasPeerLinks());
  const std::string bootstrap = (*cluster)->Endpoint().bootstrap;
  for (const NodeInfo& n : (*cluster)->Nodes()) {
    EXPECT_EQ(n.address, proxies->Address(n.name).value());
    EXPECT_NE(bootstrap.find(n.address), std::string::npos) << bootstrap;
  }
  const std::vector<std::string> names = proxies->Hosts();
  auto open = [&](const std::string& a, const std::string& b) {
    return proxies->Stats(faults::network::PeerLinkKey(a, b)).value().open;
  };
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = i + 1; j < names.size(); ++j) {
      // Formed means routed (a meta leader is known), but the proxies count after their loop turn.
      uint64_t routes = 0;
      for (int64_t deadline = MonotonicNs() + 5 * kNsPerSec; MonotonicNs() < deadline;) {
        routes = open(names[i], names[j]) + open(names[j], names[i]);
        if (routes > 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      EXPECT_GE(routes, 1u) << names[i] << " <-> " << names[j] << " bypassed its proxies";
    }
  }
  ASSERT_OK((*cluster)->CreateTopic(drivers::TopicRequest{"orders", 1, 3, {}}));
  ASSERT_OK((*cluster)->Stop());
  EXPECT_FALSE(proxies->Address(names[0]).ok()) << "the proxies stop with the cluster";
}

}  // namespace
}  // namespace drone::platforms::local
