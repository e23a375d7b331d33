#include "cli/env_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runs_command.h"
#include "cli/signals.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/run_id.h"
#include "flow/engine.h"
#include "flow/preflight.h"
#include "flow/run_context.h"
#include "journal/undo_journal.h"
#include "spec/loader.h"
#include "spec/setup_steps.h"

namespace drone::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kExitBadInput = 2;
constexpr int kExitIncomplete = 3;
constexpr int kHolderReadyFd = 3;                          // the pipe, in the holder
constexpr int64_t kHolderStopTimeoutNs = 60 * kNsPerSec;  // up: a failed holder's teardown
constexpr int64_t kPollNs = 50'000'000;

fs::path EnvDir(const std::string& data_dir) { return fs::path(data_dir) / "envs"; }
fs::path EnvFile(const std::string& data_dir, const std::string& name) {
  return EnvDir(data_dir) / (name + ".json");
}
fs::path EnvLog(const std::string& data_dir, const std::string& name) {
  return EnvDir(data_dir) / (name + ".log");
}

// Names become file names: letters, digits, '.', '_', '-'; not starting with '.'.
bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 100 || name[0] == '.') return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

Result<json> ReadJsonFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read " + path.string());
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument(path.string() + " is not a JSON object");
  }
  return j;
}

// Written to a temporary name and renamed, so that a reader never sees half a file.
Status WriteJsonFile(const fs::path& path, const json& j) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << "\n";
    out.close();
    if (!out) return Internal("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Internal("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::Ok();
}

// The names of the environments in the data directory, sorted.
std::vector<std::string> EnvNames(const std::string& data_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(EnvDir(data_dir), ec)) {
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

journal::ProcessIdentity HolderOf(const json& env) {
  journal::ProcessIdentity who;
  who.pid = env.value("pid", 0);
  who.start = env.value("pid_start", uint64_t{0});
  return who;
}

bool HolderAlive(const json& env) {
  const journal::ProcessIdentity who = HolderOf(env);
  return who.pid > 0 && journal::IsAlive(who);
}

// Writes every event to the holder's log (its stderr).
class LogObserver : public flow::RunObserver {
 public:
  void OnEvent(const flow::Event& e) override {
    std::string line = FormatTimestamp(e.t_ns) + " " + e.type;
    if (!e.step.empty()) line += " " + e.step;
    if (!e.message.empty()) line += ": " + e.message;
    line += "\n";
    [[maybe_unused]] ssize_t w = ::write(STDERR_FILENO, line.data(), line.size());
  }
};

void WriteAll(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// The holder's one report line to `up`; the pipe is closed after it.
void Report(int& ready_fd, const json& report) {
  if (ready_fd < 0) return;
  WriteAll(ready_fd, report.dump() + "\n");
  ::close(ready_fd);
  ready_fd = -1;
}

// Waits up to `timeout_ns` for `who` to be gone (reaping it when it is our child).
bool WaitGone(const journal::ProcessIdentity& who, int64_t timeout_ns, bool our_child) {
  const int64_t deadline = MonotonicNs() + timeout_ns;
  while (true) {
    if (our_child) {
      int status = 0;
      pid_t r = ::waitpid(who.pid, &status, WNOHANG);
      if (r == who.pid || (r < 0 && errno == ECHILD)) return true;
    } else if (!journal::IsAlive(who)) {
      return true;
    }
    if (MonotonicNs() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::nanoseconds(kPollNs));
  }
}

// Undoes what the journal of a dead holder still holds. Returns false when an undo failed.
bool CleanHolderJournal(const std::string& data_dir, const std::string& journal_path,
                        std::ostream& out) {
  std::error_code ec;
  if (journal_path.empty() || !fs::exists(journal_path, ec)) return true;
  Result<journal::JournalFile> file = journal::ReadJournal(journal_path);
  if (!file.ok()) {
    out << "drone: " << file.status().message() << "\n";
    return false;
  }
  if (file->owner_alive) {
    out << "drone: " << journal_path << ": its owner (pid " << file->owner.pid
        << ") is still alive; left alone\n";
    return false;
  }
  journal::UndoEnv env;
  env.data_dir = data_dir;
  bool ok = true;
  for (const journal::CleanAction& a : journal::CleanJournal(*file, env)) {
    out << "  " << a.what << ": " << (a.status.ok() ? a.done : "FAILED: " + a.status.message())
        << "\n";
    ok = ok && a.status.ok();
  }
  return ok;
}

void PrintEnv(const json& env, bool alive, std::ostream& out) {
  const std::string name = env.value("name", std::string("?"));
  out << name << ": flow " << env.value("flow", std::string("?")) << ", up since "
      << env.value("started_at", std::string("?")) << ", holder pid " << env.value("pid", 0)
      << (alive ? "" : " (DEAD: `drone down " + name + "` undoes what it left)") << "\n";
  if (!env.contains("outputs") || !env["outputs"].is_object()) return;
  for (const auto& [step, o] : env["outputs"].items()) {
    if (!o.is_object() || !o.contains("bootstrap")) continue;  // how to reach a cluster
    out << "  " << step << ": " << o.value("broker", std::string()) << " on "
        << o.value("platform", std::string()) << ", bootstrap "
        << o.value("bootstrap", std::string());
    if (!o.value("lb", std::string()).empty()) out << ", lb " << o.value("lb", std::string());
    out << "\n";
  }
}

// Loads the flow and reduces it to its set-up steps; prints every problem (to `err`) and
// returns nullopt when there is one.
std::optional<spec::FlowSpec> LoadSetup(const UpFlags& flags, std::string* name,
                                        std::ostream& err) {
  spec::LoadResult loaded = spec::LoadFlowFile(flags.flow_path, flags.params);
  std::vector<spec::Diagnostic> errors = loaded.errors;
  std::optional<spec::FlowSpec> setup;
  if (loaded.flow) {
    setup = spec::SetupFlow(*loaded.flow);
    std::vector<spec::Diagnostic> more = flow::Preflight(*setup);
    errors.insert(errors.end(), more.begin(), more.end());
  }
  if (!errors.empty() || !loaded.flow) {
    for (const spec::Diagnostic& d : errors) err << d.ToString() << "\n";
    err << "drone: " << errors.size() << (errors.size() == 1 ? " problem" : " problems") << " in "
        << flags.flow_path << "; nothing was started\n";
    return std::nullopt;
  }
  if (setup->steps.empty()) {
    err << flags.flow_path << ": no set-up steps: `drone up` runs the cluster and topic steps "
        << "(and steps marked `setup: true`) and what they need; this flow has none\n";
    return std::nullopt;
  }
  *name = flags.name.empty() ? loaded.flow->name : flags.name;
  return setup;
}

// The holder (`drone __hold`): runs the set-up steps, reports to `ready_fd`, holds until
// SIGTERM/SIGINT, tears down. Returns its exit code.
int HoldCommand(const UpFlags& flags, const std::string& run_id, int ready_fd) {
  SetLogLevel(LogLevel::kInfo);
  std::ostringstream problems;
  std::string name;
  std::optional<spec::FlowSpec> setup = LoadSetup(flags, &name, problems);
  if (!setup) {  // the file changed between `up` and here
    Report(ready_fd, {{"ok", false}, {"bad_input", true}, {"error", problems.str()}});
    return kExitBadInput;
  }
  LogInfo("holder of environment " + name + " (flow " + setup->name + ", run " + run_id + ")");
  CancelToken cancel;
  SignalWatcher signals(cancel);
  LogObserver observer;
  std::random_device rd;
  const uint64_t run_number =
      (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(NowNs());
  flow::RunContext run(*setup, run_id, run_number, &observer, nullptr);
  // Created at once (eager): an environment that is up always has a journal naming it.
  Result<std::unique_ptr<journal::Journal>> journal = journal::Journal::Create(
      flags.data_dir, run_id, setup->name, /*eager=*/true, json{{"env", name}});
  if (!journal.ok()) {
    Report(ready_fd,
           {{"ok", false}, {"error", "cannot keep an undo journal: " + journal.status().message()}});
    return kExitIncomplete;
  }
  run.AttachJournal(journal->get());
  // `collect` set-up steps keep their files in a temporary directory that goes with the holder.
  run.SetRunDir((fs::temp_directory_path() / ("drone-run-" + run_id)).string(), true);
  const fs::path env_file = EnvFile(flags.data_dir, name);
  bool ready = false;

  flow::FlowEngine engine(run);
  engine.SetBeforeTeardown([&](const std::vector<flow::StepRecord>& steps) {
    std::string failures;
    bool bad_input = false;
    json outputs = json::object();
    for (const flow::StepRecord& r : steps) {
      if (r.status == flow::StepStatus::kSucceeded) {
        outputs[r.id] = run.Outputs(r.id);
      } else {
        bad_input = bad_input || r.error.code() == StatusCode::kInvalidArgument;
        failures += (failures.empty() ? "" : "; ") +
                    ("step " + r.id + " " + flow::StepStatusName(r.status) +
                     (r.error.ok() ? std::string() : ": " + r.error.message()));
      }
    }
    if (failures.empty() && cancel.cancelled()) failures = cancel.reason();
    if (!failures.empty()) {
      Report(ready_fd, {{"ok", false}, {"bad_input", bad_input}, {"error", failures}});
      return;
    }
    const journal::ProcessIdentity self = journal::Self();
    json env = {{"name", name},
                {"flow", setup->name},
                {"file", flags.flow_path},
                {"params", setup->params},
                {"run_id", run_id},
                {"pid", self.pid},
                {"pid_start", self.start},
                {"started_at", FormatTimestamp(NowNs())},
                {"log", EnvLog(flags.data_dir, name).string()},
                {"journal", (*journal)->path()},
                {"steps", json::array()},
                {"outputs", outputs}};
    for (const flow::StepRecord& r : steps) env["steps"].push_back(r.id);
    Status written = WriteJsonFile(env_file, env);
    if (!written.ok()) {
      Report(ready_fd, {{"ok", false}, {"error", written.message()}});
      return;
    }
    ready = true;
    Report(ready_fd, {{"ok", true}, {"env", env}});
    LogInfo("environment " + name + " is up; holding until SIGTERM (drone down " + name + ")");
    // Holds until told to stop (drone down: SIGTERM). Each wait is bounded; the loop also ends
    // when the environment's file is removed by hand.
    while (!cancel.WaitFor(kNsPerSec)) {
      std::error_code ec;
      if (!fs::exists(env_file, ec)) {
        LogWarn(env_file.string() + " is gone: tearing down");
        break;
      }
    }
    LogInfo("environment " + name + ": tearing down (" +
            (cancel.cancelled() ? cancel.reason() : std::string("its file is gone")) + ")");
  });
  flow::RunOutcome outcome = engine.Run(cancel);
  const size_t left_open = (*journal)->open_entries();
  Status closed = (*journal)->Close();
  if (!closed.ok()) LogWarn(closed.message());
  const bool clean = outcome.teardown.ok() && left_open == 0 && closed.ok();
  // What could not be undone stays listed (dead) until `drone down` or `drone clean`.
  std::error_code ec;
  if (ready && clean) fs::remove(env_file, ec);
  LogInfo("environment " + name + " is down" +
          (clean ? std::string()
                 : "; " + std::to_string(left_open) + " undo action(s) failed (drone clean)"));
  if (!clean) return kExitIncomplete;
  return ready ? 0 : kExitIncomplete;
}

// Starts the holder: fork, then in the child a session of its own, /dev/null for stdin, the log
// for stdout and stderr, the pipe's write end as fd 3, and exec of this very binary.
Result<pid_t> StartHolder(const UpFlags& flags, const std::string& name,
                          const std::string& run_id, const fs::path& log_path, int ready_write) {
  std::vector<std::string> args = {"drone",     "__hold",       "--name",  name,
                                   "--data-dir", flags.data_dir, "--run-id", run_id,
                                   "--ready-fd", std::to_string(kHolderReadyFd)};
  for (const auto& [k, v] : flags.params) {
    args.push_back("-p");
    args.push_back(k + "=" + v);
  }
  args.push_back(flags.flow_path);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return Internal("cannot write " + log_path.string() + ": " + std::strerror(errno));
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    const int e = errno;
    ::close(log_fd);
    return Internal(std::string("cannot open /dev/null: ") + std::strerror(e));
  }
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec. dup2 clears close-on-exec on the copies.
    ::setsid();  // no terminal: Ctrl-C in the shell that ran `up` does not reach it
    if (::dup2(ready_write, kHolderReadyFd) < 0 || ::dup2(devnull, STDIN_FILENO) < 0 ||
        ::dup2(log_fd, STDOUT_FILENO) < 0 || ::dup2(log_fd, STDERR_FILENO) < 0) {
      ::_exit(127);
    }
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);  // the pipe closes without a report: `up` says the holder ended
  }
  const int fork_errno = errno;
  ::close(log_fd);
  ::close(devnull);
  if (pid < 0) return Internal(std::string("fork: ") + std::strerror(fork_errno));
  return pid;
}

// Reads the holder's report line, up to `timeout_s`; Ctrl-C gives up. Sets `*failure` when there
// is no report.
std::string ReadReport(int fd, int64_t timeout_s, std::string* failure) {
  CancelToken cancel;
  SignalWatcher signals(cancel);
  std::string line;
  const int64_t deadline = MonotonicNs() + timeout_s * kNsPerSec;
  while (line.find('\n') == std::string::npos) {
    if (cancel.cancelled()) {
      *failure = "interrupted";
      break;
    }
    if (MonotonicNs() >= deadline) {
      *failure = "the set-up steps were not ready after " + std::to_string(timeout_s) +
                 " s (--ready-timeout)";
      break;
    }
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 100);
    if (r < 0 && errno != EINTR) {
      *failure = std::string("poll: ") + std::strerror(errno);
      break;
    }
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *failure = "the holder ended before it was ready";
      break;
    }
    line.append(buf, static_cast<size_t>(n));
  }
  return line.substr(0, line.find('\n'));
}

// The last `bytes` of `path` (from a line start), for a report.
std::string LogTail(const fs::path& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > bytes) {
    text = text.substr(text.size() - bytes);
    const size_t nl = text.find('\n');
    if (nl != std::string::npos) text = text.substr(nl + 1);
  }
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

}  // namespace

int UpCommand(const UpFlags& in) {
  UpFlags flags = in;
  std::string name;
  std::optional<spec::FlowSpec> setup = LoadSetup(flags, &name, std::cerr);
  if (!setup) return kExitBadInput;
  if (!ValidName(name)) {
    std::cerr << "drone up: --name: '" << name << "' is not a usable name: letters, digits, '.', "
              << "'_' and '-' only (pass --name NAME); nothing was started\n";
    return kExitBadInput;
  }
  if (flags.data_dir.empty()) {
    std::cerr << "drone up: --data-dir is empty: a standing environment is kept there; nothing "
                 "was started\n";
    return kExitBadInput;
  }
  // The holder runs in another working directory's stead: absolute paths only.
  std::error_code ec;
  flags.name = name;
  flags.flow_path = fs::absolute(flags.flow_path, ec).string();
  flags.data_dir = fs::absolute(flags.data_dir, ec).string();
  fs::create_directories(EnvDir(flags.data_dir), ec);
  if (ec) {
    std::cerr << "drone up: cannot create " << EnvDir(flags.data_dir).string() << ": "
              << ec.message() << "; nothing was started\n";
    return kExitIncomplete;
  }
  const fs::path env_file = EnvFile(flags.data_dir, name);
  if (Result<json> existing = ReadJsonFile(env_file); existing.ok()) {
    std::cerr << "drone up: an environment named '" << name << "' is "
              << (HolderAlive(*existing) ? "up already" : "left from a holder that died") << " ("
              << env_file.string() << "); `drone down " << name
              << "` first, or pick another --name; nothing was started\n";
    return kExitBadInput;
  }

  const fs::path log_path = EnvLog(flags.data_dir, name);
  const std::string run_id = NewRunId();
  int ready_pipe[2] = {-1, -1};
  if (::pipe2(ready_pipe, O_CLOEXEC) != 0) {
    std::cerr << "drone up: pipe: " << std::strerror(errno) << "\n";
    return kExitIncomplete;
  }
  Result<pid_t> started = StartHolder(flags, name, run_id, log_path, ready_pipe[1]);
  ::close(ready_pipe[1]);
  if (!started.ok()) {
    ::close(ready_pipe[0]);
    std::cerr << "drone up: " << started.status().message() << "; nothing was started\n";
    return kExitIncomplete;
  }
  const pid_t pid = *started;
  std::string failure;
  const std::string line = ReadReport(ready_pipe[0], flags.ready_timeout_s, &failure);
  ::close(ready_pipe[0]);
  json report = failure.empty() ? json::parse(line, nullptr, false) : json();
  bool bad_input = false;
  if (failure.empty() && (!report.is_object() || !report.value("ok", false))) {
    failure = report.is_object() ? report.value("error", std::string("unknown error"))
                                 : "the holder's report is not JSON";
    bad_input = report.is_object() && report.value("bad_input", false);
  }
  const journal::ProcessIdentity holder{pid, 0};
  if (!failure.empty()) {
    // A holder that reported tears down by itself; one that did not (timeout, Ctrl-C) is told to.
    if (!report.is_object()) ::kill(pid, SIGTERM);
    if (!WaitGone(holder, kHolderStopTimeoutNs, /*our_child=*/true)) {
      ::kill(pid, SIGKILL);
      WaitGone(holder, kHolderStopTimeoutNs, true);
    }
    std::vector<std::string> problems;
    for (const journal::JournalFile& f : journal::ListJournals(flags.data_dir, &problems)) {
      if (f.run_id == run_id) CleanHolderJournal(flags.data_dir, f.path, std::cerr);
    }
    fs::remove(env_file, ec);
    std::cerr << (bad_input ? "" : "drone up: ") << failure << (failure.ends_with("\n") ? "" : "\n");
    if (!bad_input) {  // the holder's own words, then its log goes with it
      std::cerr << "drone up: the end of the holder's log:\n" << LogTail(log_path, 4096);
    }
    fs::remove(log_path, ec);
    std::cerr << "drone up: " << name << " is not up; nothing was left running\n";
    return bad_input ? kExitBadInput : kExitIncomplete;
  }
  const json& env = report["env"];
  if (flags.json) {
    json out = env;
    out["alive"] = true;
    std::cout << out.dump(2) << "\n";
  } else {
    PrintEnv(env, true, std::cout);
    std::cout << "  every output: drone status --data-dir " << flags.data_dir
              << " --json\n  tear down:    drone down " << name << " --data-dir " << flags.data_dir
              << "\n";
  }
  return 0;
}

int DownCommand(const std::string& data_dir, const std::string& name, bool all,
                int64_t timeout_s) {
  std::vector<std::string> names;
  if (all) {
    names = EnvNames(data_dir);
    if (names.empty()) {
      std::cout << "nothing is up in " << data_dir << "\n";
      return 0;
    }
  } else {
    std::error_code ec;
    if (!ValidName(name) || !fs::exists(EnvFile(data_dir, name), ec)) {
      std::cerr << "drone down: no environment named '" << name << "' in " << data_dir
                << " (drone status lists them)\n";
      return kExitBadInput;
    }
    names.push_back(name);
  }
  bool failed = false;
  for (const std::string& n : names) {
    const fs::path file = EnvFile(data_dir, n);
    Result<json> env = ReadJsonFile(file);
    if (!env.ok()) {
      std::cerr << "drone down: " << env.status().message() << "\n";
      failed = true;
      continue;
    }
    const journal::ProcessIdentity holder = HolderOf(*env);
    bool gone = !HolderAlive(*env);
    if (!gone) {
      std::cout << n << ": stopping the holder (pid " << holder.pid << ")\n";
      ::kill(holder.pid, SIGTERM);
      gone = WaitGone(holder, timeout_s * kNsPerSec, /*our_child=*/false);
      if (!gone) {
        std::cerr << "drone down: " << n << ": the holder did not finish within " << timeout_s
                  << " s; killing it and undoing its journal\n";
        ::kill(holder.pid, SIGKILL);
        gone = WaitGone(holder, 10 * kNsPerSec, false);
      }
    } else {
      std::cout << n << ": the holder (pid " << holder.pid << ") is dead; undoing its journal\n";
    }
    if (!gone) {
      std::cerr << "drone down: " << n << ": the holder (pid " << holder.pid
                << ") is still alive\n";
      failed = true;
      continue;
    }
    if (!CleanHolderJournal(data_dir, env->value("journal", std::string()), std::cout)) {
      failed = true;
      continue;
    }
    std::error_code ec;
    fs::remove(file, ec);
    fs::remove(EnvLog(data_dir, n), ec);
    std::cout << n << ": down\n";
  }
  return failed ? kExitIncomplete : 0;
}

int StatusCommand(const std::string& data_dir, bool json_out) {
  const std::vector<std::string> names = EnvNames(data_dir);
  json out = {{"data_dir", data_dir}, {"environments", json::array()}};
  for (const std::string& n : names) {
    Result<json> env = ReadJsonFile(EnvFile(data_dir, n));
    if (!env.ok()) {
      std::cerr << "drone status: skipped: " << env.status().message() << "\n";
      continue;
    }
    const bool alive = HolderAlive(*env);
    json e = {{"name", env->value("name", n)},
              {"flow", env->value("flow", std::string())},
              {"file", env->value("file", std::string())},
              {"started_at", env->value("started_at", std::string())},
              {"pid", env->value("pid", 0)},
              {"alive", alive},
              {"run_id", env->value("run_id", std::string())},
              {"log", env->value("log", std::string())},
              {"journal", env->value("journal", std::string())},
              {"steps", env->value("steps", json::array())},
              {"outputs", env->value("outputs", json::object())}};
    out["environments"].push_back(e);
    if (!json_out) PrintEnv(*env, alive, std::cout);
  }
  if (json_out) {
    std::cout << out.dump(2) << "\n";
  } else if (names.empty()) {
    std::cout << "nothing is up in " << data_dir << "\n";
  }
  return 0;
}

std::vector<std::string> ForgetDeadEnvironments(const std::string& data_dir) {
  std::vector<std::string> forgotten;
  for (const std::string& n : EnvNames(data_dir)) {
    Result<json> env = ReadJsonFile(EnvFile(data_dir, n));
    if (!env.ok() || HolderAlive(*env)) continue;
    std::error_code ec;
    const std::string journal_path = env->value("journal", std::string());
    if (!journal_path.empty() && fs::exists(journal_path, ec)) continue;  // not cleaned yet
    fs::remove(EnvFile(data_dir, n), ec);
    fs::remove(EnvLog(data_dir, n), ec);
    forgotten.push_back(n);
  }
  return forgotten;
}

EnvSubcommands::EnvSubcommands(CLI::App& app) {
  up_flags_.data_dir = DefaultDataDir();
  down_data_dir_ = DefaultDataDir();
  status_data_dir_ = DefaultDataDir();

  up_ = app.add_subcommand(
      "up", "start a flow's set-up steps (clusters, topics) and leave them running: a standing\n"
            "environment to explore by hand; drone status lists it, drone down ends it");
  up_->add_option("flow", up_flags_.flow_path, "flow file (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  up_->add_option("-p,--param", up_params_, "override a flow parameter: -p nodes=3 (repeatable)");
  up_->add_option("--name", up_flags_.name, "the environment's name (default: the flow's name)");
  up_->add_option("--data-dir", up_flags_.data_dir, "where environments, logs and journals are kept")
      ->capture_default_str();
  up_->add_option("--ready-timeout", up_flags_.ready_timeout_s,
                  "seconds to wait for the set-up steps before giving up (and tearing down)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  up_->add_flag("--json", up_flags_.json, "print the environment as JSON (outputs, pid, log)");
  up_->footer(
      "Runs only the set-up steps: steps marked `setup: true`, the cluster and topic steps (unless\n"
      "marked `setup: false`), and every step they need. A holder process (a detached drone) owns\n"
      "what they started — the embedded Kafka cluster lives inside it, local servers are its\n"
      "children — and keeps an undo journal. Prints how to reach each cluster (bootstrap, lb); use\n"
      "it from other flows with `platform: external`, or from any client (kcat). Exit codes: 0 up,\n"
      "2 bad input (nothing left running), 3 the set-up failed or timed out (all of it was torn\n"
      "down). See docs/flows.md.");

  down_ = app.add_subcommand("down", "tear down a standing environment (drone up)");
  down_->add_option("name", down_name_, "the environment (drone status lists them)");
  down_->add_flag("--all", down_all_, "every environment in the data directory");
  down_->add_option("--data-dir", down_data_dir_, "where environments are kept")
      ->capture_default_str();
  down_->add_option("--timeout", down_timeout_s_, "seconds to wait for the holder to tear down")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  down_->footer(
      "Sends SIGTERM to the environment's holder and waits (bounded) until it has torn everything\n"
      "down. A holder that is dead (killed) or does not finish in time: its undo journal is run\n"
      "instead, as `drone clean` would. Exit codes: 0 down, 2 no such environment, 3 something\n"
      "could not be undone (see drone clean).");

  status_ = app.add_subcommand("status", "list the standing environments (drone up)");
  status_->add_option("--data-dir", status_data_dir_, "where environments are kept")
      ->capture_default_str();
  status_->add_flag("--json", status_json_, "print as JSON");
  status_->footer(
      "For each environment: name, flow, when it came up, the holder's pid, whether the holder is\n"
      "alive, and how to reach its clusters (bootstrap, lb). --json adds every output of the\n"
      "set-up steps, the holder's log and its journal.");

  // Run by `up` only (hidden: no group).
  hold_ = app.add_subcommand("__hold", "the holder of a standing environment (run by drone up)");
  hold_->group("");
  hold_->add_option("flow", hold_flags_.flow_path)->required();
  hold_->add_option("-p,--param", hold_params_);
  hold_->add_option("--name", hold_flags_.name)->required();
  hold_->add_option("--data-dir", hold_flags_.data_dir)->required();
  hold_->add_option("--run-id", hold_run_id_)->required();
  hold_->add_option("--ready-fd", hold_ready_fd_)->required();
}

std::optional<int> EnvSubcommands::Run() {
  if (up_->parsed()) {
    if (!ParseParams(up_params_, &up_flags_.params)) return kExitBadInput;
    return UpCommand(up_flags_);
  }
  if (down_->parsed()) {
    if (down_all_ == !down_name_.empty()) {
      std::cerr << "drone down: name one environment, or pass --all (drone status lists them)\n";
      return kExitBadInput;
    }
    return DownCommand(down_data_dir_, down_name_, down_all_, down_timeout_s_);
  }
  if (status_->parsed()) return StatusCommand(status_data_dir_, status_json_);
  if (hold_->parsed()) {
    if (!ParseParams(hold_params_, &hold_flags_.params)) return kExitBadInput;
    // The pipe must not reach the holder's own children.
    ::fcntl(hold_ready_fd_, F_SETFD, FD_CLOEXEC);
    return HoldCommand(hold_flags_, hold_run_id_, hold_ready_fd_);
  }
  return std::nullopt;
}

}  // namespace drone::cli
