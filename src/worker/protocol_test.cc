#include "worker/protocol.h"

#include <gtest/gtest.h>

#include <random>

#include "core/testutil.h"

namespace drone::worker {
namespace {

TEST(ProtocolTest, AssignmentRoundTripsThroughJson) {
  Assignment a;
  a.id = "load-00ff-w2";
  a.driver = "kafka";
  a.endpoint.bootstrap = "127.0.0.1:9092";
  a.endpoint.properties = {{"security.protocol", "plaintext"}};
  a.options.name = "load";
  a.options.topic = "orders";
  a.options.producers = 3;
  a.options.consumers = 2;
  a.options.rate = 1500;
  a.options.size.kind = workload::SizeDistribution::Kind::kUniform;
  a.options.size.min = 64;
  a.options.size.max = 900;
  a.options.keys.mode = workload::KeyOptions::Mode::kRandom;
  a.options.keys.count = 17;
  a.options.duration_ns = 5'000'000'000;
  a.options.producer.acks = "1";
  a.options.producer.idempotence = true;
  a.options.producer.extra = {{"linger.ms", "3"}};
  a.options.group = "g";
  a.options.guarantee = verify::Guarantee::kOrdered;
  a.options.run_id = 0xfedcba9876543210ULL;
  a.options.seed = 9;
  a.options.producer_ids = std::vector<int>{1};
  a.options.consumer_ids = std::vector<int>{1};
  a.lease_ns = 20'000'000'000;

  Result<Assignment> back = AssignmentFromJson(nlohmann::json::parse(AssignmentToJson(a).dump()));
  ASSERT_OK(back.status());
  EXPECT_EQ(AssignmentToJson(*back), AssignmentToJson(a));
  EXPECT_EQ(back->options.run_id, a.options.run_id);
  EXPECT_EQ(*back->options.producer_ids, std::vector<int>{1});
  EXPECT_FALSE(back->options.messages.has_value());
}

TEST(ProtocolTest, AssignmentRejectsBadFields) {
  Assignment a;
  a.id = "x";
  a.driver = "kafka";
  a.options.topic = "t";
  a.options.producers = 1;
  a.options.producer_ids = std::vector<int>{0};
  nlohmann::json good = AssignmentToJson(a);
  ASSERT_OK(AssignmentFromJson(good).status());

  nlohmann::json j = good;
  j["protocol"] = 99;
  EXPECT_NE(AssignmentFromJson(j).status().message().find("protocol 99"), std::string::npos);
  j = good;
  j["id"] = "../etc";
  EXPECT_FALSE(AssignmentFromJson(j).ok());
  j = good;
  j["options"]["producer_ids"] = {5};
  EXPECT_FALSE(AssignmentFromJson(j).ok());
  j = good;
  j["options"]["producer_ids"] = nlohmann::json::array();
  EXPECT_FALSE(AssignmentFromJson(j).ok());  // neither producers nor consumers
  j = good;
  j["options"]["rate"] = "fast";
  EXPECT_NE(AssignmentFromJson(j).status().message().find("rate"), std::string::npos);
  EXPECT_FALSE(AssignmentFromJson(nlohmann::json::array()).ok());
}

TEST(ProtocolTest, Base64RoundTripsEveryLength) {
  std::mt19937_64 rng(3);
  for (size_t n = 0; n < 300; ++n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Result<std::string> back = Base64Decode(Base64Encode(bytes));
    ASSERT_OK(back.status());
    ASSERT_EQ(*back, bytes) << n;
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_FALSE(Base64Decode("Zm9").ok());
  EXPECT_FALSE(Base64Decode("Zm=v").ok());
  EXPECT_FALSE(Base64Decode("Zm9*").ok());
}

TEST(ProtocolTest, StatusRoundTripsThroughJson) {
  ShareStatus s;
  s.state = "running";
  s.has_progress = true;
  s.progress.totals = {10, 9, 1, 0, 8};
  s.progress.drain.next_offset = {3, -1};
  s.progress.drain.max_acked_seq = {2, 5, -1, 0};
  s.progress.drain.max_received_seq = {2, 4, -1, -1};
  s.progress.drain.received = 8;
  s.progress.consumer_lanes = {1, 1};
  s.first_point = 4;
  workload::SeriesPoint p;
  p.t_s = 5;
  p.sent = 10;
  p.lag = -2;
  metrics::Histogram h;
  h.Record(12345);
  s.points = {p};
  s.seconds = {{h.Serialize(), metrics::Histogram().Serialize()}};
  Result<ShareStatus> back = StatusFromJson(nlohmann::json::parse(StatusToJson(s).dump()));
  ASSERT_OK(back.status());
  EXPECT_EQ(StatusToJson(*back), StatusToJson(s));
  EXPECT_EQ(back->seconds[0].publish, h.Serialize());
}

}  // namespace
}  // namespace drone::worker
