#include "journal/undo_journal.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "journal/netns_undo.h"

namespace drone::journal {
namespace {

namespace fs = std::filesystem;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Fields after "pid (comm)" in /proc/PID/stat; comm may hold blanks and ')', so split after the
// last ')'. Field 3 (state) is rest[0], field 5 (pgrp) rest[2], field 22 (starttime) rest[19].
bool ReadStat(pid_t pid, std::vector<std::string>* rest) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 1));
  rest->clear();
  for (std::string f; fields >> f;) rest->push_back(f);
  return rest->size() >= 20;
}

// Live (non-zombie) processes whose process group is `pgid`.
std::vector<pid_t> GroupMembers(pid_t pgid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::vector<std::string> rest;
    if (!ReadStat(static_cast<pid_t>(std::stol(name)), &rest)) continue;
    if (rest[0] == "Z" || rest[0] == "X") continue;
    if (rest[2] == std::to_string(pgid)) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// process-group: {"pgid": N, "start": T}. The group's leader is gone or still the process that
// was journaled (same start time); a pid cannot be reused while its process group still exists,
// so members of a group whose leader died are still ours.
class ProcessGroupUndo : public UndoKind {
 public:
  std::string Name() const override { return "process-group"; }
  Status Undo(const nlohmann::json& args, const UndoEnv& env, std::string* what) const override {
    if (!args.is_object() || !args.contains("pgid") || !args["pgid"].is_number_integer() ||
        !args.contains("start") || !args["start"].is_number_unsigned()) {
      return InvalidArgument("process-group needs {pgid, start}, got " + args.dump());
    }
    const pid_t pgid = args["pgid"].get<pid_t>();
    const uint64_t start = args["start"].get<uint64_t>();
    if (pgid <= 1) return InvalidArgument("process-group: refusing pgid " + std::to_string(pgid));
    Result<uint64_t> leader_start = ProcessStartTime(pgid);
    if (leader_start.ok() && *leader_start != start) {
      *what = "process group " + std::to_string(pgid) + ": the id now belongs to another process; left alone";
      return Status::Ok();
    }
    std::vector<pid_t> members = GroupMembers(pgid);
    if (members.empty()) {
      *what = "process group " + std::to_string(pgid) + ": already gone";
      return Status::Ok();
    }
    const std::string count = std::to_string(members.size()) +
                              (members.size() == 1 ? " process" : " processes");
    if (env.dry_run) {
      *what = "would stop process group " + std::to_string(pgid) + " (" + count + ")";
      return Status::Ok();
    }
    ::killpg(pgid, SIGTERM);
    const int64_t deadline = MonotonicNs() + env.term_grace_ns;
    while (!GroupMembers(pgid).empty() && MonotonicNs() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling /proc: no event to wait on
    }
    bool killed = false;
    if (!GroupMembers(pgid).empty()) {
      ::killpg(pgid, SIGKILL);
      killed = true;
      const int64_t kill_deadline = MonotonicNs() + 2 * kNsPerSec;
      while (!GroupMembers(pgid).empty() && MonotonicNs() < kill_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    if (!GroupMembers(pgid).empty()) {
      return Internal("process group " + std::to_string(pgid) + " survived SIGKILL");
    }
    *what = "stopped process group " + std::to_string(pgid) + " (" + count + ", SIGTERM" +
            (killed ? ", then SIGKILL" : "") + ")";
    return Status::Ok();
  }
};

// True when `path` lies inside `root` (both made absolute and normal, without following the
// last component, so a symlink itself is removed and never its target).
bool Inside(const fs::path& path, const fs::path& root) {
  const fs::path p = path.lexically_normal();
  const fs::path r = root.lexically_normal();
  auto [ri, pi] = std::mismatch(r.begin(), r.end(), p.begin(), p.end());
  if (ri != r.end() && !(ri->empty() && std::next(ri) == r.end())) return false;
  return pi != p.end();  // strictly below the root, never the root itself
}

// path: {"path": "/abs"} under the data directory (not the journal itself) or a drone-* directory
// in the temp directory.
class PathUndo : public UndoKind {
 public:
  std::string Name() const override { return "path"; }
  Status Undo(const nlohmann::json& args, const UndoEnv& env, std::string* what) const override {
    if (!args.is_object() || !args.contains("path") || !args["path"].is_string()) {
      return InvalidArgument("path needs {path}, got " + args.dump());
    }
    const fs::path path(args["path"].get<std::string>());
    if (!path.is_absolute() || path.lexically_normal() != path) {
      return InvalidArgument("path: refusing '" + path.string() + "': not an absolute, normal path");
    }
    const char* tmp_env = std::getenv("TMPDIR");
    const fs::path tmp = tmp_env != nullptr && tmp_env[0] == '/' ? fs::path(tmp_env) : fs::path("/tmp");
    bool allowed = false;
    if (!env.data_dir.empty() && Inside(path, fs::path(env.data_dir))) allowed = true;
    if (Inside(path, tmp)) {
      const fs::path first = *path.lexically_relative(tmp).begin();
      if (first.string().rfind("drone-", 0) == 0) allowed = true;
    }
    if (!env.data_dir.empty()) {
      // Never the data directory itself, one that holds it, or the journals.
      const fs::path data = fs::path(env.data_dir).lexically_normal();
      const fs::path journals = data / kJournalDirName;
      if (path == data || Inside(data, path) || path == journals || Inside(path, journals)) {
        allowed = false;
      }
    }
    if (!allowed) {
      return InvalidArgument("path: refusing to remove '" + path.string() +
                             "': only directories under the data directory or " + tmp.string() +
                             "/drone-* are Drone's");
    }
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(path, ec))) {
      *what = "removed " + path.string() + " (already gone)";
      return Status::Ok();
    }
    if (env.dry_run) {
      *what = "would remove " + path.string();
      return Status::Ok();
    }
    fs::remove_all(path, ec);
    if (ec) return Internal("removing " + path.string() + ": " + ec.message());
    *what = "removed " + path.string();
    return Status::Ok();
  }
};

}  // namespace

Result<uint64_t> ProcessStartTime(pid_t pid) {
  std::vector<std::string> rest;
  if (pid <= 0 || !ReadStat(pid, &rest)) return NotFound("no process " + std::to_string(pid));
  if (rest[0] == "Z" || rest[0] == "X") return NotFound("process " + std::to_string(pid) + " is a zombie");
  return static_cast<uint64_t>(std::stoull(rest[19]));
}

ProcessIdentity Self() {
  ProcessIdentity me{::getpid(), 0};
  Result<uint64_t> start = ProcessStartTime(me.pid);
  if (start.ok()) me.start = *start;
  return me;
}

bool IsAlive(const ProcessIdentity& who) {
  Result<uint64_t> start = ProcessStartTime(who.pid);
  return start.ok() && *start == who.start;
}

bool ProcessGroupAlive(pid_t pgid) { return !GroupMembers(pgid).empty(); }

Result<UndoRecord> ProcessGroupRecord(pid_t pgid) {
  ASSIGN_OR_RETURN(uint64_t start, ProcessStartTime(pgid));
  return UndoRecord{"process-group", {{"pgid", pgid}, {"start", start}}};
}

UndoRecord PathRecord(const std::string& path) { return UndoRecord{"path", {{"path", path}}}; }

std::string TempBase() {
  const char* t = std::getenv("TMPDIR");
  return t != nullptr && t[0] == '/' ? std::string(t) : std::string("/tmp");
}

Result<std::string> MakeTempDirectory(const std::string& tmp, const std::string& name,
                                      const std::string& what, Journal* journal,
                                      uint64_t* journal_id) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  *journal_id = 0;
  for (int attempt = 0; attempt < 32; ++attempt) {
    std::string dir = tmp + "/drone-" + name + "-";
    for (int i = 0; i < 6; ++i) dir += kChars[rng() % (sizeof(kChars) - 1)];
    uint64_t id = 0;
    if (journal != nullptr) {
      ASSIGN_OR_RETURN(id, journal->Add(PathRecord(dir), what + " " + dir));
    }
    if (::mkdir(dir.c_str(), 0700) == 0) {
      *journal_id = id;
      return dir;
    }
    const int e = errno;
    if (journal != nullptr) RETURN_IF_ERROR(journal->Done(id));
    if (e != EEXIST) {
      return Internal("cannot create a " + what + " in " + tmp + ": " + std::strerror(e));
    }
  }
  return Internal("cannot create a " + what + " in " + tmp + ": every name tried exists");
}

void RegisterBuiltinUndoKinds(Registry<UndoKind>& registry) {
  registry.Register("process-group", "SIGTERM a process group, SIGKILL after a grace period",
                    [] { return std::make_unique<ProcessGroupUndo>(); });
  registry.Register("path", "remove a directory Drone created (data or drone-* temp directories)",
                    [] { return std::make_unique<PathUndo>(); });
  registry.Register(kNetnsUndoKind, "delete a run's lab network namespaces (drone-<run>-*)",
                    [] { return NewNetnsUndo(); });
}

Registry<UndoKind>& UndoKindRegistry() {
  static Registry<UndoKind> registry("undo kind");
  static std::once_flag once;
  std::call_once(once, [] { RegisterBuiltinUndoKinds(registry); });
  return registry;
}

// ---- Journal ----

Journal::Journal() = default;

Result<std::unique_ptr<Journal>> Journal::Create(const std::string& data_dir,
                                                 const std::string& run_id,
                                                 const std::string& flow, bool eager,
                                                 const nlohmann::json& owner_extra) {
  if (data_dir.empty()) return InvalidArgument("the journal needs a data directory");
  auto journal = std::make_unique<Journal>();
  journal->path_ = (fs::path(data_dir) / kJournalDirName / (run_id + ".jsonl")).string();
  const ProcessIdentity me = Self();
  journal->owner_line_ = {{"t", "owner"},        {"run_id", run_id},    {"flow", flow},
                          {"pid", me.pid},        {"pid_start", me.start},
                          {"started_at", FormatTimestamp(NowNs())}};
  if (owner_extra.is_object()) {
    for (const auto& [k, v] : owner_extra.items()) journal->owner_line_[k] = v;
  }
  std::error_code ec;
  if (fs::exists(journal->path_, ec)) {
    return FailedPrecondition("journal " + journal->path_ + " exists already");
  }
  if (eager) {
    std::lock_guard<std::mutex> lock(journal->mu_);
    RETURN_IF_ERROR(journal->OpenLocked());
  }
  return journal;
}

Journal::~Journal() {
  Status ignored = Close();
  (void)ignored;
}

Status Journal::OpenLocked() {
  if (fd_ >= 0 || path_.empty()) return Status::Ok();
  if (closed_) return FailedPrecondition("journal " + path_ + " is closed");
  const fs::path dir = fs::path(path_).parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return FailedPrecondition("cannot create " + dir.string() + ": " + ec.message());
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) return FailedPrecondition(Errno("cannot create journal " + path_));
  return AppendLocked(owner_line_);
}

Status Journal::AppendLocked(const nlohmann::json& line) {
  if (fd_ < 0) return Status::Ok();
  const std::string text = line.dump() + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Internal(Errno("writing the journal " + path_));
    done += static_cast<size_t>(n);
  }
  // The entry must be on disk before the thing it undoes exists.
  if (::fdatasync(fd_) != 0) return Internal(Errno("syncing the journal " + path_));
  return Status::Ok();
}

Result<uint64_t> Journal::Add(const UndoRecord& record, const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(OpenLocked());
  const uint64_t id = next_id_++;
  RETURN_IF_ERROR(AppendLocked(
      {{"t", "add"}, {"id", id}, {"kind", record.kind}, {"args", record.args}, {"what", what}}));
  open_.push_back(id);
  return id;
}

Status Journal::Done(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find(open_.begin(), open_.end(), id);
  if (it == open_.end()) return Status::Ok();
  open_.erase(it);
  return AppendLocked({{"t", "done"}, {"id", id}});
}

size_t Journal::open_entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.size();
}

Status Journal::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  if (fd_ < 0) return Status::Ok();
  ::close(fd_);
  fd_ = -1;
  if (!open_.empty()) return Status::Ok();  // left for `drone clean`
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    return Internal(Errno("removing the journal " + path_));
  }
  // The journal directory goes too when this was its last file (rmdir refuses otherwise).
  ::rmdir(fs::path(path_).parent_path().c_str());
  return Status::Ok();
}

// ---- reading ----

Result<JournalFile> ReadJournal(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(Errno("cannot read " + path));
  JournalFile file;
  file.path = path;
  std::vector<JournalEntry> entries;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("t")) continue;  // a torn last line
    const std::string t = j.value("t", "");
    if (first) {
      if (t != "owner") return InvalidArgument(path + " is not a Drone journal (no owner line)");
      file.owner_line = j;
      file.run_id = j.value("run_id", "");
      file.flow = j.value("flow", "");
      file.started_at = j.value("started_at", "");
      file.owner.pid = j.value("pid", 0);
      file.owner.start = j.value("pid_start", uint64_t{0});
      first = false;
    } else if (t == "add") {
      entries.push_back({j.value("id", uint64_t{0}),
                         {j.value("kind", ""), j.value("args", nlohmann::json::object())},
                         j.value("what", "")});
    } else if (t == "done") {
      const uint64_t id = j.value("id", uint64_t{0});
      entries.erase(std::remove_if(entries.begin(), entries.end(),
                                   [id](const JournalEntry& e) { return e.id == id; }),
                    entries.end());
    }
  }
  if (first) return InvalidArgument(path + " is empty");
  file.open = std::move(entries);
  file.owner_alive = IsAlive(file.owner);
  return file;
}

std::vector<JournalFile> ListJournals(const std::string& data_dir, std::vector<std::string>* problems) {
  std::vector<JournalFile> out;
  const fs::path dir = fs::path(data_dir) / kJournalDirName;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".jsonl") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  for (const fs::path& p : paths) {
    Result<JournalFile> file = ReadJournal(p.string());
    if (file.ok()) {
      out.push_back(std::move(file).value());
    } else if (problems != nullptr) {
      problems->push_back(file.status().message());
    }
  }
  return out;
}

std::vector<CleanAction> CleanJournal(const JournalFile& file, const UndoEnv& env) {
  std::vector<CleanAction> actions;
  int fd = -1;
  if (!env.dry_run) fd = ::open(file.path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  bool all_done = true;
  for (auto it = file.open.rbegin(); it != file.open.rend(); ++it) {
    CleanAction a{file.run_id, it->id, it->record.kind, it->what, "", Status::Ok()};
    Result<std::unique_ptr<UndoKind>> kind = UndoKindRegistry().Create(it->record.kind);
    a.status = kind.ok() ? (*kind)->Undo(it->record.args, env, &a.done) : kind.status();
    if (a.status.ok() && fd >= 0) {
      const std::string done = nlohmann::json{{"t", "done"}, {"id", it->id}}.dump() + "\n";
      if (::write(fd, done.data(), done.size()) != static_cast<ssize_t>(done.size())) {
        a.status = Internal(Errno("marking entry done in " + file.path));
      }
    }
    if (!a.status.ok()) all_done = false;
    actions.push_back(std::move(a));
  }
  if (fd >= 0) ::close(fd);
  if (!env.dry_run && all_done) ::unlink(file.path.c_str());
  return actions;
}

}  // namespace drone::journal
