#include "drivers/mqtt/mqtt_driver.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/testutil.h"
#include "drivers/testing/test_server.h"

namespace drone::drivers {
namespace {

using testing::FreeLoopbackPort;
using testing::OnPath;
using testing::TestServer;

TEST(MqttQosTest, AcksMapToQosUnlessQosIsGiven) {
  EXPECT_EQ(MqttProducerQos("0", {}).value(), 0);
  EXPECT_EQ(MqttProducerQos("1", {}).value(), 1);
  EXPECT_EQ(MqttProducerQos("all", {}).value(), 1);
  EXPECT_EQ(MqttProducerQos("all", {{"qos", "2"}}).value(), 2);
  EXPECT_EQ(MqttProducerQos("1", {{"qos", "0"}}).value(), 0);
  EXPECT_FALSE(MqttProducerQos("1", {{"qos", "3"}}).ok());
  EXPECT_FALSE(MqttProducerQos("2", {}).ok());
}

TEST(MqttOptionsTest, RejectsUnknownKeysAndBadValues) {
  EXPECT_OK(ValidateMqttOptions(OptionScope::kProducer, {{"qos", "2"}, {"window", "100"}}));
  EXPECT_OK(ValidateMqttOptions(OptionScope::kConsumer, {{"clean_session", "false"}}));
  Status s = ValidateMqttOptions(OptionScope::kConsumer, {{"clean", "false"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'clean'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("clean_session"), std::string::npos) << "names the accepted keys";
  EXPECT_FALSE(ValidateMqttOptions(OptionScope::kProducer, {{"qos", "x"}}).ok());
  EXPECT_FALSE(ValidateMqttOptions(OptionScope::kConsumer, {{"shared", "yes"}}).ok());
  EXPECT_FALSE(ValidateMqttOptions(OptionScope::kTopic, {{"replicas", "3"}}).ok());
  EXPECT_FALSE(NewMqttDriver()->ValidateOptions(OptionScope::kProducer, {{"acks", "1"}}).ok());
}

class Collect : public DeliveryHandler, public ReceiveHandler {
 public:
  void OnDelivery(const Delivery& d) override { outcomes[d.token] = d.outcome; }
  void OnReceive(const Received& r) override { received.emplace_back(r.payload); }
  size_t Count(Outcome o) const {
    size_t n = 0;
    for (const auto& [t, out] : outcomes) n += out == o ? 1 : 0;
    return n;
  }
  std::map<uint64_t, Outcome> outcomes;
  std::vector<std::string> received;
};

// One mosquitto with persistence for the suite; tests use topics of their own.
class MqttDriverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!OnPath("mosquitto")) return;
    server_ = new TestServer();
    Result<int> port = FreeLoopbackPort();
    ASSERT_TRUE(port.ok());
    port_ = *port;
    std::ofstream conf(server_->dir() + "/mosquitto.conf");
    conf << "listener " << port_ << " 127.0.0.1\n"
         << "allow_anonymous true\n"
         << "persistence true\n"
         << "persistence_location " << server_->dir() << "/\n"
         << "max_queued_messages 100000\n";
    // Started as root, mosquitto switches to the user "mosquitto", who cannot write the
    // temporary directory: it stays the user that runs the test.
    if (const passwd* pw = getpwuid(geteuid()); pw != nullptr) conf << "user " << pw->pw_name << "\n";
    conf.close();
    ASSERT_OK(StartServer());
  }
  static Status StartServer() {
    return server_->Start({"mosquitto", "-c", server_->dir() + "/mosquitto.conf"}, port_, 20 * kNsPerSec);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "mosquitto is not installed (apt-get install mosquitto)";
    if (!server_->running()) ASSERT_OK(StartServer());
    endpoint_.bootstrap = "127.0.0.1:" + std::to_string(port_);
    driver_ = NewMqttDriver();
  }

  ProducerOptions Producing(const std::string& topic, int qos) {
    ProducerOptions o;
    o.client_id = "producer-" + topic;
    o.topic = topic;
    o.acks = "1";
    o.extra = {{"qos", std::to_string(qos)}};
    return o;
  }

  // Sends `n` messages numbered from `first`; `consumer`, when given, is served meanwhile, as the
  // workload engine's consumer threads do.
  static void Produce(Producer& p, int first, int n, Consumer* consumer = nullptr,
                      Collect* into = nullptr) {
    for (int i = first; i < first + n; ++i) {
      std::string payload = "m" + std::to_string(i);
      Status s;
      while ((s = p.Send(0, "", payload, static_cast<uint64_t>(i))).code() == StatusCode::kUnavailable) {
        p.Poll(1);
        if (consumer != nullptr) {
          ASSERT_TRUE(consumer->Poll(0, *into).ok());
        }
      }
      ASSERT_OK(s);
    }
    int64_t deadline = MonotonicNs() + 10 * kNsPerSec;
    while (p.InFlight() > 0 && MonotonicNs() < deadline) {
      p.Poll(1);
      if (consumer != nullptr) {
        ASSERT_TRUE(consumer->Poll(0, *into).ok());
      }
    }
    EXPECT_EQ(p.InFlight(), 0u);
  }

  static void ConsumeUntil(Consumer& consumer, Collect& c, size_t want) {
    int64_t deadline = MonotonicNs() + 10 * kNsPerSec;
    while (c.received.size() < want && MonotonicNs() < deadline) {
      Result<size_t> n = consumer.Poll(50, c);
      ASSERT_TRUE(n.ok()) << n.status().ToString();
    }
  }

  static TestServer* server_;
  static int port_;
  Endpoint endpoint_;
  std::unique_ptr<Driver> driver_;
};

TestServer* MqttDriverTest::server_ = nullptr;
int MqttDriverTest::port_ = 0;

TEST_F(MqttDriverTest, AdminPingsAndTopicsNeedNoCreation) {
  auto admin = driver_->NewAdmin(endpoint_);
  ASSERT_TRUE(admin.ok());
  EXPECT_OK((*admin)->Ping(5 * kNsPerSec));
  EXPECT_OK((*admin)->CreateTopic(TopicRequest{"t", 1, 1, {}}, kNsPerSec));
  EXPECT_EQ((*admin)->CreateTopic(TopicRequest{"t", 3, 1, {}}, kNsPerSec).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*admin)->CreateTopic(TopicRequest{"a/#", 1, 1, {}}, kNsPerSec).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*admin)->Backlog("t", "g", kNsPerSec).status().code(), StatusCode::kUnimplemented);
  Endpoint nowhere;
  Result<int> free_port = FreeLoopbackPort();
  ASSERT_TRUE(free_port.ok());
  nowhere.bootstrap = "127.0.0.1:" + std::to_string(*free_port);
  auto dead = driver_->NewAdmin(nowhere);
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ((*dead)->Ping(kNsPerSec).code(), StatusCode::kUnavailable);
}

class QosTest : public MqttDriverTest, public ::testing::WithParamInterface<int> {};

TEST_P(QosTest, EveryPublishIsAckedAndReceived) {
  const int qos = GetParam();
  const std::string topic = "qos" + std::to_string(qos);
  Collect c;
  auto consumer = driver_->NewConsumer(endpoint_, ConsumerOptions{"c1", topic, "g-" + topic,
                                                                  {{"qos", std::to_string(qos)}}});
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  EXPECT_EQ((*consumer)->AssignedLanes(), 1);
  ProducerOptions po = Producing(topic, qos);
  po.extra["window"] = "10";  // fewer than the messages: the window must refill
  auto producer = driver_->NewProducer(endpoint_, po, c);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  Produce(**producer, 0, 400, consumer->get(), &c);
  EXPECT_EQ(c.Count(Outcome::kAck), 400u);
  ConsumeUntil(**consumer, c, 400);
  std::set<std::string> unique(c.received.begin(), c.received.end());
  EXPECT_EQ(unique.size(), 400u);
  if (qos == 2) {
    EXPECT_EQ(c.received.size(), 400u) << "QoS 2 delivers exactly once";
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, QosTest, ::testing::Values(0, 1, 2));

TEST_F(MqttDriverTest, PersistentSessionKeepsMessagesAcrossABrokerRestart) {
  Collect c;
  ConsumerOptions co{"c1", "persist", "persist-group", {}};
  {
    // Subscribe once, then go away: the broker queues for the session from now on.
    auto consumer = driver_->NewConsumer(endpoint_, co);
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  }
  {
    auto producer = driver_->NewProducer(endpoint_, Producing("persist", 1), c);
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    Produce(**producer, 0, 100);
  }
  ASSERT_EQ(c.Count(Outcome::kAck), 100u);
  server_->Stop();  // SIGTERM: mosquitto writes its persistence file
  ASSERT_OK(StartServer());
  auto consumer = driver_->NewConsumer(endpoint_, co);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ConsumeUntil(**consumer, c, 100);
  std::set<std::string> unique(c.received.begin(), c.received.end());
  EXPECT_EQ(unique.size(), 100u);
}

TEST_F(MqttDriverTest, CleanSessionForgetsWhatCameWhileAway) {
  Collect c;
  ConsumerOptions co{"c1", "clean", "clean-group", {{"clean_session", "true"}}};
  {
    auto consumer = driver_->NewConsumer(endpoint_, co);
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  }
  auto producer = driver_->NewProducer(endpoint_, Producing("clean", 1), c);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  Produce(**producer, 0, 20);
  auto consumer = driver_->NewConsumer(endpoint_, co);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  // A marker sent after the new subscription: once it is in, anything queued would be too.
  Produce(**producer, 1000, 1);
  ConsumeUntil(**consumer, c, 1);
  EXPECT_EQ(c.received, std::vector<std::string>{"m1000"});
}

TEST_F(MqttDriverTest, ProducerReconnectsAfterARestartAndNoPubackIsIndeterminate) {
  Collect c;
  ProducerOptions po = Producing("restart", 1);
  po.message_timeout_ns = 300 * kNsPerMs;
  auto producer = driver_->NewProducer(endpoint_, po, c);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  server_->Pause();
  for (int i = 0; i < 5; ++i) ASSERT_OK((*producer)->Send(0, "", "x", static_cast<uint64_t>(i)));
  EXPECT_EQ((*producer)->Flush(5 * kNsPerSec), 0u);
  server_->Resume();
  EXPECT_EQ(c.Count(Outcome::kIndeterminate), 5u) << "without PUBACK the broker may have it or not";
  server_->Kill();
  ASSERT_OK(StartServer());
  Produce(**producer, 100, 10);  // reconnects by itself
  EXPECT_EQ(c.Count(Outcome::kAck), 10u);
}

}  // namespace
}  // namespace drone::drivers
