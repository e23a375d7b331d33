#include "core/units.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace drone {
namespace {

TEST(UnitsTest, ParsesDurations) {
  EXPECT_EQ(ParseDuration("250ms").value(), 250 * kNsPerMs);
  EXPECT_EQ(ParseDuration("1.5s").value(), 1500 * kNsPerMs);
  EXPECT_EQ(ParseDuration("2m").value(), 120 * kNsPerSec);
  EXPECT_EQ(ParseDuration("100us").value(), 100 * kNsPerUs);
  EXPECT_EQ(ParseDuration("1h").value(), 3600 * kNsPerSec);
}

TEST(UnitsTest, RejectsBadDurations) {
  EXPECT_FALSE(ParseDuration("10").ok());
  EXPECT_NE(ParseDuration("10").status().message().find("no unit"), std::string::npos);
  EXPECT_FALSE(ParseDuration("ten s").ok());
  EXPECT_FALSE(ParseDuration("10 parsecs").ok());
  EXPECT_FALSE(ParseDuration("1..5s").ok());
  EXPECT_FALSE(ParseDuration("-3s").ok());
}

TEST(UnitsTest, ParsesSizes) {
  EXPECT_EQ(ParseSize("512").value(), 512);
  EXPECT_EQ(ParseSize("4KiB").value(), 4096);
  EXPECT_EQ(ParseSize("4kb").value(), 4000);
  EXPECT_EQ(ParseSize("1MiB").value(), 1048576);
  EXPECT_FALSE(ParseSize("1.5MB").ok());
  EXPECT_FALSE(ParseSize("12 bananas").ok());
}

TEST(UnitsTest, FormatsDurations) {
  EXPECT_EQ(FormatDuration(10 * kNsPerSec), "10s");
  EXPECT_EQ(FormatDuration(250 * kNsPerMs), "250ms");
  EXPECT_EQ(FormatDuration(1500 * kNsPerMs), "1.5s");
}

}  // namespace
}  // namespace drone
