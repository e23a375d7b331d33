#include "core/text.h"

#include <gtest/gtest.h>

namespace drone {
namespace {

TEST(TextTest, EditDistanceCountsSingleCharacterEdits) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("partitions", "partitions"), 0u);
  EXPECT_EQ(EditDistance("partitons", "partitions"), 1u);  // deletion
  EXPECT_EQ(EditDistance("replicaton", "replication"), 1u);
  EXPECT_EQ(EditDistance("acks", "ackz"), 1u);              // substitution
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
}

}  // namespace
}  // namespace drone
