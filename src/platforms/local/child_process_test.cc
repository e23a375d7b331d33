#include "platforms/local/child_process.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/testutil.h"

namespace drone::platforms::local {
namespace {

class ChildProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/child-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ProcessSpec Spec(std::vector<std::string> argv) {
    ProcessSpec spec;
    spec.name = argv[0];
    spec.argv = std::move(argv);
    spec.log_path = dir_ + "/out.log";
    return spec;
  }

  // Waits (with a deadline) until the log holds a line, and returns the log.
  std::string WaitForLog(const std::string& path, const std::string& needle) {
    const int64_t deadline = MonotonicNs() + 10 * kNsPerSec;
    std::string text;
    while (MonotonicNs() < deadline) {
      std::ifstream in(path);
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
      if (text.find(needle) != std::string::npos) return text;
      SleepUntilNs(NowNs() + 10 * kNsPerMs);
    }
    return text;
  }

  std::string dir_;
};

// The state letter of /proc/<pid>/stat ('S', 'T', 'Z'), or 0 when the process is gone.
char ProcState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  return stat[close + 2];
}

TEST_F(ChildProcessTest, FindsProgramsInPath) {
  Result<std::string> sleep = FindExecutable("sleep");
  ASSERT_TRUE(sleep.ok()) << sleep.status().ToString();
  EXPECT_EQ(sleep->front(), '/');
  EXPECT_EQ(FindExecutable("no-such-program-drone").status().code(), StatusCode::kNotFound);
}

TEST_F(ChildProcessTest, MissingProgramStartsNothing) {
  auto child = ChildProcess::Start(Spec({"no-such-program-drone"}));
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), StatusCode::kNotFound);
  EXPECT_NE(child.status().message().find("no-such-program-drone"), std::string::npos);
}

TEST_F(ChildProcessTest, ReportsExitCodeAndCapturesOutput) {
  auto child = ChildProcess::Start(Spec({"sh", "-c", "echo hello; exit 3"}));
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  ASSERT_TRUE((*child)->WaitExit(10 * kNsPerSec));
  EXPECT_EQ((*child)->ExitCode(), 3);
  EXPECT_EQ((*child)->DescribeExit(), "exited with status 3");
  EXPECT_EQ((*child)->LogTail(100), "hello\n");
}

TEST_F(ChildProcessTest, KillEndsAndReaps) {
  auto child = ChildProcess::Start(Spec({"sleep", "60"}));
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  const pid_t pid = (*child)->pid();
  EXPECT_TRUE((*child)->Running());
  ASSERT_OK((*child)->Kill());
  EXPECT_FALSE((*child)->Running());
  EXPECT_EQ((*child)->DescribeExit(), "killed by signal 9");
  EXPECT_EQ(ProcState(pid), 0) << "reaped, not a zombie";
}

TEST_F(ChildProcessTest, StopSendsSigterm) {
  auto child = ChildProcess::Start(Spec({"sleep", "60"}));
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  ASSERT_OK((*child)->Stop(10 * kNsPerSec));
  EXPECT_EQ((*child)->DescribeExit(), "killed by signal 15");
}

TEST_F(ChildProcessTest, StopEscalatesToSigkillAfterGrace) {
  auto child = ChildProcess::Start(Spec({"python3", "-c",
                                         "import signal, time\n"
                                         "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                         "print('ready', flush=True)\n"
                                         "time.sleep(60)\n"}));
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  ASSERT_NE(WaitForLog(dir_ + "/out.log", "ready").find("ready"), std::string::npos);
  ASSERT_OK((*child)->Stop(200 * kNsPerMs));
  EXPECT_EQ((*child)->DescribeExit(), "killed by signal 9");
}

TEST_F(ChildProcessTest, PauseAndResume) {
  auto child = ChildProcess::Start(Spec({"sleep", "60"}));
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  const pid_t pid = (*child)->pid();
  ASSERT_OK((*child)->Pause());
  EXPECT_TRUE((*child)->paused());
  // SIGSTOP takes effect asynchronously: wait for the state with a deadline.
  int64_t deadline = MonotonicNs() + 5 * kNsPerSec;
  while (ProcState(pid) != 'T' && MonotonicNs() < deadline) SleepUntilNs(NowNs() + kNsPerMs);
  EXPECT_EQ(ProcState(pid), 'T');
  ASSERT_OK((*child)->Resume());
  EXPECT_FALSE((*child)->paused());
  deadline = MonotonicNs() + 5 * kNsPerSec;
  while (ProcState(pid) == 'T' && MonotonicNs() < deadline) SleepUntilNs(NowNs() + kNsPerMs);
  EXPECT_NE(ProcState(pid), 'T');
  // A paused process still stops: SIGCONT follows SIGTERM.
  ASSERT_OK((*child)->Pause());
  ASSERT_OK((*child)->Stop(5 * kNsPerSec));
  EXPECT_EQ((*child)->DescribeExit(), "killed by signal 15");
}

TEST_F(ChildProcessTest, KillTakesTheWholeProcessGroup) {
  auto child = ChildProcess::Start(Spec({"python3", "-c",
                                         "import subprocess, time\n"
                                         "p = subprocess.Popen(['sleep', '60'])\n"
                                         "print('grandchild', p.pid, flush=True)\n"
                                         "time.sleep(60)\n"}));
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  std::string log = WaitForLog(dir_ + "/out.log", "\n");
  ASSERT_NE(log.find("grandchild "), std::string::npos) << log;
  const pid_t grandchild = static_cast<pid_t>(std::stol(log.substr(log.find(' ') + 1)));
  EXPECT_EQ(::getpgid(grandchild), (*child)->pid());
  ASSERT_OK((*child)->Kill());
  // Orphans are reaped by init; a zombie is dead too.
  const int64_t deadline = MonotonicNs() + 5 * kNsPerSec;
  while (ProcState(grandchild) != 0 && ProcState(grandchild) != 'Z' && MonotonicNs() < deadline) {
    SleepUntilNs(NowNs() + kNsPerMs);
  }
  const char state = ProcState(grandchild);
  EXPECT_TRUE(state == 0 || state == 'Z') << "grandchild state " << state;
}

// Regression guard for PR_SET_PDEATHSIG: it fires when the forking *thread* ends, so a server
// started from a step's thread must not die when that thread does.
TEST_F(ChildProcessTest, OutlivesTheThreadThatStartedIt) {
  std::unique_ptr<ChildProcess> child;
  std::thread starter([&] {
    auto started = ChildProcess::Start(Spec({"sleep", "60"}));
    if (started.ok()) child = std::move(*started);
  });
  starter.join();
  ASSERT_NE(child, nullptr);
  EXPECT_FALSE(child->WaitExit(300 * kNsPerMs)) << child->DescribeExit();
  ASSERT_OK(child->Kill());
}

TEST_F(ChildProcessTest, DestructorKillsWhatStillRuns) {
  pid_t pid = 0;
  {
    auto child = ChildProcess::Start(Spec({"sleep", "60"}));
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    pid = (*child)->pid();
  }
  EXPECT_EQ(ProcState(pid), 0);
}

TEST_F(ChildProcessTest, EnvironmentAndWorkingDirectory) {
  ProcessSpec spec = Spec({"sh", "-c", "echo \"$DRONE_TEST_VALUE $(pwd)\""});
  spec.env["DRONE_TEST_VALUE"] = "forty-two";
  spec.cwd = dir_;
  auto child = ChildProcess::Start(spec);
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  ASSERT_TRUE((*child)->WaitExit(10 * kNsPerSec));
  EXPECT_EQ((*child)->LogTail(4096), "forty-two " + std::filesystem::canonical(dir_).string() + "\n");
}

}  // namespace
}  // namespace drone::platforms::local
