// The undo journal: what a run (or a standing environment) has created that must be undone, on
// disk, so that `drone clean` can undo it after the owning process died without tearing down
// (SIGKILL, a crash, a power cut).
//
// One JSON-lines file per run, `<data-dir>/journal/<run_id>.jsonl`:
//   {"t":"owner","run_id":"…","flow":"…","pid":123,"pid_start":456789,"started_at":"…"}
//   {"t":"add","id":1,"kind":"process-group","args":{"pgid":4242,"start":456999},"what":"…"}
//   {"t":"done","id":1}
// An entry is appended (and fsync'ed) BEFORE the thing it undoes is created, and marked done once
// its undo has run; the file is removed when its owner closes it with nothing left open. The file
// is created with the first entry, so a run that journals nothing leaves no trace on disk. The
// owner is identified by pid plus its start time (/proc/PID/stat), so a reused pid is never
// mistaken for a live owner.
//
// Every entry is an UndoRecord: a kind name and JSON arguments, undone by the UndoKind of that
// name in UndoKindRegistry() without any of the original objects. Built in: `process-group`
// (SIGTERM to the group, SIGKILL after a grace period) and `path` (remove a directory Drone
// created under its data directory or a drone-* temp directory). Later kinds (netns, tc qdisc,
// iptables rule, kubernetes namespace) register by name the same way.
//
// Use, for anything that outlives a step (e.g. a server process a platform spawns):
//   UndoRecord r = ProcessGroupRecord(pid);         // after fork, before exec (see exec_step.cc)
//   ASSIGN_OR_RETURN(uint64_t id, journal.Add(r, "rabbitmq node 1"));
//   ... start it ...; at teardown: stop it, then journal.Done(id).
// Within a flow, RunContext::PushUndo(description, record, fn) does the Add and, after `fn`
// succeeds, the Done.
//
// Thread-safety: a Journal is safe for concurrent use (one mutex). The free functions are
// thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/registry.h"
#include "core/status.h"

namespace drone::journal {

inline constexpr const char* kJournalDirName = "journal";

struct UndoRecord {
  std::string kind;  // a name in UndoKindRegistry()
  nlohmann::json args = nlohmann::json::object();
};

// A process, told apart from a later one with the same pid by its start time (clock ticks since
// boot, /proc/PID/stat field 22).
struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start = 0;
};

// The start time of `pid`; NotFound when there is no such process.
Result<uint64_t> ProcessStartTime(pid_t pid);
// This process.
ProcessIdentity Self();
// True when `who.pid` exists and started at `who.start` (a zombie counts as dead).
bool IsAlive(const ProcessIdentity& who);
// True while a live (non-zombie) process is in process group `pgid`. (kill(-pgid, 0) also counts
// zombies that nobody has reaped yet, which are gone for every other purpose.)
bool ProcessGroupAlive(pid_t pgid);

// The record for the process group led by `pgid` (which must be alive: its start time is read
// now). Arguments: {"pgid": N, "start": T}.
Result<UndoRecord> ProcessGroupRecord(pid_t pgid);
// The record for a directory Drone created. Arguments: {"path": "/abs/path"}.
UndoRecord PathRecord(const std::string& path);

class Journal;
// Where Drone's temporary directories go: $TMPDIR when it is an absolute path, else /tmp.
std::string TempBase();
// Creates `<tmp>/drone-<name>-XXXXXX` (mode 0700). With a journal, the directory is journaled
// (kind `path`, described as "<what> <dir>") before it is made, so that `drone clean` removes it
// should Drone be killed; `*journal_id` is then its entry (0 without a journal).
Result<std::string> MakeTempDirectory(const std::string& tmp, const std::string& name,
                                      const std::string& what, Journal* journal,
                                      uint64_t* journal_id);

// What an undo kind may touch and how: given to UndoKind::Undo.
struct UndoEnv {
  std::string data_dir;  // Drone's data directory (paths under it may be removed)
  bool dry_run = false;  // say what would be done, do nothing
  int64_t term_grace_ns = 5'000'000'000;  // process-group: SIGTERM, then SIGKILL after this
};

class UndoKind {
 public:
  virtual ~UndoKind() = default;
  virtual std::string Name() const = 0;
  // Undoes `args` (as written by whoever journaled it). Idempotent: what is already gone is
  // success. Sets `*what` to one line saying what was (or, dry run, would be) done. Errors:
  // InvalidArgument for arguments it does not understand or refuses (a path outside Drone's
  // directories), Internal when the undo itself failed.
  virtual Status Undo(const nlohmann::json& args, const UndoEnv& env, std::string* what) const = 0;
};

Registry<UndoKind>& UndoKindRegistry();
void RegisterBuiltinUndoKinds(Registry<UndoKind>& registry);

class Journal {
 public:
  // A journal that records nothing (tests, `--no-journal` callers): Add() hands out ids, Done()
  // accepts them, nothing is written.
  Journal();
  // A journal at `<data_dir>/journal/<run_id>.jsonl`, owned by this process. The file (and the
  // directories, mkdir -p) are created by the first Add(), or at once with `eager` (a standing
  // environment is listed by its journal). `owner_extra` fields go into the owner line.
  // FailedPrecondition when the file exists already or cannot be created.
  static Result<std::unique_ptr<Journal>> Create(const std::string& data_dir,
                                                 const std::string& run_id,
                                                 const std::string& flow, bool eager = false,
                                                 const nlohmann::json& owner_extra = {});
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends an entry and syncs it to disk before returning its id. Call it BEFORE creating the
  // thing. Internal when the write fails (then do not create it).
  Result<uint64_t> Add(const UndoRecord& record, const std::string& what);
  // Marks entry `id` as undone.
  Status Done(uint64_t id);
  // Entries added and not yet done.
  size_t open_entries() const;
  // Ends the journal: removes the file when nothing is open, else leaves it for `drone clean`.
  // Idempotent.
  Status Close();

  bool enabled() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  Status OpenLocked();
  Status AppendLocked(const nlohmann::json& line);

  mutable std::mutex mu_;
  std::string path_;
  nlohmann::json owner_line_;
  bool closed_ = false;
  int fd_ = -1;
  uint64_t next_id_ = 1;
  std::vector<uint64_t> open_;
};

// ---- reading journals: `drone clean`, `drone status` ----

struct JournalEntry {
  uint64_t id = 0;
  UndoRecord record;
  std::string what;
};

struct JournalFile {
  std::string path;
  std::string run_id;
  std::string flow;
  std::string started_at;
  ProcessIdentity owner;
  bool owner_alive = false;
  std::vector<JournalEntry> open;  // added and not done, oldest first
  nlohmann::json owner_line;       // the whole first line (extra fields of standing environments)
};

// Parses one journal file. A torn last line (the owner died mid-write) is ignored.
Result<JournalFile> ReadJournal(const std::string& path);
// Every journal under `<data_dir>/journal`, by file name. Unreadable files are reported in
// `problems` and skipped.
std::vector<JournalFile> ListJournals(const std::string& data_dir, std::vector<std::string>* problems);

struct CleanAction {
  std::string run_id;
  uint64_t id = 0;
  std::string kind;
  std::string what;     // the journaled description
  std::string done;     // what the undo did (or would do)
  Status status;
};

// Undoes the open entries of a journal whose owner is dead, newest first, marks each one that
// succeeded as done and removes the file when none is left. With env.dry_run, only reports.
std::vector<CleanAction> CleanJournal(const JournalFile& file, const UndoEnv& env);

}  // namespace drone::journal
