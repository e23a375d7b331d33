// kind: exec — runs a program with an argv list, never through a shell, and captures its output.
//
// The child runs in a process group of its own with stdin from /dev/null, and gets
// PR_SET_PDEATHSIG(SIGKILL), so it dies with Drone. (The death signal follows the thread that
// forked it: the step's thread, which lives until the child is reaped.) On cancellation or a step
// timeout the group gets SIGTERM, and SIGKILL 2 s later (at once when the run is hurried). When the program exits, whatever it left
// behind in its process group is killed too.
//
// No undo action: exec creates nothing that outlives the step — the child is reaped (and its
// process group emptied) before Run() returns, on every path. Should Drone itself be killed
// meanwhile, the journal has the process group: the child is forked, journaled (its pgid and start
// time), and only then told to exec, so `drone clean` can stop whatever it left behind.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "journal/undo_journal.h"
#include "flow/step_executor.h"

extern char** environ;

namespace drone::flow {
namespace {

constexpr size_t kStderrTailBytes = 4096;
constexpr int64_t kTermGraceNs = 2'000'000'000;
// After the program exits, how long to keep reading output that is still in flight.
constexpr int64_t kDrainAfterExitNs = 1'000'000'000;

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Replaces bytes that are not valid UTF-8 (binary output, a character cut by truncation) with
// U+FFFD, so that the outputs can always be written as JSON.
std::string ValidUtf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    size_t len = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      min = 0x10000;
    }
    bool ok = len > 0 && i + len <= n;
    uint32_t cp = len > 0 ? (c & (0x7F >> len)) : 0;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(in, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// The file that execve() should run, found the way execvp() would: a name with a '/' is used
// as it is (relative to `cwd` when one is set), any other name is looked up in `path`.
Result<std::string> FindProgram(const std::string& name, const std::string& path,
                                const std::string& cwd) {
  if (name.find('/') != std::string::npos) {
    const std::string at = (name[0] != '/' && !cwd.empty()) ? cwd + "/" + name : name;
    if (::access(at.c_str(), F_OK) != 0) {
      return FailedPrecondition("program '" + name + "' not found: " + std::strerror(errno));
    }
    return name;
  }
  bool not_executable = false;
  size_t start = 0;
  while (true) {
    const size_t end = path.find(':', start);
    std::string dir =
        path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = std::move(dir);
    candidate += "/";
    candidate += name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      not_executable = true;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (not_executable) {
    return FailedPrecondition("program '" + name + "' found in PATH but not executable");
  }
  return FailedPrecondition("program '" + name + "' not found in PATH (" + path + ")");
}

class ExecStep : public StepExecutor {
 public:
  std::string Kind() const override { return "exec"; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::ExecWith>(ctx.step.with);
    if (with.argv.empty()) return InvalidArgument("exec needs a non-empty argv");
    std::vector<std::string> args;
    for (const std::string& a : with.argv) {
      ASSIGN_OR_RETURN(std::string v, ctx.Interpolate(a));
      args.push_back(std::move(v));
    }
    const std::string& program = args[0];
    if (program.empty()) return InvalidArgument("exec: argv[0] (the program) is empty");

    // The child's environment: Drone's, with `env` added or replacing.
    std::vector<std::string> env_strings;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string entry(*e);
      const std::string key = entry.substr(0, entry.find('='));
      if (with.env.count(key) == 0) env_strings.push_back(std::move(entry));
    }
    for (const auto& [k, v] : with.env) {
      std::string entry = k;
      entry += "=";
      entry += v;
      env_strings.push_back(std::move(entry));
    }
    std::string path_var = "/usr/local/bin:/usr/bin:/bin";
    if (auto it = with.env.find("PATH"); it != with.env.end()) {
      path_var = it->second;
    } else if (const char* p = std::getenv("PATH"); p != nullptr) {
      path_var = p;
    }
    ASSIGN_OR_RETURN(std::string file, FindProgram(program, path_var, with.cwd));

    // Everything the child needs is prepared before fork(): after it, only async-signal-safe
    // calls are allowed (other threads may hold locks).
    std::vector<char*> argv_ptrs;
    argv_ptrs.reserve(args.size() + 1);
    for (std::string& a : args) argv_ptrs.push_back(a.data());
    argv_ptrs.push_back(nullptr);
    std::vector<char*> env_ptrs;
    env_ptrs.reserve(env_strings.size() + 1);
    for (std::string& e : env_strings) env_ptrs.push_back(e.data());
    env_ptrs.push_back(nullptr);
    const char* cwd = with.cwd.empty() ? nullptr : with.cwd.c_str();

    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, report_pipe[2] = {-1, -1};
    int go_pipe[2] = {-1, -1};  // the child execs only once its process group is journaled
    auto close_all = [&] {
      for (int* p : {out_pipe, err_pipe, report_pipe, go_pipe}) {
        CloseFd(p[0]);
        CloseFd(p[1]);
      }
    };
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
        ::pipe2(report_pipe, O_CLOEXEC) != 0 || ::pipe2(go_pipe, O_CLOEXEC) != 0) {
      const int e = errno;
      close_all();
      return Internal(std::string("exec: pipe: ") + std::strerror(e));
    }
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = ::getpid();
    const int64_t start = MonotonicNs();
    const pid_t pid = ::fork();
    if (pid < 0) {
      const int e = errno;
      close_all();
      CloseFd(devnull);
      return Internal(std::string("exec: fork: ") + std::strerror(e));
    }
    if (pid == 0) {
      // The child.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // Drone already gone
      ::close(go_pipe[1]);
      char go = 0;
      ssize_t got_go = -1;
      do {
        got_go = ::read(go_pipe[0], &go, 1);
      } while (got_go < 0 && errno == EINTR);
      if (got_go != 1) ::_exit(127);  // not journaled: never run the program
      sigset_t none;
      ::sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_DFL);
      if (devnull >= 0) ::dup2(devnull, 0);
      ::dup2(out_pipe[1], 1);
      ::dup2(err_pipe[1], 2);
      char what = 'x';
      if (cwd == nullptr || ::chdir(cwd) == 0) {
        ::execve(file.c_str(), argv_ptrs.data(), env_ptrs.data());
      } else {
        what = 'c';
      }
      const int e = errno;
      char report[1 + sizeof(int)];
      report[0] = what;
      std::memcpy(report + 1, &e, sizeof(int));
      [[maybe_unused]] ssize_t w = ::write(report_pipe[1], report, sizeof(report));
      ::_exit(127);
    }

    // The parent.
    ::setpgid(pid, pid);  // also here, so that killpg() works whichever runs first
    CloseFd(out_pipe[1]);
    CloseFd(err_pipe[1]);
    CloseFd(report_pipe[1]);
    CloseFd(devnull);
    CloseFd(go_pipe[0]);
    // Journal the process group before the program runs, so that `drone clean` can stop what it
    // leaves behind should Drone be killed; then let the child exec.
    journal::Journal& journal = ctx.run.journal();
    Result<journal::UndoRecord> record = journal::ProcessGroupRecord(pid);
    Result<uint64_t> journaled =
        record.ok() ? journal.Add(*record, "process group of '" + program + "' (step " +
                                               ctx.step.id + ")")
                    : Result<uint64_t>(record.status());
    if (!journaled.ok()) {
      close_all();
      ::kill(pid, SIGKILL);
      Reap(pid);
      return Internal("exec: cannot journal the child process: " + journaled.status().message());
    }
    {
      const char go = 'g';
      [[maybe_unused]] ssize_t w = ::write(go_pipe[1], &go, 1);
      CloseFd(go_pipe[1]);
    }
    int out_fd = out_pipe[0], err_fd = err_pipe[0];
    // Until exec succeeds (the pipe closes, O_CLOEXEC) or fails (the child reports errno).
    char report[1 + sizeof(int)];
    size_t got = 0;
    while (got < sizeof(report)) {
      const ssize_t n = ::read(report_pipe[0], report + got, sizeof(report) - got);
      if (n > 0) {
        got += static_cast<size_t>(n);
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    CloseFd(report_pipe[0]);
    if (got == sizeof(report)) {
      int e = 0;
      std::memcpy(&e, report + 1, sizeof(int));
      CloseFd(out_fd);
      CloseFd(err_fd);
      Reap(pid);
      if (report[0] == 'c') {
        return FailedPrecondition("exec: cannot change to directory '" + with.cwd +
                                  "': " + std::strerror(e));
      }
      return FailedPrecondition("cannot run program '" + program + "': " + std::strerror(e));
    }

    std::string out, err_tail;
    bool truncated = false;
    bool exited = false;
    int64_t exited_at = 0, term_at = 0;
    bool term_sent = false, kill_sent = false, hurried_kill = false;
    std::vector<char> buffer(size_t{64} * 1024);
    while (true) {
      const int64_t now = MonotonicNs();
      if (!exited) {
        // Exited? Checked without reaping, so the process group id stays reserved for killpg().
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == pid) {
          exited = true;
          exited_at = now;
          ::killpg(pid, SIGKILL);  // anything the program left running in its group
        }
      }
      if (!exited && !term_sent && ctx.cancel.cancelled()) {
        ::killpg(pid, SIGTERM);
        term_sent = true;
        term_at = now;
      }
      if (!exited && term_sent && !kill_sent &&
          (now - term_at >= kTermGraceNs || ctx.cancel.hurried())) {
        hurried_kill = now - term_at < kTermGraceNs;
        ::killpg(pid, SIGKILL);
        kill_sent = true;
      }
      if (exited && ((out_fd < 0 && err_fd < 0) || now - exited_at >= kDrainAfterExitNs)) break;

      pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
      const int ready = ::poll(fds, 2, 20);
      if (ready <= 0) continue;  // timeout or EINTR: check the child and the token again
      for (int k = 0; k < 2; ++k) {
        if (fds[k].fd < 0 || fds[k].revents == 0) continue;
        const ssize_t n = ::read(fds[k].fd, buffer.data(), buffer.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
          CloseFd(k == 0 ? out_fd : err_fd);
          continue;
        }
        const size_t len = static_cast<size_t>(n);
        if (k == 0) {
          const size_t room = static_cast<size_t>(with.max_output) -
                              std::min(out.size(), static_cast<size_t>(with.max_output));
          out.append(buffer.data(), std::min(room, len));
          if (len > room) truncated = true;  // read on (and drop) so the program never blocks
        } else {
          err_tail.append(buffer.data(), len);
          if (err_tail.size() > kStderrTailBytes) {
            err_tail.erase(0, err_tail.size() - kStderrTailBytes);
          }
        }
      }
    }
    CloseFd(out_fd);
    CloseFd(err_fd);
    const int status = Reap(pid);
    // Whatever was left in the group got SIGKILL; give it a moment to be gone.
    for (int i = 0; i < 50 && journal::ProcessGroupAlive(pid); ++i) ::usleep(10'000);
    if (!journal::ProcessGroupAlive(pid)) {
      Status done = journal.Done(*journaled);
      if (!done.ok()) LogWarn("exec: " + done.message());
    }
    const int64_t duration_ms = (MonotonicNs() - start) / 1'000'000;

    int exit_code = 0;
    int signal = 0;
    if (WIFEXITED(status)) {
      exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      signal = WTERMSIG(status);
      exit_code = 128 + signal;
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    nlohmann::json outputs = {{"exit_code", exit_code},
                              {"stdout", ValidUtf8(out)},
                              {"stderr_tail", ValidUtf8(err_tail)},
                              {"duration_ms", duration_ms},
                              {"truncated", truncated},
                              {"pid", pid}};
    if (signal != 0) outputs["signal"] = signal;
    ctx.run.SetOutputs(ctx.step.id, std::move(outputs));

    if (term_sent) {
      return Cancelled("'" + program + "' stopped (" + ctx.cancel.reason() + ") with SIGTERM" +
                       (hurried_kill ? " and, hurried, SIGKILL at once"
                        : kill_sent  ? " and, 2 s later, SIGKILL"
                                     : ""));
    }
    if (exit_code != with.expect_exit) {
      std::string message = "'" + program + "' exited with " + std::to_string(exit_code);
      if (signal != 0) message += " (killed by signal " + std::to_string(signal) + ")";
      message += ", expected " + std::to_string(with.expect_exit);
      const std::string last = LastLine(ValidUtf8(err_tail));
      if (!last.empty()) message += "; stderr: " + last;
      return FailedPrecondition(message);
    }
    return Status::Ok();
  }

 private:
  // Waits for `pid` and returns its wait status.
  static int Reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
  }

  static std::string LastLine(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    const size_t nl = text.rfind('\n');
    std::string last = nl == std::string::npos ? text : text.substr(nl + 1);
    if (last.size() > 300) last = "..." + last.substr(last.size() - 300);
    return last;
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewExecStep() { return std::make_unique<ExecStep>(); }

}  // namespace drone::flow
