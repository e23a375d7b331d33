#include "platforms/kubernetes/pod_roles.h"

#include <gtest/gtest.h>

#include <map>

namespace drone::platforms::kubernetes {
namespace {

// Answers exec calls from a table (pod -> stdout) and records them.
struct FakePods {
  std::map<std::string, Result<std::string>> answers;
  std::vector<std::tuple<std::string, std::string, Argv>> calls;
  PodExec Exec() {
    return [this](const std::string& pod, const std::string& container,
                  const Argv& argv) -> Result<std::string> {
      calls.emplace_back(pod, container, argv);
      auto it = answers.find(pod);
      if (it == answers.end()) return Unavailable("error: unable to upgrade connection");
      return it->second;
    };
  }
};

size_t Ok(Result<size_t> r) {
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : 99;
}

PodIp NoIp() {
  return [](const std::string&) -> Result<std::string> { return NotFound("no ip"); };
}

RoleCluster Cluster(const std::string& broker, const std::string& container) {
  RoleCluster c;
  c.broker = broker;
  c.pods = {"cluster-0", "cluster-1", "cluster-2"};
  c.broker_container = container;
  return c;
}

TEST(PodRolesTest, KafkaLeaderIsPartitionZerosLeaderOfTheFirstTopic) {
  RoleCluster c = Cluster("kafka", "kafka");
  c.topics = {"orders", "audit"};
  c.up = {false, true, true};  // cluster-0 is down: not asked
  FakePods pods;
  pods.answers.emplace("cluster-1", std::string("\tTopic: orders\tPartition: 0\tLeader: 2\tReplicas: 2,0,1\n"));
  auto node = ResolveRoleNode(c, "leader", pods.Exec(), NoIp());
  ASSERT_TRUE(node.ok()) << node.status().message();
  EXPECT_EQ(*node, 2u);
  ASSERT_EQ(pods.calls.size(), 1u);
  EXPECT_EQ(std::get<0>(pods.calls[0]), "cluster-1");
  EXPECT_EQ(std::get<2>(pods.calls[0]),
            (Argv{"/opt/kafka/bin/kafka-topics.sh", "--bootstrap-server", "localhost:9092",
                  "--describe", "--topic", "orders"}));
  // A named topic; and none at all is the flow's to fix.
  pods.answers.clear();
  pods.answers.emplace("cluster-1", std::string("\tTopic: audit\tPartition: 0\tLeader: 1\tReplicas: 1\n"));
  EXPECT_EQ(Ok(ResolveRoleNode(c, "leader:audit", pods.Exec(), NoIp())), 1u);
  c.topics.clear();
  auto no_topic = ResolveRoleNode(c, "leader", pods.Exec(), NoIp());
  ASSERT_FALSE(no_topic.ok());
  EXPECT_EQ(no_topic.status().code(), StatusCode::kFailedPrecondition);
}

TEST(PodRolesTest, RabbitmqLeaderIsTheQuorumQueueLeadersPod) {
  RoleCluster c = Cluster("rabbitmq", "rabbitmq");
  FakePods pods;
  // cluster-0 cannot answer; cluster-1 does.
  pods.answers.emplace(
      "cluster-1",
      std::string(R"([{"name":"orders","type":"quorum","leader":"rabbit@cluster-2.cluster-headless.drone-r.svc.cluster.local"}])"));
  auto node = ResolveRoleNode(c, "leader", pods.Exec(), NoIp());
  ASSERT_TRUE(node.ok()) << node.status().message();
  EXPECT_EQ(*node, 2u);
  ASSERT_EQ(pods.calls.size(), 2u);
  EXPECT_EQ(std::get<1>(pods.calls[1]), "rabbitmq");
  EXPECT_EQ(std::get<2>(pods.calls[1]), RabbitmqListQueuesArgs());
}

TEST(PodRolesTest, NatsLeaderIsTheStreamLeaderElseTheMetaLeader) {
  RoleCluster c = Cluster("nats", "nats");
  FakePods pods;
  pods.answers.emplace("cluster-0", std::string(R"({"meta_cluster":{"leader":"cluster-1"},
      "account_details":[{"stream_detail":[{"name":"orders","cluster":{"leader":"cluster-2"}}]}]})"));
  EXPECT_EQ(Ok(ResolveRoleNode(c, "leader", pods.Exec(), NoIp())), 2u);
  EXPECT_EQ(Ok(ResolveRoleNode(c, "meta_leader", pods.Exec(), NoIp())), 1u);
  EXPECT_EQ(std::get<2>(pods.calls[0]),
            (Argv{"wget", "-q", "-O", "-", "http://127.0.0.1:8222/jsz?streams=true"}));
}

TEST(PodRolesTest, RedisPrimaryComesFromASentinelByNameOrByIp) {
  RoleCluster c;
  c.broker = "redis";
  c.pods = {"cluster-primary-0", "cluster-replica-0", "cluster-replica-1"};
  c.broker_container = "redis";
  c.sentinel_pods = {"cluster-sentinel-0", "cluster-sentinel-1"};
  c.sentinel_container = "sentinel";
  c.sentinel_master = "drone";
  FakePods pods;
  pods.answers.emplace("cluster-sentinel-0",
                       std::string("cluster-replica-1.cluster-headless.drone-r.svc.cluster.local\n6379\n"));
  EXPECT_EQ(Ok(ResolveRoleNode(c, "primary", pods.Exec(), NoIp())), 2u);
  EXPECT_EQ(std::get<1>(pods.calls[0]), "sentinel");
  EXPECT_EQ(std::get<2>(pods.calls[0]),
            (Argv{"redis-cli", "-p", "26379", "SENTINEL", "get-master-addr-by-name", "drone"}));
  pods.answers.clear();
  pods.answers.emplace("cluster-sentinel-0", std::string("10.0.0.12\n6379\n"));
  PodIp ips = [](const std::string& pod) -> Result<std::string> {
    return std::string(pod == "cluster-replica-0" ? "10.0.0.12" : "10.0.0.99");
  };
  EXPECT_EQ(Ok(ResolveRoleNode(c, "primary", pods.Exec(), ips)), 1u);
  // Without sentinels nothing fails over: the primary StatefulSet's pod.
  c.sentinel_pods.clear();
  EXPECT_EQ(Ok(ResolveRoleNode(c, "primary", pods.Exec(), NoIp())), 0u);
}

TEST(PodRolesTest, UnknownRolesNameTheKnownOnes) {
  FakePods pods;
  auto r = ResolveRoleNode(Cluster("kafka", "kafka"), "primary", pods.Exec(), NoIp());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("leader:<topic>"), std::string::npos);
  EXPECT_FALSE(ResolveRoleNode(Cluster("mqtt", "mosquitto"), "leader", pods.Exec(), NoIp()).ok());
  EXPECT_TRUE(pods.calls.empty());
}

}  // namespace
}  // namespace drone::platforms::kubernetes
