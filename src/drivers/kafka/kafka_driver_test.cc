#include "drivers/kafka/kafka_driver.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <map>
#include <set>

#include "core/clock.h"
#include "core/testutil.h"

namespace drone::drivers {
namespace {

TEST(KafkaOutcomeTest, MapsErrorsThroughPersistenceStatus) {
  EXPECT_EQ(KafkaOutcome(RD_KAFKA_RESP_ERR_NO_ERROR, RD_KAFKA_MSG_STATUS_PERSISTED), Outcome::kAck);
  // acks=0: the client reports success without persistence knowledge; that is an ack to the app.
  EXPECT_EQ(KafkaOutcome(RD_KAFKA_RESP_ERR_NO_ERROR, RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED),
            Outcome::kAck);
  EXPECT_EQ(KafkaOutcome(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_MSG_STATUS_NOT_PERSISTED),
            Outcome::kNack);
  EXPECT_EQ(KafkaOutcome(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED),
            Outcome::kIndeterminate);
  EXPECT_EQ(KafkaOutcome(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_MSG_STATUS_NOT_PERSISTED),
            Outcome::kNack);
}

// A mock cluster owned by the test, independent of the embedded platform.
class MockCluster {
 public:
  explicit MockCluster(int brokers) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    mock_ = rd_kafka_mock_cluster_new(host_, brokers);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mock_);
    rd_kafka_destroy(host_);
  }
  Endpoint endpoint() const { return Endpoint{rd_kafka_mock_cluster_bootstraps(mock_), {}}; }
  rd_kafka_mock_cluster_t* mock() { return mock_; }

 private:
  rd_kafka_t* host_;
  rd_kafka_mock_cluster_t* mock_;
};

class Collect : public DeliveryHandler, public ReceiveHandler {
 public:
  void OnDelivery(const Delivery& d) override { deliveries[d.token] = d.outcome; lanes.insert(d.lane); }
  void OnReceive(const Received& r) override { received.emplace_back(r.payload); }
  std::map<uint64_t, Outcome> deliveries;
  std::set<int32_t> lanes;
  std::vector<std::string> received;
};

TEST(KafkaDriverTest, ProducesToExplicitPartitionsAndConsumesThroughGroup) {
  MockCluster cluster(3);
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster.mock(), "t", 4, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
  auto driver = NewKafkaDriver();
  auto admin = driver->NewAdmin(cluster.endpoint());
  ASSERT_OK(admin.status());
  auto info = (*admin)->DescribeTopic("t", 10 * kNsPerSec);
  ASSERT_OK(info.status());
  EXPECT_EQ(info->partitions, 4);
  EXPECT_EQ(info->replication, 3);

  Collect sink;
  ProducerOptions po;
  po.topic = "t";
  po.acks = "all";
  po.idempotence = true;
  po.linger_ns = 1 * kNsPerMs;
  auto producer = driver->NewProducer(cluster.endpoint(), po, sink);
  ASSERT_OK(producer.status());
  ASSERT_EQ((*producer)->Lanes(), 4);
  for (uint64_t i = 0; i < 100; ++i) {
    ASSERT_OK((*producer)->Send(static_cast<int>(i % 4), "", "message-" + std::to_string(i), i));
  }
  EXPECT_EQ((*producer)->Flush(20 * kNsPerSec), 0u);
  ASSERT_EQ(sink.deliveries.size(), 100u);
  for (const auto& [token, outcome] : sink.deliveries) EXPECT_EQ(outcome, Outcome::kAck) << token;
  EXPECT_EQ(sink.lanes, (std::set<int32_t>{0, 1, 2, 3}));

  auto ends = (*admin)->EndOffsets("t", 10 * kNsPerSec);
  ASSERT_OK(ends.status());
  int64_t total = 0;
  for (int64_t e : *ends) total += e;
  EXPECT_EQ(total, 100);

  ConsumerOptions co;
  co.topic = "t";
  co.group = "g1";
  auto consumer = driver->NewConsumer(cluster.endpoint(), co);
  ASSERT_OK(consumer.status());
  int64_t deadline = MonotonicNs() + 30 * kNsPerSec;
  while (sink.received.size() < 100 && MonotonicNs() < deadline) {
    ASSERT_OK((*consumer)->Poll(100, sink).status());
  }
  EXPECT_EQ(sink.received.size(), 100u);
  EXPECT_GT((*consumer)->Session(), 0u);
  EXPECT_EQ((*consumer)->AssignedLanes(), 4);
  (*consumer)->Close();
}

TEST(KafkaDriverTest, RejectsBadClientProperties) {
  MockCluster cluster(1);
  auto driver = NewKafkaDriver();
  Collect sink;
  ProducerOptions po;
  po.topic = "t";
  po.extra = {{"no.such.property", "1"}};
  auto producer = driver->NewProducer(cluster.endpoint(), po, sink);
  EXPECT_EQ(producer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(producer.status().message().find("no.such.property"), std::string::npos);
}

TEST(KafkaDriverTest, UndeliverableMessagesAreNotAcked) {
  MockCluster cluster(1);
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster.mock(), "t", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  auto driver = NewKafkaDriver();
  Collect sink;
  ProducerOptions po;
  po.topic = "t";
  po.message_timeout_ns = 500 * kNsPerMs;
  auto producer = driver->NewProducer(cluster.endpoint(), po, sink);
  ASSERT_OK(producer.status());
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster.mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (uint64_t i = 0; i < 10; ++i) ASSERT_OK((*producer)->Send(0, "", "x", i));
  EXPECT_EQ((*producer)->Flush(10 * kNsPerSec), 0u);
  ASSERT_EQ(sink.deliveries.size(), 10u);
  for (const auto& [token, outcome] : sink.deliveries) EXPECT_NE(outcome, Outcome::kAck) << token;
}

}  // namespace
}  // namespace drone::drivers
