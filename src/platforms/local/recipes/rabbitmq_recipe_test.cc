#include "platforms/local/recipes/rabbitmq_recipe.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/testutil.h"

namespace drone::platforms::local {
namespace {

// What rabbitmqctl 3.10 prints for `list_queues --formatter json name type leader`.
constexpr char kTwoQueues[] = R"([
{"name":"qq","type":"quorum","leader":"drone-c-2@localhost"}
,{"name":"cq","type":"classic","leader":""}
])";

TEST(RabbitMqRecipeTest, ParsesTheQueueList) {
  auto rows = ParseRabbitMqQueues(kTwoQueues);
  ASSERT_OK(rows.status());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].name, "qq");
  EXPECT_EQ((*rows)[0].type, "quorum");
  EXPECT_EQ((*rows)[0].leader, "drone-c-2@localhost");
  EXPECT_EQ((*rows)[1].type, "classic");
  EXPECT_TRUE((*rows)[1].leader.empty());
  EXPECT_EQ(ParseRabbitMqQueues("Error: unable to perform an operation").status().code(),
            StatusCode::kUnavailable);
}

TEST(RabbitMqRecipeTest, LeaderRoleNeedsOneQueueOrAName) {
  auto rows = ParseRabbitMqQueues(kTwoQueues);
  ASSERT_OK(rows.status());
  Status ambiguous = PickRabbitMqQueue(*rows, "").status();
  EXPECT_EQ(ambiguous.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ambiguous.message().find("leader:<queue>"), std::string::npos) << ambiguous.message();
  auto named = PickRabbitMqQueue(*rows, "cq");
  ASSERT_OK(named.status());
  EXPECT_EQ(named->type, "classic");
  EXPECT_EQ(PickRabbitMqQueue(*rows, "nope").status().code(), StatusCode::kUnavailable);
  std::vector<RabbitMqQueueRow> one = {(*rows)[0]};
  auto only = PickRabbitMqQueue(one, "");
  ASSERT_OK(only.status());
  EXPECT_EQ(only->name, "qq");
}

TEST(RabbitMqRecipeTest, OnLoopbackOneEpmdServesEveryNode) {
  auto recipe = NewRabbitMqRecipe();
  ClusterRequest r;
  r.name = "c";
  r.nodes = 3;
  EXPECT_FALSE(recipe->DistinctAddresses());
  std::vector<NodeTemplate> layout = recipe->Layout(r);
  ASSERT_EQ(layout.size(), 4u);
  EXPECT_EQ(layout[0].name, "epmd");
  EXPECT_EQ(layout[0].ports, std::vector<std::string>{"epmd"});
  for (const NodeTemplate& t : layout) EXPECT_TRUE(t.shares_host_with.empty()) << t.name;
}

// In a lab: an epmd on every node's host, long node names by address, and the distribution on
// that address only.
TEST(RabbitMqRecipeTest, InALabEveryNodeHasItsOwnEpmdAndALongName) {
  auto recipe = NewRabbitMqRecipe();
  EXPECT_TRUE(recipe->SupportsLab());
  ClusterRequest r;
  r.name = "c";
  r.nodes = 3;
  r.network = "lab";
  std::vector<NodeTemplate> layout = recipe->Layout(r);
  ASSERT_EQ(layout.size(), 6u);
  const std::string dir = ::testing::TempDir() + "/rabbitmq-lab-" + std::to_string(::getpid());
  std::vector<LocalNode> nodes;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(layout[i].name, "epmd-" + std::to_string(i + 1));
    EXPECT_EQ(layout[i].kind, "epmd");
    EXPECT_TRUE(layout[i].ports.empty()) << "every epmd takes the standard port in its namespace";
    EXPECT_EQ(layout[i].shares_host_with, "rabbitmq-" + std::to_string(i + 1));
    EXPECT_EQ(layout[i + 3].name, "rabbitmq-" + std::to_string(i + 1));
    EXPECT_TRUE(layout[i + 3].shares_host_with.empty());
  }
  for (size_t i = 0; i < layout.size(); ++i) {
    LocalNode n;
    n.name = layout[i].name;
    n.kind = layout[i].kind;
    n.index = static_cast<int>(i % 3);
    n.host = "10.213.0." + std::to_string(2 + i % 3);
    if (n.kind == "server") n.ports = {{"client", 5672}, {"dist", 25672}};
    n.dir = dir + "/" + n.name;
    std::filesystem::create_directories(n.dir);
    nodes.push_back(std::move(n));
  }
  ASSERT_OK(recipe->Configure(r, nodes));
  EXPECT_EQ(nodes[1].process.argv,
            (std::vector<std::string>{"epmd", "-address", "10.213.0.3", "-port", "4369"}));
  const auto& env = nodes[4].process.env;
  EXPECT_EQ(env.at("RABBITMQ_NODENAME"), "drone-c-2@10.213.0.3");
  EXPECT_EQ(env.at("RABBITMQ_USE_LONGNAME"), "true");
  EXPECT_EQ(env.at("ERL_EPMD_PORT"), "4369");
  EXPECT_NE(
      env.at("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS").find("inet_dist_use_interface {10,213,0,3}"),
      std::string::npos)
      << env.at("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS");
  std::ifstream conf(nodes[4].dir + "/rabbitmq.conf");
  std::string text((std::istreambuf_iterator<char>(conf)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("listeners.tcp.default = 10.213.0.3:5672"), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace drone::platforms::local
