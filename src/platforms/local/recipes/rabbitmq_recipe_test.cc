#include "platforms/local/recipes/rabbitmq_recipe.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace drone::platforms::local
