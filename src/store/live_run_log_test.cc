#include "store/live_run_log.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "core/testutil.h"

namespace drone::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class LiveRunLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::path(::testing::TempDir()) /
           ("drone_live_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::unique_ptr<LiveRunLog> OpenOrDie() {
    auto log = LiveRunLog::Open(dir_.string());
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  fs::path dir_;
};

// A pid that is certainly not running: a child that has exited and been reaped.
int64_t DeadPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

TEST_F(LiveRunLogTest, ReadsRowsInOrderAfterASequenceNumber) {
  auto writer = OpenOrDie();
  auto reader = OpenOrDie();  // another connection, as the UI server has
  ASSERT_OK(writer->Begin({"r1", "flow", "2026-12-01T10:00:00.000Z", getpid()}));
  for (int i = 0; i < 5; ++i) ASSERT_OK(writer->AppendEvent("r1", {{"type", "E"}, {"i", i}}));
  ASSERT_OK(writer->AppendPoint("r1", "load", {{"t", 1}, {"sent", 7}}));
  auto after2 = reader->EventsAfter("r1", 2, 100);
  ASSERT_TRUE(after2.ok());
  ASSERT_EQ(after2->size(), 3u);
  EXPECT_EQ((*after2)[0].seq, 3);
  EXPECT_EQ((*after2)[0].value["i"], 2);
  auto limited = reader->EventsAfter("r1", 0, 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->size(), 2u);
  auto points = reader->PointsAfter("r1", 0, 100);
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ((*points)[0].value, json({{"workload", "load"}, {"point", {{"t", 1}, {"sent", 7}}}}));
  auto found = reader->Find("r1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->flow, "flow");
}

TEST_F(LiveRunLogTest, FinishRemovesTheRunsRows) {
  auto log = OpenOrDie();
  ASSERT_OK(log->Begin({"r1", "flow", "t", getpid()}));
  ASSERT_OK(log->AppendEvent("r1", {{"type", "E"}}));
  ASSERT_OK(log->Finish("r1"));
  auto found = log->Find("r1");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  auto rows = log->EventsAfter("r1", 0, 100);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

TEST_F(LiveRunLogTest, RunsOfWritersThatDiedAreNotInProgress) {
  {
    auto log = OpenOrDie();
    ASSERT_OK(log->Begin({"dead", "flow", "t1", DeadPid()}));
    ASSERT_OK(log->AppendEvent("dead", {{"type", "E"}}));
    ASSERT_OK(log->Begin({"alive", "flow", "t2", getpid()}));
    auto listed = log->List();
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].run_id, "alive");
    auto dead = log->Find("dead");
    ASSERT_TRUE(dead.ok());
    EXPECT_FALSE(dead->has_value());
  }
  // Opening again removes the dead writer's rows for good.
  auto log = OpenOrDie();
  auto rows = log->EventsAfter("dead", 0, 100);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

}  // namespace
}  // namespace drone::store
