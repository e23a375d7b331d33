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
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(kExecFailed);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(cargv[0], cargv.data());
    const int e = errno;
    (void)!::write(exec_err[1], &e, sizeof(e));
    ::_exit(kExecFailed);
  }
  ::setpgid(pid, pid);
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

}  // namespace drone::platforms::kubernetes
