#include "core/cancel.h"

#include <gtest/gtest.h>

namespace drone {
namespace {

TEST(CancelTokenTest, GracefulUntilHurried) {
  CancelToken t;
  EXPECT_FALSE(t.cancelled());
  t.Cancel("the flow ended", /*graceful=*/true);
  EXPECT_TRUE(t.graceful());
  EXPECT_FALSE(t.aborted());
  t.Cancel("interrupted by SIGINT");  // a second Cancel changes nothing
  EXPECT_TRUE(t.graceful());
  EXPECT_EQ(t.reason(), "the flow ended");
  t.Hurry("interrupted by SIGINT");
  EXPECT_TRUE(t.hurried());
  EXPECT_FALSE(t.graceful());
  EXPECT_TRUE(t.aborted());
  EXPECT_EQ(t.reason(), "the flow ended") << "the first reason stays";
}

TEST(CancelTokenTest, HurryAloneCancels) {
  CancelToken t;
  t.Hurry("interrupted by SIGINT");
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(t.aborted());
  EXPECT_TRUE(t.WaitFor(int64_t{3600} * 1'000'000'000)) << "returns at once";
  EXPECT_EQ(t.reason(), "interrupted by SIGINT");
}

}  // namespace
}  // namespace drone
