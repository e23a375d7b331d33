// A real mosquitto on the local platform: started, reachable over MQTT, its persistence in the
// run directory keeping a persistent session's messages across a graceful restart. Skips when
// mosquitto is not installed.
#include "platforms/local/recipes/mosquitto_recipe.h"

#include <gtest/gtest.h>

#include <set>

#include "core/clock.h"
#include "core/testutil.h"
#include "drivers/mqtt/mqtt_driver.h"
#include "platforms/local/child_process.h"
#include "platforms/local/local_platform.h"

namespace drone::platforms::local {
namespace {

class Collect : public drivers::DeliveryHandler, public drivers::ReceiveHandler {
 public:
  void OnDelivery(const drivers::Delivery& d) override {
    acked += d.outcome == drivers::Outcome::kAck ? 1 : 0;
  }
  void OnReceive(const drivers::Received& r) override { received.insert(std::string(r.payload)); }
  int acked = 0;
  std::set<std::string> received;
};

TEST(MosquittoRecipeTest, ValidatesNodesAndOptions) {
  auto recipe = NewMosquittoRecipe();
  ClusterRequest r;
  r.broker = "mqtt";
  r.nodes = 1;
  r.options = {{"persistence", "false"}, {"max_inflight_messages", "100"}};
  EXPECT_OK(recipe->Validate(r));
  r.nodes = 3;
  EXPECT_EQ(recipe->Validate(r).code(), StatusCode::kInvalidArgument);
  r.nodes = 1;
  r.options = {{"persistance", "true"}};
  Status s = recipe->Validate(r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("persistence"), std::string::npos) << "names the known options";
  r.options = {{"autosave_interval", "often"}};
  EXPECT_EQ(recipe->Validate(r).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(recipe->SupportsLoadBalancer());
}

TEST(MosquittoRecipeTest, PersistentSessionSurvivesAGracefulRestart) {
  if (!FindExecutable("mosquitto").ok()) GTEST_SKIP() << "mosquitto is not installed";
  auto platform = NewLocalPlatform();
  ClusterRequest r;
  r.name = "mqtttest";
  r.broker = "mqtt";
  r.nodes = 1;
  auto cluster = platform->CreateCluster(r);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  ASSERT_EQ((*cluster)->Nodes().size(), 1u);
  EXPECT_EQ((*cluster)->Nodes()[0].name, "mosquitto-1");
  NodeControl* control = (*cluster)->Control();
  EXPECT_EQ(control->ResolveTarget("leader", 1).status().code(), StatusCode::kInvalidArgument);

  auto driver = drivers::NewMqttDriver();
  const drivers::Endpoint endpoint = (*cluster)->Endpoint();
  drivers::ConsumerOptions co{"c1", "events", "group", {}};
  { ASSERT_TRUE(driver->NewConsumer(endpoint, co).ok()); }  // the session now exists, offline
  Collect c;
  {
    drivers::ProducerOptions po;
    po.client_id = "p1";
    po.topic = "events";
    auto producer = driver->NewProducer(endpoint, po, c);
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    for (uint64_t i = 0; i < 50; ++i) {
      ASSERT_OK((*producer)->Send(0, "", "m" + std::to_string(i), i));
      (*producer)->Poll(0);
    }
    EXPECT_EQ((*producer)->Flush(5 * kNsPerSec), 0u);
  }
  ASSERT_EQ(c.acked, 50);
  ASSERT_OK(control->Stop("mosquitto-1"));  // SIGTERM: mosquitto writes mosquitto.db
  ASSERT_OK(control->Start("mosquitto-1", false));
  auto consumer = driver->NewConsumer((*cluster)->Endpoint(), co);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  for (int64_t deadline = MonotonicNs() + 10 * kNsPerSec;
       c.received.size() < 50 && MonotonicNs() < deadline;) {
    ASSERT_TRUE((*consumer)->Poll(50, c).ok());
  }
  EXPECT_EQ(c.received.size(), 50u) << "queued for the session, kept on disk across the restart";
  consumer->reset();
  ASSERT_OK((*cluster)->Stop());
}

}  // namespace
}  // namespace drone::platforms::local
