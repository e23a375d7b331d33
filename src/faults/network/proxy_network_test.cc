#include "faults/network/proxy_network.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/testutil.h"
#include "faults/network/proxy_fault.h"
#include "faults/network/tcp_echo_test_util.h"

namespace drone::faults::network {
namespace {

using nlohmann::json;

Impairment Imp(const json& j) { return Impairment::FromJson(j).value(); }

const std::vector<std::string> kNodes = {"nats-1", "nats-2", "nats-3"};

TEST(PlanProxyImpairmentsTest, ClientsToNodesIsEachNodesUpDirection) {
  std::vector<Impairment> imps;
  for (const std::string& n : kNodes) {
    imps.push_back(Imp({{"from", "clients"}, {"to", n}, {"delay", "100ms"}}));
  }
  auto plan = PlanProxyImpairments(imps, kNodes);
  ASSERT_OK(plan.status());
  ASSERT_EQ(plan->size(), 3u);
  for (const std::string& n : kNodes) {
    const ProxyDirections& d = plan->at(n);
    ASSERT_TRUE(d.up.delay.has_value());
    EXPECT_EQ(d.up.delay->time_ns, 100'000'000);
    EXPECT_TRUE(d.up.target.from.empty()) << "targets are dropped";
    EXPECT_TRUE(d.down.Empty());
  }
}

TEST(PlanProxyImpairmentsTest, NodeToClientsIsTheDownDirectionAndEndpointsAreBoth) {
  auto plan = PlanProxyImpairments({Imp({{"from", "nats-2"}, {"to", "clients"}, {"rate", "1mbit"}}),
                                    Imp({{"endpoint", "nats-3"}, {"blackhole", true}})},
                                   kNodes);
  ASSERT_OK(plan.status());
  EXPECT_EQ(plan->count("nats-1"), 0u);
  EXPECT_TRUE(plan->at("nats-2").up.Empty());
  ASSERT_TRUE(plan->at("nats-2").down.rate.has_value());
  EXPECT_TRUE(plan->at("nats-3").up.blackhole);
  EXPECT_TRUE(plan->at("nats-3").down.blackhole);

  auto all = PlanProxyImpairments({Imp({{"endpoint", "clients"}, {"reset", true}})}, kNodes);
  ASSERT_OK(all.status());
  ASSERT_EQ(all->size(), 3u);
  for (const auto& [node, d] : *all) EXPECT_TRUE(d.up.reset && d.down.reset) << node;
}

TEST(PlanProxyImpairmentsTest, RefusesWhatNoProxyCarries) {
  auto between = PlanProxyImpairments({Imp({{"from", "nats-1"}, {"to", "nats-2"}, {"delay", "5ms"}})},
                                      kNodes);
  ASSERT_FALSE(between.ok());
  EXPECT_NE(between.status().message().find("does not pass through a proxy"), std::string::npos);
  EXPECT_NE(between.status().message().find("lab network"), std::string::npos);

  auto loss = PlanProxyImpairments({Imp({{"endpoint", "nats-1"}, {"loss", "5%"}})}, kNodes);
  ASSERT_FALSE(loss.ok());
  EXPECT_NE(loss.status().message().find("loss"), std::string::npos);
  EXPECT_NE(loss.status().message().find("lab network"), std::string::npos);

  auto unknown = PlanProxyImpairments({Imp({{"endpoint", "kafka-9"}, {"delay", "5ms"}})}, kNodes);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("kafka-9"), std::string::npos);

  auto twice = PlanProxyImpairments({Imp({{"endpoint", "clients"}, {"delay", "5ms"}}),
                                     Imp({{"from", "clients"}, {"to", "nats-1"}, {"delay", "9ms"}})},
                                    kNodes);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("two different impairments"), std::string::npos);
}

TEST(PlanProxyPartitionTest, IsolatingANodeBlackholesItsProxyAndKeepsBrokerLinksInTheRecord) {
  auto spec = PartitionSpec::FromJson({{"partition", "isolate"}, {"nodes", {"nats-2"}}});
  ASSERT_OK(spec.status());
  auto blocked = Resolve(*spec, {"nats-1", "nats-2", "nats-3", "clients"});
  ASSERT_OK(blocked.status());
  auto plan = PlanProxyPartition(*blocked, kNodes);
  ASSERT_OK(plan.status());
  ASSERT_EQ(plan->proxies.size(), 1u);
  EXPECT_TRUE(plan->proxies.at("nats-2").up.blackhole);
  EXPECT_TRUE(plan->proxies.at("nats-2").down.blackhole);
  // nats-2 <-> nats-1 and nats-2 <-> nats-3, both ways: the routes are not proxied.
  EXPECT_EQ(plan->uncut.size(), 4u);
}

TEST(PlanProxyPartitionTest, OneWayCutsOneDirectionAndBrokerOnlyShapesAreRefused) {
  auto one_way = PlanProxyPartition({{"nats-1", "clients"}}, kNodes);
  ASSERT_OK(one_way.status());
  EXPECT_TRUE(one_way->proxies.at("nats-1").down.blackhole);
  EXPECT_FALSE(one_way->proxies.at("nats-1").up.blackhole);

  auto brokers = PlanProxyPartition({{"nats-1", "nats-2"}, {"nats-2", "nats-1"}}, kNodes);
  ASSERT_FALSE(brokers.ok());
  EXPECT_NE(brokers.status().message().find("only links between brokers"), std::string::npos);
}

TEST(PlanProxyPeerLinksTest, LinksBetweenNodesUseThePeerLinkProxiesOfBothEnds) {
  auto plan = PlanProxyImpairments({Imp({{"from", "nats-1"}, {"to", "nats-2"}, {"delay", "5ms"}})},
                                   kNodes, /*peer_links=*/true);
  ASSERT_OK(plan.status());
  ASSERT_EQ(plan->size(), 2u);
  // The route may be the one nats-1 opened (through nats-1->nats-2) or the one nats-2 opened.
  EXPECT_TRUE(plan->at("nats-1->nats-2").up.delay.has_value());
  EXPECT_TRUE(plan->at("nats-1->nats-2").down.Empty());
  EXPECT_TRUE(plan->at("nats-2->nats-1").down.delay.has_value());
  EXPECT_TRUE(plan->at("nats-2->nats-1").up.Empty());

  auto endpoint = PlanProxyImpairments({Imp({{"endpoint", "nats-3"}, {"rate", "1mbit"}})}, kNodes, true);
  ASSERT_OK(endpoint.status());
  EXPECT_EQ(endpoint->size(), 5u);  // its clients' proxy and its four peer links
  for (const char* key : {"nats-3", "nats-3->nats-1", "nats-1->nats-3", "nats-3->nats-2", "nats-2->nats-3"}) {
    ASSERT_EQ(endpoint->count(key), 1u) << key;
    EXPECT_TRUE(endpoint->at(key).up.rate && endpoint->at(key).down.rate) << key;
  }
}

TEST(PlanProxyPeerLinksTest, PartitionsCutThePeerLinksAndBrokerOnlyShapesWork) {
  auto spec = PartitionSpec::FromJson({{"partition", "isolate"}, {"nodes", {"nats-2"}}});
  ASSERT_OK(spec.status());
  auto blocked = Resolve(*spec, {"nats-1", "nats-2", "nats-3", "clients"});
  ASSERT_OK(blocked.status());
  auto plan = PlanProxyPartition(*blocked, kNodes, /*peer_links=*/true);
  ASSERT_OK(plan.status());
  EXPECT_TRUE(plan->uncut.empty());
  for (const char* key : {"nats-2", "nats-2->nats-1", "nats-1->nats-2", "nats-2->nats-3", "nats-3->nats-2"}) {
    ASSERT_EQ(plan->proxies.count(key), 1u) << key;
    EXPECT_TRUE(plan->proxies.at(key).up.blackhole && plan->proxies.at(key).down.blackhole) << key;
  }
  EXPECT_EQ(plan->proxies.count("nats-1->nats-3"), 0u);

  // One way: what nats-1 sends to nats-3 is cut, on whichever route carries it.
  auto one_way = PlanProxyPartition({{"nats-1", "nats-3"}}, kNodes, true);
  ASSERT_OK(one_way.status());
  EXPECT_TRUE(one_way->proxies.at("nats-1->nats-3").up.blackhole);
  EXPECT_FALSE(one_way->proxies.at("nats-1->nats-3").down.blackhole);
  EXPECT_TRUE(one_way->proxies.at("nats-3->nats-1").down.blackhole);
  EXPECT_FALSE(one_way->proxies.at("nats-3->nats-1").up.blackhole);
}

int Connect(const std::string& address) { return ConnectTcp(address); }

// Sends 4 bytes and waits up to `timeout_ns` for the echo: the round trip in ns, -1 when nothing
// came back in time, -2 when the connection was reset or closed.
int64_t Echo(int fd, int64_t timeout_ns) {
  const int64_t t0 = MonotonicNs();
  if (::send(fd, "ping", 4, MSG_NOSIGNAL) != 4) return -2;
  int got = 0;
  char buf[16];
  while (got < 4) {
    const int64_t left = t0 + timeout_ns - MonotonicNs();
    if (left <= 0) return -1;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left / 1'000'000) + 1) <= 0) continue;
    const ssize_t r = ::recv(fd, buf, sizeof(buf), 0);
    if (r <= 0) return -2;
    got += static_cast<int>(r);
  }
  return MonotonicNs() - t0;
}

class ProxyNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto net = ProxyNetwork::Start({{"nats-1", "127.0.1.2:0", echo_.address(), ""},
                                    {"nats-2", "127.0.1.3:0", echo_.address(), ""},
                                    {"nats-2", "127.0.2.2:0", echo_.address(), "nats-1"}});
    ASSERT_OK(net.status());
    net_ = std::move(*net);
  }
  std::string Address(const std::string& node) { return net_->Address(node).value(); }

  EchoServer echo_;
  std::unique_ptr<ProxyNetwork> net_;
};

TEST_F(ProxyNetworkTest, EachNodeHasAPassThroughProxyOnItsOwnAddress) {
  EXPECT_EQ(net_->Hosts(), (std::vector<std::string>{"nats-1", "nats-2"}));
  EXPECT_TRUE(net_->HasPeerLinks());
  EXPECT_EQ(Address("nats-1->nats-2").rfind("127.0.2.2:", 0), 0u);
  EXPECT_EQ(Address("nats-1").rfind("127.0.1.2:", 0), 0u) << Address("nats-1");
  EXPECT_EQ(Address("nats-2").rfind("127.0.1.3:", 0), 0u) << Address("nats-2");
  EXPECT_FALSE(net_->Address("nats-9").ok());
  const int fd = Connect(Address("nats-1"));
  ASSERT_GE(fd, 0);
  EXPECT_GT(Echo(fd, 5 * kNsPerSec), 0);
  ::close(fd);
  const json j = net_->ToJson();
  EXPECT_EQ(j["nats-1"]["upstream"], echo_.address());
  EXPECT_EQ(j["nats-1"]["connections"], 1);
}

TEST_F(ProxyNetworkTest, ADelayFaultSlowsOnlyItsNodeAndHealsBackToPassThrough) {
  auto plan = PlanProxyImpairments({Imp({{"from", "clients"}, {"to", "nats-1"}, {"delay", "100ms"}})},
                                   net_->Hosts());
  ASSERT_OK(plan.status());
  ProxyFault fault(*net_, "impair", "clients -> nats-1", *plan, json::object());
  EXPECT_EQ(fault.Backend(), "tcp-proxy");
  const int one = Connect(Address("nats-1"));
  const int two = Connect(Address("nats-2"));
  ASSERT_GE(one, 0);
  ASSERT_GE(two, 0);
  ASSERT_OK(fault.Inject());
  EXPECT_GE(Echo(one, 5 * kNsPerSec), 100'000'000) << "the open connection is delayed";
  const int64_t other = Echo(two, 5 * kNsPerSec);
  EXPECT_GT(other, 0);
  EXPECT_LT(other, 100'000'000) << "nats-2's proxy was not touched";
  ASSERT_OK(fault.Heal());
  EXPECT_TRUE(net_->Get("nats-1").value().up.Empty());
  EXPECT_GT(Echo(one, 5 * kNsPerSec), 0) << "a delay's heal keeps the connection";
  ::close(one);
  ::close(two);
  ASSERT_OK(fault.Heal());  // idempotent
}

TEST_F(ProxyNetworkTest, APartitionBlackholesTheNodeAndItsHealResetsTheSilencedConnections) {
  auto spec = PartitionSpec::FromJson({{"partition", "isolate"}, {"nodes", {"nats-2"}}});
  ASSERT_OK(spec.status());
  auto blocked = Resolve(*spec, {"nats-1", "nats-2", "clients"});
  ASSERT_OK(blocked.status());
  auto plan = PlanProxyPartition(*blocked, net_->Hosts());
  ASSERT_OK(plan.status());
  ProxyFault fault(*net_, "partition", "isolate nats-2", plan->proxies, spec->ToJson(), plan->uncut);
  const int cut = Connect(Address("nats-2"));
  ASSERT_GE(cut, 0);
  EXPECT_GT(Echo(cut, 5 * kNsPerSec), 0);
  ASSERT_OK(fault.Inject());
  EXPECT_EQ(Echo(cut, 300'000'000), -1) << "nothing comes back through the blackhole";
  const int other = Connect(Address("nats-1"));
  ASSERT_GE(other, 0);
  EXPECT_GT(Echo(other, 5 * kNsPerSec), 0) << "nats-1 is not cut off";
  const json details = fault.Details();
  EXPECT_EQ(details["proxies"]["nats-2"]["open_at_inject"], 1);
  EXPECT_EQ(details["not_cut"].size(), 2u);
  ASSERT_OK(fault.Heal());
  EXPECT_EQ(Echo(cut, 5 * kNsPerSec), -2) << "the stream lost bytes: the heal resets it";
  const json seen = fault.HealDetails();
  EXPECT_GE(seen["nats-2"]["bytes_blackholed"].get<int64_t>(), 4);
  const int again = Connect(Address("nats-2"));
  ASSERT_GE(again, 0);
  EXPECT_GT(Echo(again, 5 * kNsPerSec), 0) << "a new connection after the heal goes through";
  ::close(cut);
  ::close(other);
  ::close(again);
}

TEST_F(ProxyNetworkTest, StopEndsEveryConnectionAndIsIdempotent) {
  const int fd = Connect(Address("nats-1"));
  ASSERT_GE(fd, 0);
  EXPECT_GT(Echo(fd, 5 * kNsPerSec), 0);
  net_->Stop();
  EXPECT_EQ(Echo(fd, 5 * kNsPerSec), -2);
  EXPECT_FALSE(net_->Address("nats-1").ok());
  EXPECT_FALSE(net_->Set("nats-1", {}).ok());
  net_->Stop();
  ::close(fd);
}

}  // namespace
}  // namespace drone::faults::network
