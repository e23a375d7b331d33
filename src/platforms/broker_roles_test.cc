#include "platforms/broker_roles.h"

#include <gtest/gtest.h>

namespace drone::platforms {
namespace {

template <typename T>
T Ok(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : T{};
}

TEST(BrokerRolesTest, RabbitmqQueueListNamesTheQuorumLeader) {
  auto rows = ParseRabbitMqQueues(
      R"([{"name":"orders","type":"quorum","leader":"rabbit@cluster-1.cluster-headless.ns.svc.cluster.local"},)"
      R"({"name":"audit","type":"classic","leader":"undefined"}])");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].leader, "rabbit@cluster-1.cluster-headless.ns.svc.cluster.local");
  EXPECT_EQ((*rows)[1].leader, "");
  auto picked = PickRabbitMqQueue(*rows, "orders");
  ASSERT_TRUE(picked.ok());
  EXPECT_EQ(picked->type, "quorum");
  auto ambiguous = PickRabbitMqQueue(*rows, "");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ambiguous.status().message().find("leader:<queue>"), std::string::npos);
  EXPECT_FALSE(ParseRabbitMqQueues("Error: unable to perform an operation on node").ok());
}

TEST(BrokerRolesTest, NatsJszGivesTheFirstStreamsLeaderAndTheMetaLeader) {
  auto leaders = ParseNatsJsz(R"({"server_id":"N","meta_cluster":{"name":"c","leader":"cluster-0"},
    "account_details":[{"name":"$G","stream_detail":[
      {"name":"zeta","cluster":{"name":"c","leader":"cluster-1"}},
      {"name":"orders","cluster":{"name":"c","leader":"cluster-2"}}]}]})");
  ASSERT_TRUE(leaders.ok()) << leaders.status().message();
  EXPECT_EQ(leaders->stream_name, "orders");
  EXPECT_EQ(leaders->stream, "cluster-2");
  EXPECT_EQ(leaders->meta, "cluster-0");
  auto no_streams = ParseNatsJsz(R"({"meta_cluster":{"leader":"cluster-1"}})");
  ASSERT_TRUE(no_streams.ok());
  EXPECT_EQ(no_streams->stream, "");
  EXPECT_EQ(no_streams->meta, "cluster-1");
  EXPECT_FALSE(ParseNatsJsz("wget: can't connect to remote host").ok());
}

TEST(BrokerRolesTest, SentinelAnswerIsHostThenPort) {
  auto host = ParseSentinelPrimary("cluster-replica-0.cluster-headless.ns.svc.cluster.local\n6379\n");
  ASSERT_TRUE(host.ok()) << host.status().message();
  EXPECT_EQ(*host, "cluster-replica-0.cluster-headless.ns.svc.cluster.local");
  EXPECT_EQ(Ok(ParseSentinelPrimary("10.244.1.5\n6379\n")), "10.244.1.5");
  EXPECT_FALSE(ParseSentinelPrimary("").ok());
  EXPECT_FALSE(ParseSentinelPrimary("(nil)\n").ok());
}

TEST(BrokerRolesTest, KafkaDescribeGivesAPartitionsLeader) {
  const std::string out =
      "Topic: orders\tTopicId: 3RkOpvH4QYm6DNQq6bPtQQ\tPartitionCount: 3\tReplicationFactor: 3\t"
      "Configs: min.insync.replicas=2\n"
      "\tTopic: orders\tPartition: 0\tLeader: 2\tReplicas: 2,0,1\tIsr: 2,0,1\tElr: \tLastKnownElr: \n"
      "\tTopic: orders\tPartition: 1\tLeader: 0\tReplicas: 0,1,2\tIsr: 0,1,2\tElr: \tLastKnownElr: \n"
      "\tTopic: orders\tPartition: 2\tLeader: none\tReplicas: 1,2,0\tIsr: \tElr: \tLastKnownElr: \n";
  EXPECT_EQ(Ok(ParseKafkaPartitionLeader(out, "orders", 0)), 2);
  EXPECT_EQ(Ok(ParseKafkaPartitionLeader(out, "orders", 1)), 0);
  auto none = ParseKafkaPartitionLeader(out, "orders", 2);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no leader"), std::string::npos);
  EXPECT_FALSE(ParseKafkaPartitionLeader(out, "order", 0).ok());
  EXPECT_FALSE(ParseKafkaPartitionLeader(out, "orders", 7).ok());
}

}  // namespace
}  // namespace drone::platforms
