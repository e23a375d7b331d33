#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "flow/steps/step_test_flow.h"

namespace drone::flow {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class FlowStepTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "drone-flow-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(FlowStepTest, RunsTheSubFlowAndPassesItsOutputsOn) {
  Write("parts/setup.yaml", R"(name: setup
params: {greeting: hello}
steps:
  cluster: {kind: cluster, with: {nodes: 1}}
  say: {kind: exec, needs: [cluster], with: {argv: [echo, "${{ params.greeting }}"]}}
)");
  const std::string parent = Write("parent.yaml", R"(name: parent
steps:
  setup: {kind: flow, with: {path: parts/setup.yaml, params: {greeting: bonjour}}}
  after: {kind: exec, needs: [setup], with: {argv: [echo, "${{ steps.setup.outputs.steps.say.outputs.stdout }}"]}}
)");
  std::ifstream in(parent);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  TestFlowRun run(text, parent);
  ASSERT_EQ(run.outcome.exit_code, 0) << run.Step("setup").error.ToString();
  EXPECT_EQ(run.ctx.Outputs("after")["stdout"], "bonjour");
  const nlohmann::json out = run.ctx.Outputs("setup");
  EXPECT_EQ(out["steps"]["say"]["status"], "succeeded");
  EXPECT_EQ(out["steps"]["cluster"]["outputs"]["nodes"].size(), 1u);
  EXPECT_EQ(out["verdict"], "pass");

  // The sub-flow's steps show in the parent's events under "setup/"; its cluster is stopped in
  // the parent's teardown, after every step (including `after`) has ended.
  const int sub_start = run.EventIndex("STEP_START:setup/say");
  const int sub_end = run.EventIndex("FLOW_END:setup");
  const int after_done = run.EventIndex("STEP_SUCCESS:after");
  ASSERT_GE(sub_start, 0);
  ASSERT_GT(sub_end, sub_start);
  ASSERT_GT(after_done, sub_end);
  int undo = -1;
  const std::vector<Event> events = run.ctx.Events();
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].type == "UNDO" && events[i].message.find("setup: stop cluster") == 0) {
      undo = static_cast<int>(i);
    }
  }
  EXPECT_GT(undo, after_done);
  EXPECT_FALSE(run.ctx.FindCluster("setup/cluster").ok());  // stopped and forgotten
}

TEST_F(FlowStepTest, AFailingCheckInTheSubFlowFailsTheVerdict) {
  Write("sub.yaml", R"(name: sub
steps:
  cluster: {kind: cluster, with: {nodes: 1}}
  topic: {kind: topic, needs: [cluster], with: {name: t, partitions: 1}}
  load: {kind: workload, needs: [topic], with: {messages: 50, rate: 1000, size: 64}}
  verify: {kind: check, needs: [load], with: {expect: {received: "> 1000"}}}
)");
  const std::string parent = Write("parent.yaml", R"(name: parent
steps:
  sub: {kind: flow, with: {path: sub.yaml}}
)");
  std::ifstream in(parent);
  TestFlowRun run(std::string((std::istreambuf_iterator<char>(in)), {}), parent);
  EXPECT_EQ(run.outcome.exit_code, 1);
  EXPECT_EQ(run.outcome.verdict, verify::Verdict::kFail);
  EXPECT_THAT(run.Step("sub").error.message(), HasSubstr("check verify"));
  // The sub-flow's workload and check are the parent's too, under their scoped names.
  EXPECT_EQ(run.ctx.Workloads().count("sub/load"), 1u);
  ASSERT_EQ(run.ctx.Checks().size(), 1u);
  EXPECT_EQ(run.ctx.Checks()[0].step, "sub/verify");
  EXPECT_EQ(run.ctx.Checks()[0].workload, "sub/load");
}

}  // namespace
}  // namespace drone::flow
