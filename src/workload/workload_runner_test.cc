#include "workload/workload.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "workload/history.h"

#include "core/clock.h"
#include "core/testutil.h"
#include "drivers/builtin_drivers.h"
#include "platforms/builtin_platforms.h"

namespace drone::workload {
namespace {

class WorkloadRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto platform = platforms::PlatformRegistry().Create("embedded");
    ASSERT_OK(platform.status());
    auto cluster = (*platform)->CreateCluster({"c", "kafka", 3, ""});
    ASSERT_OK(cluster.status());
    cluster_ = std::move(cluster).value();
    ASSERT_OK(cluster_->CreateTopic({"t", 4, 3, {}}));
    auto driver = drivers::DriverRegistry().Create("kafka");
    ASSERT_OK(driver.status());
    driver_ = std::move(driver).value();
  }

  WorkloadOptions Options() {
    WorkloadOptions o;
    o.name = "load";
    o.topic = "t";
    o.producers = 2;
    o.consumers = 2;
    o.rate = 0;
    o.messages = 4000;
    o.size.bytes = 100;
    o.group = "g-" + std::to_string(NowNs());
    o.run_id = 77;
    o.drain_timeout_ns = 30 * kNsPerSec;
    return o;
  }

  // Runs `o` through `driver` on the fixture's cluster, without observer or history.
  WorkloadResult RunThrough(drivers::Driver& driver, const WorkloadOptions& o) {
    cluster_->NoteConsumerGroup(o.group);
    WorkloadRunner runner(driver, cluster_->Endpoint(), o, nullptr, nullptr);
    CancelToken cancel;
    EXPECT_OK(runner.Run(cancel));
    return runner.result();
  }

  std::unique_ptr<platforms::Cluster> cluster_;
  std::unique_ptr<drivers::Driver> driver_;
};

class CountingObserver : public WorkloadObserver {
 public:
  void OnStarted() override { started++; }
  void OnSecond(const SeriesPoint&, const LiveTotals&, double, bool) override { seconds++; }
  std::atomic<int> started{0}, seconds{0};
};

TEST_F(WorkloadRunnerTest, DeliversEveryMessageExactlyOnce) {
  CountingObserver observer;
  cluster_->NoteConsumerGroup(Options().group);
  WorkloadRunner runner(*driver_, cluster_->Endpoint(), Options(), &observer, nullptr);
  CancelToken cancel;
  ASSERT_OK(runner.Run(cancel));
  const WorkloadResult& r = runner.result();
  EXPECT_EQ(observer.started.load(), 1);
  EXPECT_EQ(r.sent, 4000u);
  EXPECT_EQ(r.acked, 4000u);
  EXPECT_EQ(r.received, 4000u);
  EXPECT_TRUE(r.drain_caught_up);
  EXPECT_EQ(r.delivery.ok, 4000u);
  EXPECT_EQ(r.delivery.lost, 0u);
  EXPECT_EQ(r.delivery.duplicated, 0u);
  EXPECT_EQ(r.delivery.unexpected, 0u);
  EXPECT_EQ(r.publish.TotalCount(), 4000u);
  EXPECT_EQ(r.end_to_end.TotalCount(), 4000u);
  EXPECT_EQ(r.lanes, 4);
}

TEST_F(WorkloadRunnerTest, OpenLoopRateIsHeld) {
  WorkloadOptions o = Options();
  o.rate = 2000;
  o.messages.reset();
  o.duration_ns = 2 * kNsPerSec;
  o.consumers = 0;
  WorkloadRunner runner(*driver_, cluster_->Endpoint(), o, nullptr, nullptr);
  CancelToken cancel;
  ASSERT_OK(runner.Run(cancel));
  // Exactly rate x duration messages are due in an open loop, however the broker behaves.
  EXPECT_EQ(runner.result().sent, 4000u);
  EXPECT_FALSE(runner.result().consumed);
}

TEST_F(WorkloadRunnerTest, ForeignMessagesOnTheTopicAreUnexpected) {
  // An earlier run's messages (another run id) sit on the topic already.
  WorkloadOptions first = Options();
  first.run_id = 1;
  first.consumers = 0;
  first.messages = 50;
  WorkloadRunner earlier(*driver_, cluster_->Endpoint(), first, nullptr, nullptr);
  CancelToken cancel;
  ASSERT_OK(earlier.Run(cancel));
  WorkloadOptions second = Options();
  second.messages = 100;
  cluster_->NoteConsumerGroup(second.group);
  WorkloadRunner runner(*driver_, cluster_->Endpoint(), second, nullptr, nullptr);
  ASSERT_OK(runner.Run(cancel));
  // Each foreign message counts once per copy received; a rebalance may deliver some again.
  EXPECT_GE(runner.result().delivery.unexpected, 50u);
  EXPECT_EQ(runner.result().delivery.ok, 100u);
}

TEST_F(WorkloadRunnerTest, AcksAllSurvivesABrokerOutage) {
  WorkloadOptions o = Options();
  o.rate = 2000;
  o.messages = 8000;
  o.producer.acks = "all";
  o.producer.idempotence = true;
  cluster_->NoteConsumerGroup(o.group);
  CountingObserver observer;
  WorkloadRunner runner(*driver_, cluster_->Endpoint(), o, &observer, nullptr);
  CancelToken cancel;
  std::thread fault([&] {
    // Fires while the load runs (4 s at 2000/s): down 1 s into it, back 1.5 s later.
    while (observer.started.load() == 0 && !cancel.WaitFor(10 * kNsPerMs)) {
    }
    cancel.WaitFor(1 * kNsPerSec);
    ASSERT_OK(cluster_->Control()->Kill("broker-2"));
    cancel.WaitFor(1500 * kNsPerMs);
    ASSERT_OK(cluster_->Control()->Start("broker-2", true));
  });
  ASSERT_OK(runner.Run(cancel));
  fault.join();
  const WorkloadResult& r = runner.result();
  EXPECT_EQ(r.sent, 8000u);
  EXPECT_EQ(r.delivery.lost, 0u);
  EXPECT_EQ(r.delivery.unseen, 0u);
  EXPECT_EQ(r.acked, 8000u);
}

TEST_F(WorkloadRunnerTest, KeysPinMessagesToPartitionsAndSizesFollowTheDistribution) {
  WorkloadOptions o = Options();
  o.consumers = 0;
  o.producers = 1;
  o.messages = 2000;
  o.keys.mode = KeyOptions::Mode::kRandom;
  o.keys.count = 1;  // one key: every message of the producer lands in one partition
  o.size.kind = SizeDistribution::Kind::kUniform;
  o.size.min = 100;
  o.size.max = 300;
  std::string path = ::testing::TempDir() + "/keys-history.jsonl";
  auto history = HistoryWriter::Open(path);
  ASSERT_OK(history.status());
  WorkloadRunner runner(*driver_, cluster_->Endpoint(), o, nullptr, history->get());
  CancelToken cancel;
  ASSERT_OK(runner.Run(cancel));
  ASSERT_OK((*history)->Close());
  std::ifstream in(path);
  std::set<std::string> domains;
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    size_t at = line.find("\"domain\":\"");
    ASSERT_NE(at, std::string::npos) << line;
    domains.insert(line.substr(at + 10, line.find('"', at + 10) - at - 10));
  }
  EXPECT_EQ(lines, 2000);
  EXPECT_EQ(domains.size(), 1u);
  // Uniform over [100, 300]: the mean is 200 bytes; 2000 draws land well within +-10%.
  double mean = static_cast<double>(runner.result().bytes_sent) / 2000.0;
  EXPECT_GT(mean, 180.0);
  EXPECT_LT(mean, 220.0);
  std::remove(path.c_str());
}

TEST_F(WorkloadRunnerTest, NormalSizesCentreOnTheMeanWithinTheirClamps) {
  WorkloadOptions o = Options();
  o.consumers = 0;
  o.producers = 1;
  o.messages = 4000;
  o.size.kind = SizeDistribution::Kind::kNormal;
  o.size.mean = 500;
  o.size.stddev = 50;
  o.size.min = 400;
  o.size.max = 600;
  WorkloadRunner runner(*driver_, cluster_->Endpoint(), o, nullptr, nullptr);
  CancelToken cancel;
  ASSERT_OK(runner.Run(cancel));
  // 4000 draws: the sample mean lies within a few standard errors (50/sqrt(4000) ~ 0.8 B).
  double mean = static_cast<double>(runner.result().bytes_sent) / 4000.0;
  EXPECT_NEAR(mean, 500.0, 10.0);
  EXPECT_EQ(runner.result().acked, 4000u);
}

TEST_F(WorkloadRunnerTest, RoundRobinKeysSpreadOverPartitions) {
  WorkloadOptions o = Options();
  o.consumers = 0;
  o.producers = 1;
  o.messages = 400;
  o.keys.mode = KeyOptions::Mode::kRoundRobin;
  o.keys.count = 64;
  WorkloadRunner runner(*driver_, cluster_->Endpoint(), o, nullptr, nullptr);
  CancelToken cancel;
  ASSERT_OK(runner.Run(cancel));
  auto admin = driver_->NewAdmin(cluster_->Endpoint());
  ASSERT_OK(admin.status());
  auto ends = (*admin)->EndOffsets("t", 10 * kNsPerSec);
  ASSERT_OK(ends.status());
  int used = 0;
  for (int64_t e : *ends) used += e > 0;
  EXPECT_EQ(used, 4) << "64 keys hash onto all 4 partitions";
}

// Wraps the Kafka driver (as LevelDB's EnvWrapper wraps an Env) and hides the broker's end
// offsets and backlog, so that the drain must fall back to per-domain sequences, as it does for
// brokers that tell nothing (MQTT). With `drop_lane` >= 0 its consumers never see the messages of
// that partition, as if the broker had lost them; with `drop_offset` >= 0 only the message at that
// offset, which arrives damaged (so no offset is skipped). With `silent` false the end offsets are
// told.
class SilentBrokerDriver : public drivers::Driver {
 public:
  SilentBrokerDriver(drivers::Driver& base, int drop_lane, int64_t drop_offset = -1, bool silent = true)
      : base_(base), drop_lane_(drop_lane), drop_offset_(drop_offset), silent_(silent) {}
  std::string Name() const override { return "silent-" + base_.Name(); }

  Result<std::unique_ptr<drivers::Admin>> NewAdmin(const drivers::Endpoint& endpoint) override {
    ASSIGN_OR_RETURN(auto admin, base_.NewAdmin(endpoint));
    return std::unique_ptr<drivers::Admin>(new Admin(std::move(admin), silent_));
  }
  Result<std::unique_ptr<drivers::Producer>> NewProducer(const drivers::Endpoint& endpoint,
                                                         const drivers::ProducerOptions& options,
                                                         drivers::DeliveryHandler& handler) override {
    return base_.NewProducer(endpoint, options, handler);
  }
  Result<std::unique_ptr<drivers::Consumer>> NewConsumer(const drivers::Endpoint& endpoint,
                                                         const drivers::ConsumerOptions& options) override {
    ASSIGN_OR_RETURN(auto consumer, base_.NewConsumer(endpoint, options));
    return std::unique_ptr<drivers::Consumer>(new Consumer(std::move(consumer), drop_lane_, drop_offset_));
  }

 private:
  class Admin : public drivers::Admin {
   public:
    Admin(std::unique_ptr<drivers::Admin> base, bool silent) : base_(std::move(base)), silent_(silent) {}
    Status Ping(int64_t t) override { return base_->Ping(t); }
    Status CreateTopic(const drivers::TopicRequest& r, int64_t t) override { return base_->CreateTopic(r, t); }
    Result<drivers::TopicInfo> DescribeTopic(const std::string& n, int64_t t) override {
      return base_->DescribeTopic(n, t);
    }
    // Backlog(): the default, Unimplemented; EndOffsets() too when silent.
    Result<std::vector<int64_t>> EndOffsets(const std::string& topic, int64_t t) override {
      return silent_ ? drivers::Admin::EndOffsets(topic, t) : base_->EndOffsets(topic, t);
    }
    Status ReadStored(const std::string& topic, int64_t t,
                      const std::function<void(std::string_view)>& each) override {
      return base_->ReadStored(topic, t, each);
    }

   private:
    std::unique_ptr<drivers::Admin> base_;
    const bool silent_;
  };
  class Consumer : public drivers::Consumer, drivers::ReceiveHandler {
   public:
    Consumer(std::unique_ptr<drivers::Consumer> base, int drop_lane, int64_t drop_offset)
        : base_(std::move(base)), drop_lane_(drop_lane), drop_offset_(drop_offset) {}
    Result<size_t> Poll(int timeout_ms, drivers::ReceiveHandler& handler) override {
      handler_ = &handler;
      return base_->Poll(timeout_ms, *this);
    }
    void OnReceive(const drivers::Received& m) override {
      if (m.lane != drop_lane_ || (drop_offset_ >= 0 && m.offset != drop_offset_)) {
        handler_->OnReceive(m);
      } else if (drop_offset_ >= 0) {
        // Damaged on the way: its offset is seen (no skip), but no intact copy arrives.
        std::string damaged(m.payload);
        damaged.back() ^= 1;
        drivers::Received copy = m;
        copy.payload = damaged;
        handler_->OnReceive(copy);
      }
    }
    uint32_t Session() const override { return base_->Session(); }
    int AssignedLanes() const override { return base_->AssignedLanes(); }
    void Close() override { base_->Close(); }

   private:
    std::unique_ptr<drivers::Consumer> base_;
    const int drop_lane_;
    const int64_t drop_offset_;
    drivers::ReceiveHandler* handler_ = nullptr;
  };

  drivers::Driver& base_;
  const int drop_lane_;
  const int64_t drop_offset_;
  const bool silent_;
};

TEST_F(WorkloadRunnerTest, DrainWithoutOffsetsOrBacklogWaitsForTheHighestAckedSequence) {
  SilentBrokerDriver driver(*driver_, -1);
  const WorkloadResult r = RunThrough(driver, Options());
  EXPECT_TRUE(r.drain_caught_up);
  EXPECT_EQ(r.received, 4000u);
  EXPECT_EQ(r.delivery.ok, 4000u);
  EXPECT_EQ(r.delivery.unseen, 0u);
}

TEST_F(WorkloadRunnerTest, DrainWithoutOffsetsOrBacklogLeavesDomainsWithMissingTailsUnseen) {
  SilentBrokerDriver driver(*driver_, 2);
  WorkloadOptions o = Options();
  o.drain_timeout_ns = 2 * kNsPerSec;
  const WorkloadResult r = RunThrough(driver, o);
  EXPECT_FALSE(r.drain_caught_up);
  ASSERT_GT(r.acked, r.received) << "partition 2 carried messages";
  // Nothing the broker "lost" counts as lost: without end offsets or a backlog Drone cannot know
  // it was caught up, so the missing messages are unseen; the other partitions are ok.
  EXPECT_EQ(r.delivery.lost, 0u);
  EXPECT_EQ(r.delivery.unseen, r.acked - r.received);
  EXPECT_EQ(r.delivery.ok, r.received);
}

TEST_F(WorkloadRunnerTest, LostMessagesAreLookedUpInWhatTheBrokerStores) {
  // The consumers see offset 7 of partition 1 only damaged, but the broker keeps it intact: lost,
  // and stored.
  SilentBrokerDriver driver(*driver_, 1, 7, /*silent=*/false);
  const WorkloadResult r = RunThrough(driver, Options());
  EXPECT_TRUE(r.drain_caught_up);
  ASSERT_EQ(r.delivery.lost, 1u);
  EXPECT_EQ(r.delivery.lost_stored, 1);
  EXPECT_EQ(r.delivery.corrupt, 1u);
  EXPECT_EQ(r.delivery.examples.at("lost_stored"), r.delivery.examples.at("lost"));
}

TEST_F(WorkloadRunnerTest, NothingIsReadFromTheBrokerWhenNothingWasLost) {
  WorkloadOptions o = Options();
  o.messages = 400;
  const WorkloadResult r = RunThrough(*driver_, o);
  EXPECT_EQ(r.delivery.lost, 0u);
  EXPECT_EQ(r.delivery.lost_stored, -1);
}

}  // namespace
}  // namespace drone::workload
