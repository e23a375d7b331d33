#include "platforms/local/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "journal/undo_journal.h"

extern char** environ;

namespace drone::platforms::local {
namespace {

// Exit polling step: servers take milliseconds to seconds to exit, and waitid() has no timeout.
constexpr int64_t kPollStepNs = 5 * kNsPerMs;

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Forks on one thread that lives as long as Drone: PR_SET_PDEATHSIG fires when the forking
// *thread* ends, and step threads end long before the servers they started should.
class Spawner {
 public:
  static Spawner& Get() {
    static Spawner* spawner = new Spawner();  // never destroyed: its thread serves until exit
    return *spawner;
  }

  Result<pid_t> Run(std::function<Result<pid_t>()> fork_fn) {
    std::packaged_task<Result<pid_t>()> task(std::move(fork_fn));
    std::future<Result<pid_t>> done = task.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return done.get();
  }

 private:
  Spawner() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    while (true) {
      std::packaged_task<Result<pid_t>()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<Result<pid_t>()>> queue_;  // guarded by mu_
};

}  // namespace

Result<std::string> FindExecutable(const std::string& program) {
  if (program.empty()) return InvalidArgument("empty program name");
  if (program.find('/') != std::string::npos) {
    if (IsExecutableFile(program)) return program;
    return NotFound(program + " is not an executable file");
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + program;
    if (IsExecutableFile(candidate)) return candidate;
    start = end + 1;
  }
  return NotFound(program + " not found in PATH");
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const ProcessSpec& spec) {
  if (spec.argv.empty()) return InvalidArgument(spec.name + ": empty argv");
  ASSIGN_OR_RETURN(std::string file, FindExecutable(spec.argv[0]));

  // Everything the child needs is prepared before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> args = spec.argv;
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry = *e;
    if (spec.env.count(entry.substr(0, entry.find('='))) == 0) env_strings.push_back(std::move(entry));
  }
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> argv_ptrs;
  for (std::string& a : args) argv_ptrs.push_back(a.data());
  argv_ptrs.push_back(nullptr);
  std::vector<char*> env_ptrs;
  for (std::string& e : env_strings) env_ptrs.push_back(e.data());
  env_ptrs.push_back(nullptr);
  const std::string cwd = spec.cwd;
  const std::string log_path = spec.log_path.empty() ? "/dev/null" : spec.log_path;
  const std::string netns_path = spec.netns.empty() ? "" : "/run/netns/" + spec.netns;

  journal::Journal* const journal = spec.journal;
  uint64_t journal_id = 0;
  auto fork_fn = [&]() -> Result<pid_t> {
    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return Internal(spec.name + ": cannot open log " + log_path + ": " + std::strerror(errno));
    }
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int report_pipe[2] = {-1, -1};
    if (::pipe2(report_pipe, O_CLOEXEC) != 0) {
      const int e = errno;
      CloseFd(log_fd);
      CloseFd(devnull);
      return Internal(spec.name + ": pipe: " + std::strerror(e));
    }
    // With a journal, the child execs only once its process group is journaled.
    int go_pipe[2] = {-1, -1};
    if (journal != nullptr && ::pipe2(go_pipe, O_CLOEXEC) != 0) {
      const int e = errno;
      for (int fd : {log_fd, devnull, report_pipe[0], report_pipe[1]}) CloseFd(fd);
      return Internal(spec.name + ": pipe: " + std::strerror(e));
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      const int e = errno;
      for (int fd : {log_fd, devnull, report_pipe[0], report_pipe[1], go_pipe[0], go_pipe[1]}) {
        CloseFd(fd);
      }
      return Internal(spec.name + ": fork: " + std::strerror(e));
    }
    if (pid == 0) {
      if (go_pipe[0] >= 0) {
        ::close(go_pipe[1]);
        char go = 0;
        ssize_t got_go;
        while ((got_go = ::read(go_pipe[0], &go, 1)) < 0 && errno == EINTR) {
        }
        if (got_go != 1) ::_exit(127);  // not journaled: never run the program
      }
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // Drone is already gone
      sigset_t none;
      ::sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_DFL);
      if (devnull >= 0) ::dup2(devnull, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      // The lab's host namespace, entered by the child alone (the spawner thread stays home).
      bool in_netns = true;
      if (!netns_path.empty()) {
        const int ns_fd = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
        in_netns = ns_fd >= 0 && ::setns(ns_fd, CLONE_NEWNET) == 0;
      }
      if (in_netns && (cwd.empty() || ::chdir(cwd.c_str()) == 0)) {
        ::execve(file.c_str(), argv_ptrs.data(), env_ptrs.data());
      }
      const int e = errno;
      [[maybe_unused]] ssize_t w = ::write(report_pipe[1], &e, sizeof(e));
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here, so that killpg() works whichever runs first
    CloseFd(log_fd);
    CloseFd(devnull);
    CloseFd(report_pipe[1]);
    if (journal != nullptr) {
      CloseFd(go_pipe[0]);
      Result<journal::UndoRecord> record = journal::ProcessGroupRecord(pid);
      Result<uint64_t> journaled =
          record.ok() ? journal->Add(*record, "process group of " + spec.name + " (" + file + ")")
                      : Result<uint64_t>(record.status());
      if (journaled.ok()) {
        journal_id = *journaled;
        const char go = 1;
        [[maybe_unused]] ssize_t w = ::write(go_pipe[1], &go, 1);
      }
      CloseFd(go_pipe[1]);  // without the go byte, the child exits without running anything
      if (!journaled.ok()) {
        ::kill(pid, SIGKILL);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        CloseFd(report_pipe[0]);
        return journaled.status().WithContext(spec.name + ": cannot journal its process group");
      }
    }
    int child_errno = 0;
    size_t got = 0;
    while (got < sizeof(child_errno)) {
      ssize_t n = ::read(report_pipe[0], reinterpret_cast<char*>(&child_errno) + got,
                         sizeof(child_errno) - got);
      if (n > 0) {
        got += static_cast<size_t>(n);
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    CloseFd(report_pipe[0]);
    if (got == sizeof(child_errno)) {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (journal_id != 0) (void)journal->Done(journal_id);
      return Internal(spec.name + ": cannot execute " + file + ": " + std::strerror(child_errno));
    }
    return pid;
  };
  ASSIGN_OR_RETURN(pid_t pid, Spawner::Get().Run(fork_fn));
  return std::unique_ptr<ChildProcess>(new ChildProcess(spec, pid, journal_id));
}

ChildProcess::~ChildProcess() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!reaped_) KillGroupAndReapLocked();
}

bool ChildProcess::PollExitLocked(bool block) {
  if (reaped_) return true;
  // WNOWAIT: the exited leader stays a zombie, so its pid (= the group id) cannot be reused
  // before the rest of the group is killed.
  siginfo_t info{};
  int flags = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, flags) != 0) {
    if (errno != EINTR) {  // ECHILD: nothing left to wait for (reaped elsewhere)
      reaped_ = true;
      JournalDoneLocked();
      return true;
    }
  }
  if (info.si_pid == 0) return false;
  KillGroupAndReapLocked();
  return true;
}

void ChildProcess::KillGroupAndReapLocked() {
  // Helpers the server forked share its group; none may outlive it.
  ::killpg(pid_, SIGKILL);
  ::killpg(pid_, SIGCONT);
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  wait_status_ = r == pid_ ? status : 0;
  reaped_ = true;
  paused_ = false;
  JournalDoneLocked();
}

void ChildProcess::JournalDoneLocked() {
  if (journal_id_ == 0 || spec_.journal == nullptr) return;
  Status s = spec_.journal->Done(journal_id_);
  if (!s.ok()) LogWarn(spec_.name + ": " + s.message());
  journal_id_ = 0;
}

bool ChildProcess::Running() {
  std::lock_guard<std::mutex> lock(mu_);
  return !PollExitLocked(false);
}

bool ChildProcess::WaitExit(int64_t timeout_ns) {
  const int64_t deadline = MonotonicNs() + timeout_ns;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (PollExitLocked(false)) return true;
    }
    if (MonotonicNs() >= deadline) return false;
    SleepUntilNs(NowNs() + kPollStepNs);
  }
}

std::string ChildProcess::DescribeExit() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!PollExitLocked(false)) return "running";
  if (WIFEXITED(wait_status_)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) return "killed by signal " + std::to_string(WTERMSIG(wait_status_));
  return "exited";
}

int ChildProcess::ExitCode() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!PollExitLocked(false) || !WIFEXITED(wait_status_)) return -1;
  return WEXITSTATUS(wait_status_);
}

Status ChildProcess::Stop(int64_t grace_ns) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (PollExitLocked(false)) return Status::Ok();
    ::killpg(pid_, SIGTERM);
    ::killpg(pid_, SIGCONT);  // a paused server must run to handle SIGTERM
    paused_ = false;
  }
  if (WaitExit(grace_ns)) return Status::Ok();
  return Kill();
}

Status ChildProcess::Kill() {
  std::lock_guard<std::mutex> lock(mu_);
  if (reaped_) return Status::Ok();
  KillGroupAndReapLocked();
  return Status::Ok();
}

Status ChildProcess::Pause() {
  std::lock_guard<std::mutex> lock(mu_);
  if (PollExitLocked(false)) return FailedPrecondition(spec_.name + " is not running");
  if (::killpg(pid_, SIGSTOP) != 0) return Internal(spec_.name + ": SIGSTOP: " + std::strerror(errno));
  paused_ = true;
  return Status::Ok();
}

Status ChildProcess::Resume() {
  std::lock_guard<std::mutex> lock(mu_);
  if (PollExitLocked(false)) return FailedPrecondition(spec_.name + " is not running");
  if (::killpg(pid_, SIGCONT) != 0) return Internal(spec_.name + ": SIGCONT: " + std::strerror(errno));
  paused_ = false;
  return Status::Ok();
}

bool ChildProcess::paused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return paused_;
}

std::string ChildProcess::LogTail(size_t bytes) const {
  if (spec_.log_path.empty()) return "";
  std::ifstream in(spec_.log_path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > static_cast<std::streamoff>(bytes) ? size - static_cast<std::streamoff>(bytes) : 0;
  in.seekg(from);
  std::string out(static_cast<size_t>(size - from), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

}  // namespace drone::platforms::local
