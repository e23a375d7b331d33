#include "journal/undo_journal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/testutil.h"

namespace drone::journal {
namespace {

namespace fs = std::filesystem;

class TempDataDir {
 public:
  TempDataDir() {
    char templ[] = "/tmp/drone-journal-test-XXXXXX";
    path_ = ::mkdtemp(templ);
  }
  ~TempDataDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A process that is certainly dead: a child that exited and was reaped. It waits for the parent
// to read its start time first, so that the identity is that of a real process.
ProcessIdentity DeadProcess() {
  int go[2];
  EXPECT_EQ(::pipe(go), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(go[1]);
    char c;
    [[maybe_unused]] ssize_t n = ::read(go[0], &c, 1);
    ::_exit(0);
  }
  ::close(go[0]);
  ProcessIdentity who{pid, 0};
  Result<uint64_t> start = ProcessStartTime(pid);
  EXPECT_TRUE(start.ok());
  if (start.ok()) who.start = *start;
  ::close(go[1]);  // lets the child exit
  ::waitpid(pid, nullptr, 0);
  return who;
}

// Forks `sleep 60` in a process group of its own; returns its pid (= pgid).
pid_t SpawnGroup() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execlp("sleep", "sleep", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  return pid;
}

// Rewrites the owner line of a journal so that it names `who`.
void SetOwner(const std::string& path, const ProcessIdentity& who) {
  std::ifstream in(path);
  std::string first, rest, line;
  std::getline(in, first);
  while (std::getline(in, line)) rest += line + "\n";
  nlohmann::json owner = nlohmann::json::parse(first);
  owner["pid"] = who.pid;
  owner["pid_start"] = who.start;
  std::ofstream(path, std::ios::trunc) << owner.dump() << "\n" << rest;
}

TEST(ProcessIdentityTest, SelfIsAliveAndADeadChildIsNot) {
  EXPECT_TRUE(IsAlive(Self()));
  ProcessIdentity self = Self();
  self.start += 1;
  EXPECT_FALSE(IsAlive(self)) << "same pid, other start time: a reused pid";
  EXPECT_FALSE(IsAlive(DeadProcess()));
}

TEST(JournalTest, NothingOnDiskUntilTheFirstEntryAndNothingLeftWhenAllAreDone) {
  TempDataDir data;
  auto journal = Journal::Create(data.path(), "run-1", "f");
  ASSERT_OK(journal.status());
  EXPECT_FALSE(fs::exists(data.path() + "/journal"));
  auto a = (*journal)->Add(PathRecord(data.path() + "/x"), "scratch x");
  ASSERT_OK(a.status());
  auto b = (*journal)->Add(PathRecord(data.path() + "/y"), "scratch y");
  ASSERT_OK(b.status());
  const std::string path = (*journal)->path();
  ASSERT_TRUE(fs::exists(path));
  // Readable while open, by another reader, with the open entries in order.
  auto read = ReadJournal(path);
  ASSERT_OK(read.status());
  EXPECT_EQ(read->run_id, "run-1");
  EXPECT_TRUE(read->owner_alive);
  ASSERT_EQ(read->open.size(), 2u);
  EXPECT_EQ(read->open[0].what, "scratch x");
  ASSERT_OK((*journal)->Done(*a));
  EXPECT_EQ(ReadJournal(path)->open.size(), 1u);
  ASSERT_OK((*journal)->Done(*b));
  ASSERT_OK((*journal)->Close());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(data.path() + "/journal"));
}

TEST(JournalTest, OpenEntriesKeepTheFileForClean) {
  TempDataDir data;
  auto journal = Journal::Create(data.path(), "run-2", "f", /*eager=*/true, {{"name", "env"}});
  ASSERT_OK(journal.status());
  const std::string path = (*journal)->path();
  EXPECT_TRUE(fs::exists(path)) << "eager: created at once";
  ASSERT_OK((*journal)->Add(PathRecord(data.path() + "/x"), "x").status());
  ASSERT_OK((*journal)->Close());
  ASSERT_TRUE(fs::exists(path));
  auto read = ReadJournal(path);
  ASSERT_OK(read.status());
  EXPECT_EQ(read->open.size(), 1u);
  EXPECT_EQ(read->owner_line["name"], "env");
  // A torn last line (the owner died mid-write) is ignored.
  std::ofstream(path, std::ios::app) << "{\"t\":\"done\",\"i";
  EXPECT_EQ(ReadJournal(path)->open.size(), 1u);
}

TEST(CleanTest, StopsTheProcessGroupAndRemovesThePathOfADeadRun) {
  TempDataDir data;
  const std::string scratch = data.path() + "/runs/run-3/tmp";
  fs::create_directories(scratch);
  const pid_t pgid = SpawnGroup();
  auto journal = Journal::Create(data.path(), "run-3", "f");
  ASSERT_OK(journal.status());
  ASSERT_OK((*journal)->Add(PathRecord(scratch), "scratch").status());
  auto record = ProcessGroupRecord(pgid);
  ASSERT_OK(record.status());
  ASSERT_OK((*journal)->Add(*record, "sleeper").status());
  const std::string path = (*journal)->path();
  ASSERT_OK((*journal)->Close());
  SetOwner(path, DeadProcess());

  auto file = ReadJournal(path);
  ASSERT_OK(file.status());
  EXPECT_FALSE(file->owner_alive);
  UndoEnv env{data.path(), /*dry_run=*/true, 2'000'000'000};
  std::vector<CleanAction> dry = CleanJournal(*file, env);
  ASSERT_EQ(dry.size(), 2u);
  EXPECT_EQ(dry[0].kind, "process-group") << "newest first";
  EXPECT_NE(dry[0].done.find("would stop"), std::string::npos) << dry[0].done;
  EXPECT_EQ(::kill(pgid, 0), 0) << "a dry run touches nothing";
  EXPECT_TRUE(fs::exists(scratch));
  EXPECT_TRUE(fs::exists(path));

  env.dry_run = false;
  std::vector<CleanAction> done = CleanJournal(*file, env);
  ASSERT_EQ(done.size(), 2u);
  for (const CleanAction& a : done) EXPECT_OK(a.status);
  int status = 0;
  EXPECT_EQ(::waitpid(pgid, &status, 0), pgid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_FALSE(fs::exists(scratch));
  EXPECT_FALSE(fs::exists(path)) << "every entry undone: the journal goes";
}

TEST(TempDirectoryTest, JournaledBeforeItIsMadeAndCleanRemovesIt) {
  TempDataDir data;
  TempDataDir scratch;  // apart from the data directory: only being in $TMPDIR lets clean remove it
  const std::string tmp = scratch.path();
  auto journal = Journal::Create(data.path(), "run-t", "f");
  ASSERT_OK(journal.status());
  uint64_t id = 0;
  auto dir = MakeTempDirectory(tmp, "workers", "workers' directory", journal->get(), &id);
  ASSERT_OK(dir.status());
  EXPECT_EQ(dir->rfind(tmp + "/drone-workers-", 0), 0u) << *dir;
  EXPECT_TRUE(fs::is_directory(*dir));
  EXPECT_EQ(fs::status(*dir).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ((*journal)->open_entries(), 1u);
  const std::string path = (*journal)->path();
  ASSERT_OK((*journal)->Close());
  SetOwner(path, DeadProcess());

  auto file = ReadJournal(path);
  ASSERT_OK(file.status());
  ASSERT_EQ(file->open.size(), 1u);
  EXPECT_EQ(file->open[0].what, "workers' directory " + *dir);
  // Clean runs with this TMPDIR: a path is removed only below a drone-* directory in it.
  ::setenv("TMPDIR", tmp.c_str(), 1);
  EXPECT_EQ(TempBase(), tmp);
  std::vector<CleanAction> done = CleanJournal(*file, UndoEnv{data.path(), false, 2'000'000'000});
  ::unsetenv("TMPDIR");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_OK(done[0].status);
  EXPECT_FALSE(fs::exists(*dir));
  EXPECT_EQ(TempBase(), "/tmp");
}

TEST(TempDirectoryTest, WithoutAJournalItIsOnlyMade) {
  TempDataDir data;
  uint64_t id = 7;
  auto dir = MakeTempDirectory(data.path(), "x", "scratch", nullptr, &id);
  ASSERT_OK(dir.status());
  EXPECT_TRUE(fs::is_directory(*dir));
  EXPECT_EQ(id, 0u);
  auto missing = MakeTempDirectory(data.path() + "/no/such", "x", "scratch", nullptr, &id);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot create a scratch in " + data.path() + "/no/such"),
            std::string::npos)
      << missing.status().ToString();
}

TEST(CleanTest, ARecycledProcessGroupIdIsLeftAlone) {
  const pid_t pgid = SpawnGroup();
  UndoRecord record = ProcessGroupRecord(pgid).value();
  record.args["start"] = record.args["start"].get<uint64_t>() + 1;  // journaled: another process
  std::string what;
  Result<std::unique_ptr<UndoKind>> kind = UndoKindRegistry().Create("process-group");
  ASSERT_OK(kind.status());
  ASSERT_OK((*kind)->Undo(record.args, UndoEnv{}, &what));
  EXPECT_NE(what.find("another process"), std::string::npos) << what;
  EXPECT_EQ(::kill(pgid, 0), 0);
  ::kill(pgid, SIGKILL);
  ::waitpid(pgid, nullptr, 0);
}

TEST(CleanTest, PathOutsideDronesDirectoriesIsRefused) {
  TempDataDir data;
  Result<std::unique_ptr<UndoKind>> kind = UndoKindRegistry().Create("path");
  ASSERT_OK(kind.status());
  std::string what;
  UndoEnv env{data.path(), false, 0};
  for (const char* bad : {"/etc", "/tmp", "/tmp/other", "relative/dir", "/tmp/drone-x/../../etc"}) {
    Status s = (*kind)->Undo(PathRecord(bad).args, env, &what);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ((*kind)->Undo(PathRecord(data.path()).args, env, &what).code(),
            StatusCode::kInvalidArgument) << "the data directory itself";
  EXPECT_EQ((*kind)->Undo(PathRecord(data.path() + "/journal").args, env, &what).code(),
            StatusCode::kInvalidArgument) << "the journals";
  EXPECT_OK((*kind)->Undo(PathRecord(data.path() + "/gone").args, env, &what));
  EXPECT_NE(what.find("already gone"), std::string::npos);
}

}  // namespace
}  // namespace drone::journal
