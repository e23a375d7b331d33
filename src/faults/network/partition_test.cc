#include "faults/network/partition.h"

#include <gtest/gtest.h>

#include "core/testutil.h"

namespace drone::faults::network {
namespace {

using nlohmann::json;

BlockedPairs Blocked(const char* spec, const std::vector<std::string>& hosts) {
  auto p = PartitionSpec::FromJson(json::parse(spec));
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  if (!p.ok()) return {};
  auto again = PartitionSpec::FromJson(p->ToJson());
  EXPECT_TRUE(again.ok() && *again == *p) << p->ToJson().dump();
  auto b = Resolve(*p, hosts);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : BlockedPairs{};
}

bool Connected(const BlockedPairs& b, const std::string& x, const std::string& y) {
  return !b.count({x, y}) && !b.count({y, x});
}

const std::vector<std::string> kFive = {"n1", "n2", "n3", "n4", "n5"};

TEST(PartitionTest, IsolateCutsOneNodeBothWays) {
  BlockedPairs b = Blocked(R"({"partition": "isolate", "nodes": ["n2"]})", {"n1", "n2", "n3"});
  EXPECT_EQ(b, (BlockedPairs{{"n1", "n2"}, {"n2", "n1"}, {"n2", "n3"}, {"n3", "n2"}}));
}

TEST(PartitionTest, HalvesKeepTheMajorityInTheSecondHalf) {
  BlockedPairs b = Blocked(R"({"partition": "halves"})", kFive);
  EXPECT_EQ(b.size(), 2u * 2 * 3);
  EXPECT_TRUE(Connected(b, "n1", "n2"));
  EXPECT_TRUE(Connected(b, "n3", "n5"));
  EXPECT_FALSE(Connected(b, "n2", "n3"));
}

TEST(PartitionTest, GroupsAndOneWay) {
  BlockedPairs g = Blocked(R"({"partition": "groups", "groups": [["n1"], ["n2", "n3"], ["n4"]]})",
                           {"n1", "n2", "n3", "n4"});
  EXPECT_TRUE(Connected(g, "n2", "n3"));
  EXPECT_FALSE(Connected(g, "n1", "n4"));
  EXPECT_EQ(g.size(), 2u * (2 + 1 + 2));
  BlockedPairs o = Blocked(R"({"partition": "one-way", "from": "n1", "to": "n3"})", kFive);
  EXPECT_EQ(o, (BlockedPairs{{"n1", "n3"}}));
}

TEST(PartitionTest, MajoritiesRingEveryNodeSeesADifferentMajority) {
  for (size_t n = 4; n <= 9; ++n) {
    std::vector<std::string> hosts;
    for (size_t i = 0; i < n; ++i) hosts.push_back("h" + std::to_string(i));
    BlockedPairs b = Blocked(R"({"partition": "majorities-ring"})", hosts);
    std::set<std::set<std::string>> views;
    for (const std::string& x : hosts) {
      std::set<std::string> view = {x};
      for (const std::string& y : hosts) {
        if (x != y && Connected(b, x, y)) view.insert(y);
      }
      EXPECT_GE(view.size(), n / 2 + 1) << x << " of " << n;
      EXPECT_LT(view.size(), n) << x << " of " << n << " sees everyone";
      views.insert(view);
    }
    EXPECT_EQ(views.size(), n) << "two nodes share a majority with " << n << " nodes";
  }
}

TEST(PartitionTest, BridgeJoinsTwoHalvesThroughTheMiddle) {
  BlockedPairs b = Blocked(R"({"partition": "bridge"})", kFive);
  for (const char* x : {"n1", "n2", "n4", "n5"}) EXPECT_TRUE(Connected(b, "n3", x)) << x;
  EXPECT_FALSE(Connected(b, "n1", "n4"));
  EXPECT_FALSE(Connected(b, "n2", "n5"));
  EXPECT_TRUE(Connected(b, "n1", "n2"));
}

TEST(PartitionTest, AmongLimitsTheHostsTakingPart) {
  BlockedPairs b = Blocked(R"({"partition": "halves", "among": ["n1", "n2"]})", kFive);
  EXPECT_EQ(b, (BlockedPairs{{"n1", "n2"}, {"n2", "n1"}}));
}

TEST(PartitionTest, ErrorsSayWhatToDo) {
  auto bad = [](const char* text) {
    auto p = PartitionSpec::FromJson(json::parse(text));
    return p.ok() ? std::string() : p.status().message();
  };
  EXPECT_NE(bad(R"({"partition": "split"})").find("is not a partition"), std::string::npos);
  EXPECT_NE(bad(R"({"partition": "isolate"})").find("nodes: required"), std::string::npos);
  EXPECT_NE(bad(R"({"partition": "halves", "nodes": ["a"]})").find("does not apply"),
            std::string::npos);
  EXPECT_NE(bad(R"({"partition": "one-way", "from": "a", "to": "a"})").find("must differ"),
            std::string::npos);
  auto ring = PartitionSpec::FromJson(json::parse(R"({"partition": "majorities-ring"})"));
  ASSERT_OK(ring.status());
  EXPECT_NE(Resolve(*ring, {"a", "b", "c"}).status().message().find("at least 4"),
            std::string::npos);
  auto iso = PartitionSpec::FromJson(json::parse(R"({"partition": "isolate", "nodes": ["z"]})"));
  EXPECT_NE(Resolve(*iso, {"a", "b"}).status().message().find("no host 'z'; the hosts are a, b"),
            std::string::npos);
}

}  // namespace
}  // namespace drone::faults::network
