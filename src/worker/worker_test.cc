// The coordinator and `drone worker` servers in one process, over loopback HTTP, against the
// embedded Kafka cluster: a workload split over workers must account like one process.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "core/testutil.h"
#include "drivers/builtin_drivers.h"
#include "platforms/builtin_platforms.h"
#include "worker/coordinator.h"
#include "worker/protocol.h"
#include "worker/worker_server.h"

namespace drone::worker {
namespace {

class CountingObserver : public workload::WorkloadObserver {
 public:
  void OnStarted() override { ++started; }
  void OnSecond(const workload::SeriesPoint&, const workload::LiveTotals&, double, bool) override {
    ++seconds;
  }
  int started = 0, seconds = 0;
};

class WorkerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SetLogLevel(LogLevel::kInfo);
    auto platform = platforms::PlatformRegistry().Create("embedded");
    ASSERT_OK(platform.status());
    auto cluster = (*platform)->CreateCluster({"c", "kafka", 3, ""});
    ASSERT_OK(cluster.status());
    cluster_ = std::move(cluster).value().release();
    ASSERT_OK(cluster_->CreateTopic({"t", 4, 3, {}}));
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void SetUp() override {
    auto driver = drivers::DriverRegistry().Create("kafka");
    ASSERT_OK(driver.status());
    driver_ = std::move(driver).value();
  }

  workload::WorkloadOptions Options(const std::string& group) {
    workload::WorkloadOptions o;
    o.name = "load";
    o.topic = "t";
    o.producers = 3;
    o.consumers = 2;
    o.rate = 3000;
    o.messages = 3000;
    o.size.bytes = 100;
    o.group = group + "-" + std::to_string(NowNs());
    o.run_id = 0x1234 + static_cast<uint64_t>(NowNs());
    o.drain_timeout_ns = 30 * kNsPerSec;
    return o;
  }

  std::unique_ptr<WorkerServer> StartWorker(const std::string& token = "") {
    WorkerServerOptions options;
    options.port = 0;
    options.token = token;
    auto started = WorkerServer::Start(options);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    return started.ok() ? std::move(started).value() : nullptr;
  }

  static platforms::Cluster* cluster_;
  std::unique_ptr<drivers::Driver> driver_;
};

platforms::Cluster* WorkerTest::cluster_ = nullptr;

TEST_F(WorkerTest, SplitWorkloadAccountsLikeOneProcess) {
  auto w1 = StartWorker();
  auto w2 = StartWorker();
  ASSERT_TRUE(w1 && w2);
  CountingObserver observer;
  CancelToken cancel;
  const workload::WorkloadOptions options = Options("split");
  Result<workload::WorkloadResult> r =
      RunOnWorkers({{w1->url(), ""}, {w2->url(), ""}}, "kafka", *driver_, cluster_->Endpoint(),
                   options, &observer, cancel);
  ASSERT_OK(r.status());
  EXPECT_EQ(observer.started, 1);
  EXPECT_GE(observer.seconds, 1);
  EXPECT_EQ(r->sent, 3000u);
  EXPECT_EQ(r->acked, 3000u);
  EXPECT_EQ(r->received, 3000u);
  EXPECT_TRUE(r->consumed);
  EXPECT_TRUE(r->drain_caught_up);
  EXPECT_EQ(r->delivery.sent, 3000u);
  EXPECT_EQ(r->delivery.ok, 3000u);
  EXPECT_EQ(r->delivery.lost + r->delivery.duplicated + r->delivery.unexpected +
                r->delivery.unseen + r->delivery.unacked_received,
            0u);
  EXPECT_EQ(r->publish.TotalCount(), 3000u);
  EXPECT_EQ(r->end_to_end.TotalCount(), 3000u);
  EXPECT_EQ(r->lanes, 4);
  uint64_t series_sent = 0;
  for (const workload::SeriesPoint& p : r->series) series_sent += p.sent;
  EXPECT_EQ(series_sent, 3000u);
  // The shares are deleted once fetched.
  EXPECT_EQ(w1->shares() + w2->shares(), 0);

  // The same workload in one process: the same accounting.
  ASSERT_OK(cluster_->CreateTopic({"t-single", 4, 3, {}}));
  workload::WorkloadOptions single = Options("single");
  single.topic = "t-single";  // not the messages of the run above
  workload::WorkloadRunner runner(*driver_, cluster_->Endpoint(), single, nullptr, nullptr);
  ASSERT_OK(runner.Run(cancel));
  const workload::WorkloadResult& s = runner.result();
  EXPECT_EQ(s.sent, r->sent);
  EXPECT_EQ(s.acked, r->acked);
  EXPECT_EQ(s.received, r->received);
  EXPECT_EQ(s.delivery.ok, r->delivery.ok);
  EXPECT_EQ(s.delivery.unexpected, r->delivery.unexpected);
  EXPECT_EQ(s.publish.TotalCount(), r->publish.TotalCount());
  EXPECT_EQ(s.drain_caught_up, r->drain_caught_up);
}

TEST_F(WorkerTest, MoreWorkersThanClientsLeavesTheRestIdle) {
  auto w1 = StartWorker();
  auto w2 = StartWorker();
  auto w3 = StartWorker();
  ASSERT_TRUE(w1 && w2 && w3);
  workload::WorkloadOptions options = Options("idle");
  options.producers = 1;
  options.consumers = 1;
  options.messages = 500;
  CancelToken cancel;
  Result<workload::WorkloadResult> r = RunOnWorkers(
      {{w1->url(), ""}, {w2->url(), ""}, {w3->url(), ""}}, "kafka", *driver_, cluster_->Endpoint(),
      options, nullptr, cancel);
  ASSERT_OK(r.status());
  EXPECT_EQ(r->delivery.ok, 500u);
}

TEST_F(WorkerTest, UnreachableWorkerFailsNamingIt) {
  CancelToken cancel;
  const int64_t start = MonotonicNs();
  Result<workload::WorkloadResult> r =
      RunOnWorkers({{"http://127.0.0.1:1", ""}}, "kafka", *driver_, cluster_->Endpoint(),
                   Options("unreachable"), nullptr, cancel);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("http://127.0.0.1:1"), std::string::npos) << r.status().ToString();
  EXPECT_LT(MonotonicNs() - start, 15 * kNsPerSec);
}

class StartFlag : public workload::WorkloadObserver {
 public:
  void OnStarted() override { started.store(true); }
  std::atomic<bool> started{false};
};

TEST_F(WorkerTest, WorkerThatDiesMidRunFailsTheWorkloadNamingIt) {
  auto w1 = StartWorker();
  auto w2 = StartWorker();
  ASSERT_TRUE(w1 && w2);
  const std::string dead_url = w2->url();
  workload::WorkloadOptions options = Options("dies");
  options.messages.reset();
  options.duration_ns = 60 * kNsPerSec;  // far longer than the test waits
  options.rate = 500;
  StartFlag observer;
  CancelToken cancel;
  Result<workload::WorkloadResult> r = Unavailable("not run");
  std::thread coordinator([&] {
    r = RunOnWorkers({{w1->url(), ""}, {w2->url(), ""}}, "kafka", *driver_, cluster_->Endpoint(),
                     options, &observer, cancel);
  });
  const int64_t deadline = MonotonicNs() + 60 * kNsPerSec;
  while (!observer.started.load() && MonotonicNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(observer.started.load());
  const int64_t killed = MonotonicNs();
  w2.reset();  // the worker goes away mid-run
  coordinator.join();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dead_url), std::string::npos) << r.status().ToString();
  EXPECT_LT(MonotonicNs() - killed, 30 * kNsPerSec);
  // The surviving worker's share was deleted by the coordinator on its way out.
  EXPECT_EQ(w1->shares(), 0);
}

TEST_F(WorkerTest, WrongTokenIsRefused) {
  auto w = StartWorker("s3cret");
  ASSERT_TRUE(w);
  CancelToken cancel;
  Result<workload::WorkloadResult> r = RunOnWorkers({{w->url(), "wrong"}}, "kafka", *driver_,
                                                    cluster_->Endpoint(), Options("token"), nullptr, cancel);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("token"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(w->shares(), 0);

  httplib::Client client(w->url());
  client.set_default_headers({{"Authorization", "Bearer s3cret"}});
  httplib::Result health = client.Get("/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(WorkerTest, ShareOfASilentCoordinatorIsAbortedAndDropped) {
  WorkerServerOptions server_options;
  server_options.port = 0;
  server_options.reap_interval_ns = 50 * kNsPerMs;
  auto started = WorkerServer::Start(server_options);
  ASSERT_OK(started.status());
  std::unique_ptr<WorkerServer> w = std::move(started).value();
  Assignment a;
  a.id = "silent";
  a.driver = "kafka";
  a.endpoint = cluster_->Endpoint();
  a.options = Options("silent");
  a.options.producer_ids = std::vector<int>{0};
  a.options.consumer_ids = std::vector<int>{0};
  a.lease_ns = kNsPerSec;
  httplib::Client client(w->url());
  httplib::Result created = client.Post("/v1/workloads", AssignmentToJson(a).dump(), "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  EXPECT_EQ(w->shares(), 1);
  // Nobody polls: one lease to abort it, another to drop it.
  const int64_t deadline = MonotonicNs() + 30 * kNsPerSec;
  while (w->shares() > 0 && MonotonicNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(w->shares(), 0);
}

TEST_F(WorkerTest, DuplicateShareIdIsAConflict) {
  auto w = StartWorker();
  ASSERT_TRUE(w);
  Assignment a;
  a.id = "twice";
  a.driver = "kafka";
  a.endpoint = cluster_->Endpoint();
  a.options = Options("twice");
  a.options.producer_ids = std::vector<int>{0};
  httplib::Client client(w->url());
  httplib::Result first = client.Post("/v1/workloads", AssignmentToJson(a).dump(), "application/json");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 201);
  httplib::Result second = client.Post("/v1/workloads", AssignmentToJson(a).dump(), "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 409);
  a.driver = "no-such-driver";
  a.id = "other";
  httplib::Result bad = client.Post("/v1/workloads", AssignmentToJson(a).dump(), "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  httplib::Result deleted = client.Delete("/v1/workloads/twice");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 200);
  EXPECT_EQ(w->shares(), 0);
}

}  // namespace
}  // namespace drone::worker
