#include "platforms/kubernetes/kubectl.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>

#include "core/clock.h"

namespace drone::platforms::kubernetes {

Argv ApplyArgs() { return {"apply", "--server-side", "--field-manager", "drone", "-f", "-"}; }

Argv RolloutStatusArgs(const std::string& ns, const std::string& what, int timeout_s) {
  return {"-n", ns, "rollout", "status", what, "--timeout=" + std::to_string(timeout_s) + "s"};
}

Argv WaitReadyArgs(const std::string& ns, const std::string& what, int timeout_s) {
  return {"-n", ns, "wait", "--for=condition=Ready", what,
          "--timeout=" + std::to_string(timeout_s) + "s"};
}

Argv DeleteNamespaceArgs(const std::string& ns, int timeout_s) {
  return {"delete", "namespace", ns, "--ignore-not-found", "--wait=true",
          "--timeout=" + std::to_string(timeout_s) + "s"};
}

Argv ExecArgs(const std::string& ns, const std::string& pod, const std::string& container,
              const Argv& argv) {
  Argv out = {"-n", ns, "exec", pod, "-c", container, "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

Argv DeletePodArgs(const std::string& ns, const std::string& pod, bool graceful) {
  if (graceful) return {"-n", ns, "delete", "pod", pod, "--wait=false"};
  return {"-n", ns, "delete", "pod", pod, "--grace-period=0", "--force", "--wait=false"};
}

Argv PodStateArgs(const std::string& ns, const std::string& pod) {
  return {"-n", ns, "get", "pod", pod, "--ignore-not-found", "-o",
          "jsonpath={.metadata.uid} {.status.conditions[?(@.type==\"Ready\")].status}"};
}

Argv PodIpArgs(const std::string& ns, const std::string& pod) {
  return {"-n", ns, "get", "pod", pod, "-o", "jsonpath={.status.podIP}"};
}

Argv PortForwardArgs(const std::string& ns, const std::string& pod, int remote_port) {
  return {"-n", ns, "port-forward", "--address", "127.0.0.1", "pod/" + pod,
          ":" + std::to_string(remote_port)};
}

Argv NodeNamesArgs() { return {"get", "nodes", "-o", "name"}; }

Argv ManagedNamespacesArgs() {
  return {"get", "namespaces", "-l", "app.kubernetes.io/managed-by=drone", "-o", "json"};
}

std::string JoinArgv(const Argv& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

Kubectl::Kubectl(std::string context, std::string program)
    : context_(std::move(context)), program_(std::move(program)) {}

Argv Kubectl::CommandLine(const Argv& args) const {
  Argv out = {program_};
  if (!context_.empty()) {
    out.push_back("--context");
    out.push_back(context_);
  }
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

namespace {

constexpr size_t kMaxOut = 4u << 20;
constexpr size_t kMaxErr = 64u << 10;
constexpr int kExecFailed = 127;

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Forks and execs argv with stdin, stdout and stderr on the given descriptors, in a process group
// of its own, dying with the forking thread (PR_SET_PDEATHSIG). An exec failure's errno is
// written to exec_err. Returns the child's pid, or -1 when fork fails.
pid_t Spawn(std::vector<char*>& cargv, int in, int out, int err, int exec_err) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) {
    if (pid > 0) ::setpgid(pid, pid);
    return pid;
  }
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(kExecFailed);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Drone ignores SIGPIPE (cli/signals.h); kubectl gets the default back.
  ::signal(SIGPIPE, SIG_DFL);
  ::execvp(cargv[0], cargv.data());
  const int e = errno;
  (void)!::write(exec_err, &e, sizeof(e));
  ::_exit(kExecFailed);
}

void KillAndReap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

Result<KubectlResult> Kubectl::Run(const Argv& args, const std::string& stdin_text,
                                   int64_t timeout_ns, const CancelToken* cancel) const {
  const Argv argv = CommandLine(args);
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int in[2], out[2], err[2], exec_err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(exec_err, O_CLOEXEC) != 0) {
    return Internal(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t pid = Spawn(cargv, in[0], out[1], err[1], exec_err[1]);
  if (pid < 0) return Internal(std::string("fork: ") + std::strerror(errno));
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::close(exec_err[1]);
  int exec_errno = 0;
  const bool exec_failed = ::read(exec_err[0], &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno);
  ::close(exec_err[0]);
  if (exec_failed) {
    KillAndReap(pid);
    CloseFd(in[1]);
    CloseFd(out[0]);
    CloseFd(err[0]);
    return NotFound("cannot run " + argv[0] + ": " + std::strerror(exec_errno) +
                    " (is kubectl installed and on PATH?)");
  }
  int to_child = in[1];
  int from_out = out[0];
  int from_err = err[0];
  ::fcntl(to_child, F_SETFL, O_NONBLOCK);
  if (stdin_text.empty()) CloseFd(to_child);
  size_t written = 0;
  KubectlResult result;
  const int64_t deadline = NowNs() + timeout_ns;
  Status failure = Status::Ok();
  char buf[65536];
  while (from_out >= 0 || from_err >= 0) {
    if (cancel != nullptr && cancel->cancelled()) {
      failure = Cancelled(JoinArgv(argv) + ": cancelled (" + cancel->reason() + ")");
      break;
    }
    const int64_t left = deadline - NowNs();
    if (left <= 0) {
      failure = DeadlineExceeded(JoinArgv(argv) + ": no answer within " +
                                 std::to_string(timeout_ns / kNsPerSec) + " s");
      break;
    }
    pollfd fds[3];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (from_out >= 0) { out_i = n; fds[n++] = {from_out, POLLIN, 0}; }
    if (from_err >= 0) { err_i = n; fds[n++] = {from_err, POLLIN, 0}; }
    if (to_child >= 0) { in_i = n; fds[n++] = {to_child, POLLOUT, 0}; }
    const int wait_ms = static_cast<int>(std::min<int64_t>(left / 1'000'000 + 1, 100));
    const int ready = ::poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (ready < 0 && errno != EINTR) {
      failure = Internal(std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (ready <= 0) continue;
    auto drain = [&](int index, int& fd, std::string& sink, size_t max) {
      if (index < 0 || (fds[index].revents & (POLLIN | POLLHUP | POLLERR)) == 0) return;
      const ssize_t got = ::read(fd, buf, sizeof(buf));
      if (got > 0) {
        if (sink.size() < max) sink.append(buf, std::min(static_cast<size_t>(got), max - sink.size()));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        CloseFd(fd);
      }
    };
    drain(out_i, from_out, result.out, kMaxOut);
    drain(err_i, from_err, result.err, kMaxErr);
    if (in_i >= 0 && (fds[in_i].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t put = ::write(to_child, stdin_text.data() + written, stdin_text.size() - written);
      if (put > 0) written += static_cast<size_t>(put);
      if ((put < 0 && errno != EAGAIN && errno != EINTR) || written >= stdin_text.size()) {
        CloseFd(to_child);
      }
    }
  }
  CloseFd(to_child);
  CloseFd(from_out);
  CloseFd(from_err);
  if (!failure.ok()) {
    KillAndReap(pid);
    return failure;
  }
  // Its output is closed; it normally exits at once, but a child that hangs on is still bounded.
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    const bool cancelled = cancel != nullptr && cancel->cancelled();
    if (cancelled || NowNs() >= deadline) {
      KillAndReap(pid);
      return cancelled ? Cancelled(JoinArgv(argv) + ": cancelled")
                       : DeadlineExceeded(JoinArgv(argv) + ": did not exit in time");
    }
    ::usleep(5000);
  }
  ::kill(-pid, SIGKILL);  // whatever it left in its group
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Result<KubectlResult> Kubectl::RunChecked(const Argv& args, const std::string& stdin_text,
                                          int64_t timeout_ns, const CancelToken* cancel) const {
  ASSIGN_OR_RETURN(KubectlResult r, Run(args, stdin_text, timeout_ns, cancel));
  if (r.exit_code != 0) {
    std::string err = r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return Unavailable(JoinArgv(CommandLine(args)) + " failed (exit " + std::to_string(r.exit_code) +
                       ")" + (err.empty() ? "" : ": " + err));
  }
  return r;
}

Result<std::unique_ptr<KubectlBackground>> KubectlBackground::Start(const Kubectl& kubectl,
                                                                   const Argv& args) {
  std::unique_ptr<KubectlBackground> bg(new KubectlBackground());
  bg->command_ = JoinArgv(kubectl.CommandLine(args));
  const Argv argv = kubectl.CommandLine(args);
  std::promise<Status> started;
  std::future<Status> started_f = started.get_future();
  KubectlBackground* self = bg.get();
  // The child dies with the thread that forked it (PR_SET_PDEATHSIG), so a thread of its own
  // forks it and lives exactly as long as the child: it collects stderr, then reaps.
  bg->thread_ = std::thread([self, argv, &started] {
    std::vector<char*> cargv;
    for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    int err[2], exec_err[2];
    if (::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(exec_err, O_CLOEXEC) != 0) {
      started.set_value(Internal(std::string("pipe: ") + std::strerror(errno)));
      return;
    }
    const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    const pid_t pid = Spawn(cargv, null_fd, err[1], err[1], exec_err[1]);
    ::close(null_fd);
    ::close(err[1]);
    ::close(exec_err[1]);
    if (pid < 0) {
      ::close(err[0]);
      ::close(exec_err[0]);
      started.set_value(Internal(std::string("fork: ") + std::strerror(errno)));
      return;
    }
    int exec_errno = 0;
    const bool exec_failed =
        ::read(exec_err[0], &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno);
    ::close(exec_err[0]);
    if (exec_failed) {
      KillAndReap(pid);
      ::close(err[0]);
      started.set_value(NotFound("cannot run " + argv[0] + ": " + std::strerror(exec_errno) +
                                 " (is kubectl installed and on PATH?)"));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->pid_ = pid;
    }
    started.set_value(Status::Ok());
    char buf[4096];
    for (;;) {
      const ssize_t got = ::read(err[0], buf, sizeof(buf));
      if (got > 0) {
        std::lock_guard<std::mutex> lock(self->mu_);
        if (self->output_.size() < kMaxErr) self->output_.append(buf, static_cast<size_t>(got));
        self->cv_.notify_all();
      } else if (got == 0 || errno != EINTR) {
        break;
      }
    }
    ::close(err[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::kill(-pid, SIGKILL);  // whatever it left in its group
    std::lock_guard<std::mutex> lock(self->mu_);
    self->exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    self->running_ = false;
    self->cv_.notify_all();
  });
  Status s = started_f.get();
  if (!s.ok()) {
    bg->thread_.join();
    return s;
  }
  return bg;
}

KubectlBackground::~KubectlBackground() { Stop(); }

void KubectlBackground::Stop() {
  pid_t pid = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_) pid = pid_;
  }
  // The group, so that what kubectl started goes too; the thread reaps.
  if (pid > 0) ::kill(-pid, SIGKILL);
  if (thread_.joinable()) thread_.join();
}

bool KubectlBackground::Running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

std::string KubectlBackground::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string err = output_;
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  const std::string state = running_ ? "running" : "exited " + std::to_string(exit_code_);
  return command_ + " (" + state + ")" + (err.empty() ? "" : ": " + err);
}

bool KubectlBackground::WaitForOutput(const std::string& text, int64_t timeout_ns,
                                      const CancelToken* cancel) const {
  const int64_t deadline = NowNs() + timeout_ns;
  std::unique_lock<std::mutex> lock(mu_);
  while (output_.find(text) == std::string::npos) {
    if (!running_ || NowNs() >= deadline || (cancel != nullptr && cancel->cancelled())) {
      return false;
    }
    // Woken by output and by the exit; the slice bounds how late a cancel is seen.
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  return true;
}

std::string KubectlBackground::Output() const {
  std::lock_guard<std::mutex> lock(mu_);
  return output_;
}

pid_t KubectlBackground::pid() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pid_;
}

}  // namespace drone::platforms::kubernetes
