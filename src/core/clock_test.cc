#include "core/clock.h"

#include <gtest/gtest.h>

namespace drone {
namespace {

TEST(ClockTest, NowIsMonotonicAndNearWallClock) {
  int64_t prev = NowNs();
  for (int i = 0; i < 100000; ++i) {
    int64_t now = NowNs();
    ASSERT_GE(now, prev);
    prev = now;
  }
  EXPECT_NEAR(static_cast<double>(NowNs() / kNsPerSec), static_cast<double>(time(nullptr)), 2.0);
}

TEST(ClockTest, FormatsUtcWithMillis) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimestamp(1'700'000'000'123'000'000), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace drone
