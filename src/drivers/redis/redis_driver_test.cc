// The Redis driver against a real redis-server (one per test suite, on 127.0.0.1 with a free port
// and a temporary directory). Skipped only when redis-server is not installed.
#include "drivers/redis/redis_driver.h"

#include <set>

#include "core/clock.h"
#include "core/testutil.h"
#include "drivers/redis/redis_client.h"
#include "drivers/testing/test_server.h"

namespace drone::drivers {
namespace {

using testing::FreeLoopbackPort;
using testing::OnPath;
using testing::TestServer;

class Collector : public DeliveryHandler {
 public:
  void OnDelivery(const Delivery& d) override {
    tokens.push_back(d.token);
    outcomes.push_back(d.outcome);
    errors.emplace_back(d.error);
  }
  std::vector<uint64_t> tokens;
  std::vector<Outcome> outcomes;
  std::vector<std::string> errors;
  size_t Count(Outcome o) const { return static_cast<size_t>(std::count(outcomes.begin(), outcomes.end(), o)); }
};

class Receiver : public ReceiveHandler {
 public:
  void OnReceive(const Received& m) override {
    payloads.emplace_back(m.payload);
    if (m.redelivered) ++redelivered;
  }
  std::vector<std::string> payloads;
  int redelivered = 0;
};

class RedisDriverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!OnPath("redis-server")) return;
    server_ = new TestServer();
    Result<int> port = FreeLoopbackPort();
    ASSERT_TRUE(port.ok());
    port_ = *port;
    ASSERT_OK(server_->Start({"redis-server", "--bind", "127.0.0.1", "--port", std::to_string(port_), "--dir",
                              server_->dir(), "--save", "", "--appendonly", "no"},
                             port_, 10 * kNsPerSec));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "redis-server is not installed";
    topic_ = "t-" + std::to_string(NowNs());
  }

  Endpoint Ep() const { return Endpoint{"127.0.0.1:" + std::to_string(port_), {}, {}}; }

  ProducerOptions Po(std::map<std::string, std::string> extra = {}) {
    ProducerOptions o;
    o.client_id = "p1";
    o.topic = topic_;
    o.extra = std::move(extra);
    return o;
  }

  ConsumerOptions Co(const std::string& group) {
    ConsumerOptions o;
    o.client_id = "c1";
    o.topic = topic_;
    o.group = group;
    return o;
  }

  // Runs a command on the server directly.
  redis::Reply Redis(const std::vector<std::string>& argv) {
    auto c = redis::Connect({"127.0.0.1", port_}, 2 * kNsPerSec);
    EXPECT_TRUE(c.ok());
    auto r = redis::Command(c->get(), argv);
    EXPECT_TRUE(r.ok());
    return std::move(*r);
  }

  static inline TestServer* server_ = nullptr;
  static inline int port_ = 0;
  std::unique_ptr<Driver> driver_ = NewRedisDriver();
  std::string topic_;
};

TEST_F(RedisDriverTest, ProducesConsumesAndAccountsTheBacklog) {
  auto admin = driver_->NewAdmin(Ep());
  ASSERT_TRUE(admin.ok());
  ASSERT_OK((*admin)->Ping(kNsPerSec));
  ASSERT_OK((*admin)->CreateTopic({topic_, 1, 1, {}}, kNsPerSec));
  EXPECT_EQ((*admin)->CreateTopic({topic_, 1, 1, {}}, kNsPerSec).code(), StatusCode::kAlreadyExists);
  auto info = (*admin)->DescribeTopic(topic_, kNsPerSec);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->partitions, 1);
  EXPECT_EQ((*admin)->DescribeTopic("no-such-stream", kNsPerSec).status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*admin)->EndOffsets(topic_, kNsPerSec).status().code(), StatusCode::kUnimplemented);

  auto consumer = driver_->NewConsumer(Ep(), Co("g1"));
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  EXPECT_EQ((*consumer)->AssignedLanes(), 1);
  Collector deliveries;
  auto producer = driver_->NewProducer(Ep(), Po({{"pipeline", "8"}}), deliveries);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  EXPECT_EQ((*producer)->Lanes(), 1);
  constexpr int kMessages = 500;
  for (int i = 0; i < kMessages; ++i) {
    const std::string payload = "m" + std::to_string(i);
    Status s;
    while ((s = (*producer)->Send(0, "", payload, static_cast<uint64_t>(i))).code() == StatusCode::kUnavailable) {
      (*producer)->Poll(1);
    }
    ASSERT_OK(s);
    EXPECT_LE((*producer)->InFlight(), 16u) << "8 on the connection at most, and as many queued";
  }
  EXPECT_EQ((*producer)->Flush(10 * kNsPerSec), 0u);
  EXPECT_EQ(deliveries.Count(Outcome::kAck), static_cast<size_t>(kMessages));
  EXPECT_EQ(Redis({"XLEN", topic_})->integer, kMessages);

  auto backlog = (*admin)->Backlog(topic_, "g1", kNsPerSec);
  ASSERT_TRUE(backlog.ok()) << backlog.status().ToString();
  EXPECT_EQ(*backlog, kMessages);
  Receiver received;
  const int64_t deadline = MonotonicNs() + 10 * kNsPerSec;
  while (received.payloads.size() < static_cast<size_t>(kMessages) && MonotonicNs() < deadline) {
    ASSERT_TRUE((*consumer)->Poll(50, received).ok());
  }
  ASSERT_EQ(received.payloads.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(received.payloads.front(), "m0");
  EXPECT_EQ(received.payloads.back(), "m" + std::to_string(kMessages - 1));
  backlog = (*admin)->Backlog(topic_, "g1", kNsPerSec);
  ASSERT_TRUE(backlog.ok());
  EXPECT_EQ(*backlog, 0) << "everything delivered and acknowledged";
  EXPECT_EQ((*admin)->Backlog(topic_, "no-such-group", kNsPerSec).status().code(), StatusCode::kNotFound);
}

TEST_F(RedisDriverTest, ReadStoredPagesThroughTheWholeStream) {
  // More entries than one XRANGE page (1000), and one entry without Drone's payload field.
  constexpr int kEntries = 2500;
  auto c = redis::Connect({"127.0.0.1", port_}, 2 * kNsPerSec);
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < kEntries; ++i) {
    ASSERT_TRUE(redis::Command(c->get(), {"XADD", topic_, "*", "d", "m" + std::to_string(i)}).ok());
    if (i == 1500) {
      ASSERT_TRUE(redis::Command(c->get(), {"XADD", topic_, "*", "other", "x"}).ok());
    }
  }
  auto admin = driver_->NewAdmin(Ep());
  ASSERT_TRUE(admin.ok());
  std::vector<std::string> stored;
  ASSERT_OK((*admin)->ReadStored(topic_, 10 * kNsPerSec, [&](std::string_view p) { stored.emplace_back(p); }));
  ASSERT_EQ(stored.size(), static_cast<size_t>(kEntries));
  for (int i = 0; i < kEntries; ++i) ASSERT_EQ(stored[i], "m" + std::to_string(i));
  int calls = 0;
  ASSERT_OK((*admin)->ReadStored("no-such-stream", kNsPerSec, [&](std::string_view) { ++calls; }));
  EXPECT_EQ(calls, 0) << "a stream that does not exist stores nothing";
}

TEST_F(RedisDriverTest, ErrorReplyIsANack) {
  Redis({"SET", topic_, "not-a-stream"});
  Collector deliveries;
  auto producer = driver_->NewProducer(Ep(), Po(), deliveries);
  ASSERT_TRUE(producer.ok());
  ASSERT_OK((*producer)->Send(0, "", "x", 1));
  EXPECT_EQ((*producer)->Flush(5 * kNsPerSec), 0u);
  ASSERT_EQ(deliveries.outcomes.size(), 1u);
  EXPECT_EQ(deliveries.outcomes[0], Outcome::kNack);
  EXPECT_NE(deliveries.errors[0].find("WRONGTYPE"), std::string::npos) << deliveries.errors[0];
}

TEST_F(RedisDriverTest, WaitWithFewerReplicasThanAskedIsIndeterminate) {
  // A lone server has no replicas: WAIT 1 answers 0 after its timeout. The writes are applied
  // (XLEN shows them) but not replicated, so their survival is not known.
  Collector deliveries;
  auto producer = driver_->NewProducer(Ep(), Po({{"wait_replicas", "1"}, {"wait_timeout_ms", "50"}}), deliveries);
  ASSERT_TRUE(producer.ok());
  for (uint64_t i = 0; i < 5; ++i) ASSERT_OK((*producer)->Send(0, "", "w", i));
  EXPECT_EQ((*producer)->Flush(5 * kNsPerSec), 0u);
  EXPECT_EQ(deliveries.Count(Outcome::kIndeterminate), 5u);
  EXPECT_NE(deliveries.errors[0].find("0 of 1 replicas"), std::string::npos) << deliveries.errors[0];
  EXPECT_EQ(Redis({"XLEN", topic_})->integer, 5);
}

TEST_F(RedisDriverTest, OneWaitAtATimeCoversTheXaddsWrittenMeanwhile) {
  // WAIT blocks the connection until its timeout here (no replicas). Sends polled one by one, as
  // the engine does: the first XADD goes with a WAIT, the 31 written while it blocks share the
  // next one, instead of one WAIT (and one timeout) each.
  Redis({"CONFIG", "RESETSTAT"});
  Collector deliveries;
  auto producer = driver_->NewProducer(
      Ep(), Po({{"wait_replicas", "1"}, {"wait_timeout_ms", "200"}, {"pipeline", "32"}}), deliveries);
  ASSERT_TRUE(producer.ok());
  for (uint64_t i = 0; i < 32; ++i) {
    ASSERT_OK((*producer)->Send(0, "", "w", i));
    (*producer)->Poll(0);
  }
  EXPECT_EQ((*producer)->Flush(10 * kNsPerSec), 0u);
  EXPECT_EQ(deliveries.Count(Outcome::kIndeterminate), 32u);
  EXPECT_EQ(Redis({"XLEN", topic_})->integer, 32);
  const redis::Reply info = Redis({"INFO", "commandstats"});
  const std::string stats(info->str, info->len);
  const size_t at = stats.find("cmdstat_wait:calls=");
  ASSERT_NE(at, std::string::npos) << stats;
  const int waits = std::stoi(stats.substr(at + 19));
  EXPECT_GE(waits, 2);
  EXPECT_LE(waits, 4) << "a WAIT per written XADD";
}

TEST_F(RedisDriverTest, AcksAllWithoutKnownReplicasDoesNotWait) {
  Collector deliveries;
  auto producer = driver_->NewProducer(Ep(), Po(), deliveries);  // acks: all by default
  ASSERT_TRUE(producer.ok());
  ASSERT_OK((*producer)->Send(0, "", "x", 1));
  EXPECT_EQ((*producer)->Flush(5 * kNsPerSec), 0u);
  EXPECT_EQ(deliveries.Count(Outcome::kAck), 1u);
}

TEST_F(RedisDriverTest, ValidatesItsSettings) {
  EXPECT_OK(driver_->ValidateOptions(OptionScope::kProducer, {{"pipeline", "16"}, {"wait_replicas", "1"}}));
  Status s = driver_->ValidateOptions(OptionScope::kProducer, {{"pipelining", "16"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("pipeline, wait_replicas"), std::string::npos) << s.message();
  EXPECT_EQ(driver_->ValidateOptions(OptionScope::kProducer, {{"pipeline", "0"}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_OK(driver_->ValidateOptions(OptionScope::kConsumer, {{"count", "10"}}));
  EXPECT_EQ(driver_->ValidateOptions(OptionScope::kConsumer, {{"prefetch", "10"}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(driver_->ValidateOptions(OptionScope::kTopic, {{"retention.ms", "1"}}).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(RedisDriverTest, UnacknowledgedEntriesAreRedeliveredToTheSameConsumer) {
  auto consumer = driver_->NewConsumer(Ep(), Co("g2"));
  ASSERT_TRUE(consumer.ok());
  Redis({"XADD", topic_, "*", "d", "one"});
  // Another client of the same consumer name takes the entry and dies before XACK.
  Redis({"XREADGROUP", "GROUP", "g2", "c1", "COUNT", "10", "STREAMS", topic_, ">"});
  Receiver received;
  const int64_t deadline = MonotonicNs() + 5 * kNsPerSec;
  while (received.payloads.empty() && MonotonicNs() < deadline) ASSERT_TRUE((*consumer)->Poll(50, received).ok());
  ASSERT_EQ(received.payloads.size(), 1u);
  EXPECT_EQ(received.payloads[0], "one");
  EXPECT_EQ(received.redelivered, 1);
}

// Last: it stops the suite's server.
TEST_F(RedisDriverTest, ZzConnectionLostWithCommandsInFlightIsIndeterminate) {
  Collector deliveries;
  auto producer = driver_->NewProducer(Ep(), Po({{"pipeline", "8"}}), deliveries);
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE(server_->running());
  server_->Pause();  // the commands are written, no reply comes
  // 8 XADDs go onto the connection, 8 more wait formatted behind them; then the producer is full.
  uint64_t accepted = 0;
  for (; accepted < 100; ++accepted) {
    Status s = (*producer)->Send(0, "", "x", accepted);
    if (s.code() == StatusCode::kUnavailable) break;
    ASSERT_OK(s);
  }
  EXPECT_EQ(accepted, 16u);
  (*producer)->Poll(10);
  EXPECT_EQ((*producer)->InFlight(), 16u);
  server_->Kill();
  EXPECT_EQ((*producer)->Flush(5 * kNsPerSec), 0u);
  ASSERT_EQ(deliveries.tokens.size(), 16u);
  for (size_t i = 0; i < deliveries.tokens.size(); ++i) {
    // Written: applied or not, nobody knows. Still queued: never left the process.
    const Outcome want = deliveries.tokens[i] < 8 ? Outcome::kIndeterminate : Outcome::kNack;
    EXPECT_EQ(deliveries.outcomes[i], want) << "token " << deliveries.tokens[i];
  }
  EXPECT_EQ(deliveries.Count(Outcome::kIndeterminate), 8u);
  EXPECT_EQ(deliveries.Count(Outcome::kNack), 8u);
}

}  // namespace
}  // namespace drone::drivers
