#include "platforms/embedded/embedded_kafka.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <map>

#include "core/clock.h"
#include "core/testutil.h"
#include "faults/network/command.h"
#include "faults/network/lab_network.h"
#include "platforms/builtin_platforms.h"
#include "platforms/local/loopback.h"

namespace drone::platforms {
namespace {

// Partition leaders as a client sees them in metadata (one request; may come back empty while a
// new client is still connecting).
std::map<int, int> LeadersOnce(const std::string& bootstrap, const std::string& topic) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  std::map<int, int> leaders;
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
      leaders[p] = md->topics[0].partitions[p].leader;
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return leaders;
}

// Asks until the topic's metadata lists every partition (bounded: 20 s).
std::map<int, int> Leaders(const std::string& bootstrap, const std::string& topic,
                           size_t partitions = 6) {
  std::map<int, int> leaders;
  int64_t deadline = MonotonicNs() + 20 * kNsPerSec;
  while (MonotonicNs() < deadline) {
    leaders = LeadersOnce(bootstrap, topic);
    if (leaders.size() == partitions) break;
  }
  return leaders;
}

class EmbeddedKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto platform = PlatformRegistry().Create("embedded");
    ASSERT_OK(platform.status());
    auto cluster = (*platform)->CreateCluster(ClusterRequest{"c", "kafka", 3, ""});
    ASSERT_OK(cluster.status());
    cluster_ = std::move(cluster).value();
  }
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(EmbeddedKafkaTest, ReportsNodesAndBootstrap) {
  std::vector<NodeInfo> nodes = cluster_->Nodes();
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].name, "broker-1");
  EXPECT_EQ(nodes[2].id, 3);
  std::string bootstrap = cluster_->Endpoint().bootstrap;
  for (const NodeInfo& n : nodes) {
    EXPECT_EQ(n.address.rfind("127.0.0.1:", 0), 0u) << n.address;
    EXPECT_NE(bootstrap.find(n.address), std::string::npos);
  }
}

TEST_F(EmbeddedKafkaTest, CreatesTopicsOnceAndChecksReplication) {
  ASSERT_OK(cluster_->CreateTopic({"orders", 6, 3, {}}));
  EXPECT_EQ(cluster_->CreateTopic({"orders", 6, 3, {}}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(cluster_->CreateTopic({"wide", 1, 4, {}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Leaders(cluster_->Endpoint().bootstrap, "orders").size(), 6u);
}

TEST_F(EmbeddedKafkaTest, KillMovesLeadershipAndFailbackRestoresIt) {
  ASSERT_OK(cluster_->CreateTopic({"orders", 6, 3, {}}));
  const std::string bootstrap = cluster_->Endpoint().bootstrap;
  std::map<int, int> before = Leaders(bootstrap, "orders");
  int led_by_2 = 0;
  for (const auto& [p, leader] : before) led_by_2 += leader == 2;
  // Leaders are spread round-robin: partition p is led by broker p mod 3 + 1.
  for (const auto& [p, leader] : before) EXPECT_EQ(leader, p % 3 + 1) << "partition " << p;
  ASSERT_EQ(led_by_2, 2);

  NodeControl* control = cluster_->Control();
  ASSERT_NE(control, nullptr);
  ASSERT_OK(control->Kill("broker-2"));
  EXPECT_FALSE(cluster_->Nodes()[1].up);
  EXPECT_EQ(control->Kill("broker-2").code(), StatusCode::kFailedPrecondition);
  std::map<int, int> during = Leaders(bootstrap, "orders");
  for (const auto& [p, leader] : during) EXPECT_NE(leader, 2) << "partition " << p;

  ASSERT_OK(control->Start("broker-2", /*failback=*/true));
  EXPECT_EQ(Leaders(bootstrap, "orders"), before);
}

TEST_F(EmbeddedKafkaTest, WithoutFailbackLeadershipStaysMoved) {
  ASSERT_OK(cluster_->CreateTopic({"orders", 6, 3, {}}));
  NodeControl* control = cluster_->Control();
  ASSERT_OK(control->Kill("broker-1"));
  ASSERT_OK(control->Start("broker-1", /*failback=*/false));
  for (const auto& [p, leader] : Leaders(cluster_->Endpoint().bootstrap, "orders")) {
    EXPECT_NE(leader, 1) << "partition " << p;
  }
}

TEST_F(EmbeddedKafkaTest, ResolvesTargets) {
  ASSERT_OK(cluster_->CreateTopic({"orders", 3, 3, {}}));
  NodeControl* control = cluster_->Control();
  EXPECT_EQ(control->ResolveTarget("broker-3", 1).value(), "broker-3");
  EXPECT_EQ(control->ResolveTarget("2", 1).value(), "broker-2");
  EXPECT_EQ(control->ResolveTarget("random", 7).value(), control->ResolveTarget("random", 7).value());
  auto leader = control->ResolveTarget("leader", 1);
  ASSERT_OK(leader.status());
  EXPECT_EQ(leader->rfind("broker-", 0), 0u);
  auto missing = control->ResolveTarget("broker-9", 1);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("broker-1, broker-2, broker-3"), std::string::npos);
}

TEST(EmbeddedPlatformTest, ValidatesRequests) {
  auto platform = NewEmbeddedPlatform();
  EXPECT_OK(platform->Validate({"c", "kafka", 3, ""}));
  EXPECT_EQ(platform->Validate({"c", "rabbitmq", 3, ""}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(platform->Validate({"c", "kafka", 0, ""}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(platform->Validate({"c", "kafka", 17, ""}).code(), StatusCode::kInvalidArgument);
}

// network: lab — every broker a lab host, the clients in one more; a client in the clients'
// host reaches the mock at the addresses it advertises, and only there.
TEST(EmbeddedKafkaLabTest, ClientsReachTheBrokersThroughTheLab) {
  const faults::network::KernelSupport& k = faults::network::DetectKernelSupport();
  if (!k.privileged || !k.netns) GTEST_SKIP() << "network namespaces need root";
  auto platform = PlatformRegistry().Create("embedded");
  ASSERT_OK(platform.status());
  ClusterRequest request{"c", "kafka", 3, ""};
  request.network = "lab";
  request.run_id = "ektest-" + std::to_string(::getpid());
  auto made = (*platform)->CreateCluster(request);
  ASSERT_OK(made.status());
  std::unique_ptr<Cluster> cluster = std::move(made).value();
  const faults::network::LabNetwork* lab = cluster->Lab();
  ASSERT_NE(lab, nullptr);
  std::vector<std::string> hosts;
  for (const faults::network::LabHost& h : lab->hosts()) hosts.push_back(h.name);
  EXPECT_EQ(hosts, (std::vector<std::string>{"broker-1", "broker-2", "broker-3", "clients"}));
  EXPECT_EQ(cluster->ClientNetns(), faults::network::LabNamespaceName(lab->run_id(), "clients"));
  std::vector<NodeInfo> nodes = cluster->Nodes();
  ASSERT_EQ(nodes.size(), 3u);
  for (size_t i = 0; i < nodes.size(); ++i) {
    EXPECT_EQ(nodes[i].address.substr(0, nodes[i].address.find(':')), lab->hosts()[i].address);
  }
  ASSERT_OK(cluster->CreateTopic({"orders", 3, 3, {}}));
  std::map<int, int> seen;
  ASSERT_OK(faults::network::WithNetns(cluster->ClientNetns(), [&] {
    seen = Leaders(cluster->Endpoint().bootstrap, "orders", 3);
    return Status::Ok();
  }));
  EXPECT_EQ(seen.size(), 3u) << "metadata through the lab, from the clients' host";
  // The brokers' lab addresses exist inside the lab only.
  const std::string& address = nodes[0].address;
  EXPECT_FALSE(local::CanConnect(address.substr(0, address.find(':')),
                                 std::stoi(address.substr(address.find(':') + 1)), 200 * kNsPerMs));
  ASSERT_OK(cluster->Stop());
  auto left = faults::network::ListNetns("drone-" + request.run_id);
  ASSERT_OK(left.status());
  EXPECT_TRUE(left->empty()) << "the lab is gone with the cluster";
}

}  // namespace
}  // namespace drone::platforms
