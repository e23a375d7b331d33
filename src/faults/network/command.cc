#include "faults/network/command.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/clock.h"

namespace drone::faults::network {
namespace {

constexpr size_t kMaxOutput = 64 * 1024;

// execv() needs a path; looking it up before fork() keeps the child to async-signal-safe calls.
Result<std::string> FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* env = std::getenv("PATH");
  std::string path = env ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  // The network tools live in sbin, which a non-login PATH may lack.
  path += ":/usr/sbin:/sbin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string candidate = path.substr(start, end - start) + "/" + name;
    struct stat st {};
    if (end > start && ::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return FailedPrecondition("program '" + name +
                            "' not found in PATH; install it (scripts/setup.sh)");
}

Result<int> OpenNetns(const std::string& netns) {
  if (netns.empty()) return -1;
  const std::string path = "/run/netns/" + netns;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return NotFound("network namespace '" + netns + "': " + std::strerror(errno));
  }
  return fd;
}

// Forks argv into `netns_fd` (-1: stay) with stdout/stderr on `out_fd` (-1: /dev/null).
Result<pid_t> ForkExec(const std::vector<std::string>& argv, int netns_fd, int out_fd) {
  if (argv.empty()) return InvalidArgument("empty command");
  ASSIGN_OR_RETURN(std::string program, FindProgram(argv[0]));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0)
    return Internal(std::string("pipe: ") + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(report[0]);
    ::close(report[1]);
    return Internal(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before the line above
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int err = 0;
    if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) err = errno;
    if (err == 0) {
      const int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, 0);
      ::dup2(out_fd >= 0 ? out_fd : devnull, 1);
      ::dup2(out_fd >= 0 ? out_fd : devnull, 2);
      ::execv(program.c_str(), args.data());
      err = errno;
    }
    [[maybe_unused]] ssize_t w = ::write(report[1], &err, sizeof(err));
    ::_exit(127);
  }
  ::close(report[1]);
  int err = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == sizeof(err)) {
    ::waitpid(pid, nullptr, 0);
    return FailedPrecondition("cannot start " + CommandLine(argv) + ": " + std::strerror(err));
  }
  return pid;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

Result<CommandResult> RunCommand(const std::vector<std::string>& argv, const std::string& netns,
                                 int64_t timeout_ns) {
  ASSIGN_OR_RETURN(int ns_fd, OpenNetns(netns));
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    if (ns_fd >= 0) ::close(ns_fd);
    return Internal(std::string("pipe: ") + std::strerror(errno));
  }
  auto pid = ForkExec(argv, ns_fd, out[1]);
  if (ns_fd >= 0) ::close(ns_fd);
  ::close(out[1]);
  if (!pid.ok()) {
    ::close(out[0]);
    return pid.status();
  }
  CommandResult result;
  const int64_t deadline = MonotonicNs() + timeout_ns;
  bool timed_out = false;
  while (true) {
    const int64_t left = deadline - MonotonicNs();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left / 1'000'000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // every writer closed: the child (and its children) are done with it
    if (result.output.size() < kMaxOutput) result.output.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  if (timed_out) ::kill(-*pid, SIGKILL);
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return DeadlineExceeded(CommandLine(argv) + " did not finish within " +
                            std::to_string(timeout_ns / 1'000'000) + " ms");
  }
  result.exit_code = ExitCode(status);
  return result;
}

Status RunChecked(const std::vector<std::string>& argv, const std::string& netns,
                  int64_t timeout_ns) {
  ASSIGN_OR_RETURN(CommandResult r, RunCommand(argv, netns, timeout_ns));
  if (r.exit_code != 0) {
    std::string output = r.output;
    while (!output.empty() && output.back() == '\n') output.pop_back();
    return FailedPrecondition(CommandLine(argv) + (netns.empty() ? "" : " (in " + netns + ")") +
                              " exited with " + std::to_string(r.exit_code) +
                              (output.empty() ? "" : ": " + output));
  }
  return Status::Ok();
}

Result<NetnsProcess> NetnsProcess::Spawn(const std::vector<std::string>& argv,
                                         const std::string& netns) {
  ASSIGN_OR_RETURN(int ns_fd, OpenNetns(netns));
  auto pid = ForkExec(argv, ns_fd, -1);
  if (ns_fd >= 0) ::close(ns_fd);
  if (!pid.ok()) return pid.status();
  return NetnsProcess(*pid);
}

NetnsProcess& NetnsProcess::operator=(NetnsProcess&& other) noexcept {
  if (this != &other) {
    Stop();
    pid_ = other.pid_;
    other.pid_ = -1;
  }
  return *this;
}

int NetnsProcess::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return ExitCode(status);
}

int NetnsProcess::Wait(int64_t timeout_ns) {
  if (pid_ <= 0) return -1;
  const int64_t deadline = MonotonicNs() + timeout_ns;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      ::kill(-pid_, SIGKILL);  // anything it left behind in its group
      pid_ = -1;
      return ExitCode(status);
    }
    if (MonotonicNs() >= deadline) return -1;
    // Polling a child's exit: waitpid has no timeout and a SIGCHLD handler would be process-wide.
    ::usleep(2000);
  }
}

Status WithNetns(const std::string& netns, const std::function<Status()>& fn) {
  const int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return Internal(std::string("open own network namespace: ") + std::strerror(errno));
  auto target = OpenNetns(netns);
  if (!target.ok()) {
    ::close(self);
    return target.status();
  }
  if (::setns(*target, CLONE_NEWNET) != 0) {
    const int e = errno;
    ::close(*target);
    ::close(self);
    return FailedPrecondition("enter network namespace '" + netns + "': " + std::strerror(e));
  }
  ::close(*target);
  Status s = fn();
  // Returning cannot fail for a namespace we came from while holding its fd; if it did, this
  // thread would be stranded in the lab, which must not go unnoticed.
  if (::setns(self, CLONE_NEWNET) != 0) ::abort();
  ::close(self);
  return s;
}

Result<int> SocketInNetns(const std::string& netns, int domain, int type, int protocol) {
  int fd = -1;
  RETURN_IF_ERROR(WithNetns(netns, [&]() -> Status {
    fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) return Internal(std::string("socket: ") + std::strerror(errno));
    return Status::Ok();
  }));
  return fd;
}

}  // namespace drone::faults::network
