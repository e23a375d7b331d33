#include "drivers/option_keys.h"

#include <gtest/gtest.h>

#include "core/testutil.h"

namespace drone::drivers {
namespace {

TEST(CheckOptionKeysTest, AcceptsKnownKeysAndNothing) {
  EXPECT_OK(CheckOptionKeys("nats", {}, {"mode", "batch"}, "consumer_config"));
  EXPECT_OK(CheckOptionKeys("nats", {{"batch", "10"}, {"mode", "pull"}}, {"mode", "batch"}, "consumer_config"));
}

TEST(CheckOptionKeysTest, NamesTheBrokerScopeKeyAndEveryAcceptedKey) {
  Status s = CheckOptionKeys("mqtt", {{"qos", "1"}, {"windw", "5"}}, {"qos", "window", "keepalive"},
                             "producer_config");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "mqtt: unknown producer_config key 'windw' (accepted: keepalive, qos, window)");
}

TEST(CheckOptionKeysTest, AnEmptyAcceptedSetRejectsAnyKey) {
  Status s = CheckOptionKeys("nats", {{"x", "1"}}, {}, "topic config");
  EXPECT_EQ(s.message(), "nats: unknown topic config key 'x' (accepted: )");
}

}  // namespace
}  // namespace drone::drivers
