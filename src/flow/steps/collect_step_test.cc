#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "flow/steps/step_test_flow.h"

namespace drone::flow {
namespace {

namespace fs = std::filesystem;

class CollectStepTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "drone-collect-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ / "src" / "sub");
    Write(root_ / "src" / "a.log", "alpha\n");
    Write(root_ / "src" / "b.log", "bravo!\n");
    Write(root_ / "src" / "c.txt", "not a log");
    Write(root_ / "src" / "sub" / "d.log", "delta");
  }
  void TearDown() override { fs::remove_all(root_); }

  static void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
  static std::string Read(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string Src() const { return (root_ / "src").string(); }
  fs::path RunDir() const { return root_ / "run"; }

  fs::path root_;
};

TEST_F(CollectStepTest, CopiesGlobMatchesAndStepLogsAndRecordsArtifacts) {
  TestFlowRun run(R"(name: t
steps:
  hello: {kind: exec, with: {argv: [/bin/sh, -c, "echo out; echo err >&2"]}}
finally:
  logs: {kind: collect, with: {name: evidence, paths: [")" + Src() + R"(/*.log", ")" + Src() + R"(/sub", ")" + Src() + R"(/none-*.gz"]}}
)",
                  "test.yaml", RunDir().string());
  ASSERT_EQ(run.outcome.exit_code, 0) << run.Step("logs").error.ToString();
  const fs::path dir = RunDir() / "evidence";
  EXPECT_EQ(Read(dir / "a.log"), "alpha\n");
  EXPECT_EQ(Read(dir / "b.log"), "bravo!\n");
  EXPECT_FALSE(fs::exists(dir / "c.txt"));
  EXPECT_EQ(Read(dir / "sub" / "d.log"), "delta");
  EXPECT_EQ(Read(dir / "logs" / "hello.stdout"), "out");
  EXPECT_EQ(Read(dir / "logs" / "hello.stderr"), "err\n");

  std::map<std::string, Artifact> by_name;
  for (const Artifact& a : run.ctx.Artifacts()) by_name[a.name] = a;
  ASSERT_EQ(by_name.size(), 5u);
  EXPECT_EQ(by_name["a.log"].step, "logs");
  EXPECT_EQ(by_name["a.log"].bytes, 6);
  EXPECT_EQ(by_name["a.log"].path, fs::absolute(dir / "a.log").string());
  EXPECT_EQ(by_name["sub"].bytes, 5);  // a directory counts the bytes of its files
  EXPECT_EQ(by_name["logs/hello.stdout"].step, "hello");  // a log belongs to its step
  EXPECT_EQ(by_name["logs/hello.stderr"].bytes, 4);
  const nlohmann::json out = run.ctx.Outputs("logs");
  EXPECT_EQ(out["missing"], nlohmann::json::array({Src() + "/none-*.gz"}));
  EXPECT_EQ(out["dir"], fs::absolute(dir).string());
}

TEST_F(CollectStepTest, SameNamesDoNotOverwriteEachOther) {
  fs::create_directories(root_ / "other");
  Write(root_ / "other" / "a.log", "second");
  TestFlowRun run(R"(name: t
steps:
  c: {kind: collect, with: {logs: false, paths: [")" + Src() + R"(/a.log", ")" +
                      (root_ / "other").string() + R"(/a.log"]}}
)",
                  "test.yaml", RunDir().string());
  ASSERT_EQ(run.outcome.exit_code, 0);
  EXPECT_EQ(Read(RunDir() / "c" / "a.log"), "alpha\n");
  EXPECT_EQ(Read(RunDir() / "c" / "a.log-2"), "second");
  EXPECT_EQ(run.ctx.Artifacts().size(), 2u);  // logs: false, so no step logs
}

TEST_F(CollectStepTest, WithoutARunDirectoryTheStepFails) {
  TestFlowRun run(R"(name: t
steps:
  c: {kind: collect}
)");
  EXPECT_EQ(run.Step("c").status, StepStatus::kFailed);
  EXPECT_NE(run.Step("c").error.message().find("no run directory"), std::string::npos);
}

}  // namespace
}  // namespace drone::flow
