// The Redis recipe on real servers: a primary, two replicas and three sentinels; a kill of the
// primary fails over, clients follow it, and the old primary returns as a replica.
#include "platforms/local/recipes/redis_recipe.h"

#include "core/clock.h"
#include "core/testutil.h"
#include "drivers/builtin_drivers.h"
#include "platforms/builtin_platforms.h"
#include "platforms/local/child_process.h"

namespace drone::platforms::local {
namespace {

class Acks : public drivers::DeliveryHandler {
 public:
  void OnDelivery(const drivers::Delivery& d) override { acked += d.outcome == drivers::Outcome::kAck; }
  int acked = 0;
};

class RedisRecipeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FindExecutable("redis-server").ok() || !FindExecutable("redis-sentinel").ok()) {
      GTEST_SKIP() << "redis-server / redis-sentinel are not installed";
    }
  }
  ClusterRequest Request() {
    ClusterRequest r;
    r.name = "redis-test";
    r.broker = "redis";
    r.nodes = 3;
    return r;
  }
  std::unique_ptr<Platform> platform_ = std::move(PlatformRegistry().Create("local")).value();
};

TEST_F(RedisRecipeTest, ValidatesNodesAndOptions) {
  ClusterRequest r = Request();
  EXPECT_OK(platform_->Validate(r));
  r.options["sentinel"] = "3";
  Status s = platform_->Validate(r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("sentinels"), std::string::npos) << s.message();
  r = Request();
  r.options["appendfsync"] = "sometimes";
  EXPECT_EQ(platform_->Validate(r).code(), StatusCode::kInvalidArgument);
  r = Request();
  r.nodes = 12;
  EXPECT_EQ(platform_->Validate(r).code(), StatusCode::kInvalidArgument);
  r = Request();
  r.lb = "haproxy";
  EXPECT_EQ(platform_->Validate(r).code(), StatusCode::kInvalidArgument) << "clients ask the sentinels";
}

TEST_F(RedisRecipeTest, PrimaryFailsOverAndReturnsAsAReplica) {
  auto cluster = platform_->CreateCluster(Request());
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  std::vector<NodeInfo> nodes = (*cluster)->Nodes();
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].role, "primary");
  EXPECT_EQ(nodes[1].role, "replica");
  EXPECT_EQ(nodes[2].role, "replica");
  NodeControl* control = (*cluster)->Control();
  Result<std::string> primary = control->ResolveTarget("primary", 1);
  ASSERT_TRUE(primary.ok()) << primary.status().ToString();
  EXPECT_EQ(*primary, "redis-1");

  auto driver = std::move(drivers::DriverRegistry().Create("redis")).value();
  ASSERT_OK((*cluster)->CreateTopic({"orders", 1, 1, {}}));
  drivers::ProducerOptions po;
  po.topic = "orders";
  // One replica's acknowledgement: still possible once the primary is gone (acks: all would
  // wait for two, and the outcome after the failover would be indeterminate).
  po.extra["wait_replicas"] = "1";
  Acks acks;
  auto producer = driver->NewProducer((*cluster)->Endpoint(), po, acks);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  ASSERT_OK((*producer)->Send(0, "", "before", 1));
  EXPECT_EQ((*producer)->Flush(5 * kNsPerSec), 0u);
  EXPECT_EQ(acks.acked, 1);

  ASSERT_OK(control->Kill("redis-1"));
  // The sentinels notice (down_after 1 s) and promote a replica.
  std::string promoted;
  const int64_t deadline = MonotonicNs() + 30 * kNsPerSec;
  while (MonotonicNs() < deadline) {
    Result<std::string> p = control->ResolveTarget("primary", 1);
    if (p.ok() && *p != "redis-1") {
      promoted = *p;
      break;
    }
    SleepUntilNs(NowNs() + 100 * kNsPerMs);
  }
  ASSERT_NE(promoted, "") << "no failover within 30 s";
  // The producer finds the new primary itself.
  int64_t send_deadline = MonotonicNs() + 20 * kNsPerSec;
  while (acks.acked < 2 && MonotonicNs() < send_deadline) {
    Status s = (*producer)->Send(0, "", "after", 2);
    if (s.ok()) (*producer)->Flush(3 * kNsPerSec);
    else (*producer)->Poll(50);
  }
  EXPECT_GE(acks.acked, 2);

  ASSERT_OK(control->Start("redis-1", true));  // waits until it replicates again
  nodes = (*cluster)->Nodes();
  EXPECT_EQ(nodes[0].role, "replica");
  ASSERT_OK((*cluster)->Stop());
}

}  // namespace
}  // namespace drone::platforms::local
