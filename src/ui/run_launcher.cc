#include "ui/run_launcher.h"

#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "core/log.h"
#include "core/run_id.h"
#include "journal/undo_journal.h"

namespace drone::ui {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kStopGraceNs = 20 * kNsPerSec;  // a run's teardown (clusters, faults)
constexpr size_t kLogTailBytes = 4096;
constexpr size_t kLogHeadBytes = 16384;
constexpr char kMetricsLine[] = "drone: metrics on http://127.0.0.1:";

}  // namespace

Result<std::unique_ptr<RunLauncher>> RunLauncher::Create(std::string drone_path,
                                                          std::string data_dir) {
  std::string pattern = (fs::temp_directory_path() / "drone-ui-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Internal("cannot create a temporary directory for run logs in " +
                    fs::temp_directory_path().string());
  }
  return std::unique_ptr<RunLauncher>(
      new RunLauncher(std::move(drone_path), std::move(data_dir), pattern));
}

RunLauncher::RunLauncher(std::string drone_path, std::string data_dir, std::string temp_dir)
    : drone_path_(std::move(drone_path)),
      data_dir_(std::move(data_dir)),
      temp_dir_(std::move(temp_dir)) {
  reaper_ = std::thread([this] { ReapLoop(); });
}

RunLauncher::~RunLauncher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  reaper_.join();
  // Runs still going are cancelled as Ctrl-C would: they tear down, then exit.
  for (auto& [id, child] : children_) {
    if (child->Running()) (void)child->Stop(kStopGraceNs);
    CleanAfter(id);
  }
  children_.clear();
  std::error_code ec;
  fs::remove_all(temp_dir_, ec);
}

Result<std::string> RunLauncher::Launch(const std::string& flow_path,
                                        const std::map<std::string, std::string>& params) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return Unavailable("the server is stopping");
  std::string run_id = NewRunId();
  while (children_.count(run_id) != 0) run_id = NewRunId();
  platforms::local::ProcessSpec spec;
  spec.name = "run " + run_id;
  spec.argv = {drone_path_, "run", flow_path, "--run-id", run_id, "--data-dir", data_dir_,
               "--no-progress", "--metrics-port", "0"};
  for (const auto& [k, v] : params) {
    spec.argv.push_back("-p");
    spec.argv.push_back(k + "=" + v);
  }
  spec.log_path = (fs::path(temp_dir_) / (run_id + ".log")).string();
  ASSIGN_OR_RETURN(std::unique_ptr<platforms::local::ChildProcess> child,
                   platforms::local::ChildProcess::Start(spec));
  children_[run_id] = std::move(child);
  running_[run_id] = true;
  log_paths_[run_id] = spec.log_path;
  return run_id;
}

std::optional<LaunchState> RunLauncher::State(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(run_id);
  if (it == children_.end()) return std::nullopt;
  LaunchState s;
  s.running = it->second->Running();
  s.exit = it->second->DescribeExit();
  s.exit_code = it->second->ExitCode();
  s.log_tail = it->second->LogTail(kLogTailBytes);
  return s;
}

int RunLauncher::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& [id, r] : running_) n += r ? 1 : 0;
  return n;
}

int RunLauncher::launched() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(children_.size());
}

std::vector<int> RunLauncher::MetricsPorts() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int> ports;
  for (auto& [id, child] : children_) {
    if (!running_[id]) continue;
    auto known = metrics_ports_.find(id);
    if (known == metrics_ports_.end()) {
      // `drone run` prints the address among its first lines, before the flow starts.
      std::ifstream in(log_paths_[id], std::ios::binary);
      std::string head(kLogHeadBytes, '\0');
      in.read(head.data(), static_cast<std::streamsize>(head.size()));
      head.resize(static_cast<size_t>(in.gcount()));
      const size_t at = head.find(kMetricsLine);
      if (at == std::string::npos) continue;
      const int port = std::atoi(head.c_str() + at + std::strlen(kMetricsLine));
      if (port <= 0 || port > 65535) continue;
      known = metrics_ports_.emplace(id, port).first;
    }
    ports.push_back(known->second);
  }
  return ports;
}

void RunLauncher::ReapLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // Running() reaps a child that has exited, so none stays a zombie for long.
    std::vector<std::string> ended;
    for (auto& [id, child] : children_) {
      const bool now = child->Running();
      if (running_[id] && !now) ended.push_back(id);
      running_[id] = now;
    }
    if (!ended.empty()) {
      // Undoing may take seconds (SIGTERM grace periods); State() and Launch() go on meanwhile.
      lock.unlock();
      for (const std::string& id : ended) CleanAfter(id);
      lock.lock();
      continue;
    }
    cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stopping_; });
  }
}

void RunLauncher::CleanAfter(const std::string& run_id) const {
  const fs::path path = fs::path(data_dir_) / "journal" / (run_id + ".jsonl");
  std::error_code ec;
  if (!fs::exists(path, ec)) return;  // the run undid everything itself
  Result<journal::JournalFile> file = journal::ReadJournal(path.string());
  if (!file.ok()) {
    LogWarn("run " + run_id + ": " + file.status().message() + "; `drone clean` may remove its leftovers");
    return;
  }
  if (file->owner_alive) return;
  journal::UndoEnv env;
  env.data_dir = data_dir_;
  for (const journal::CleanAction& a : journal::CleanJournal(*file, env)) {
    if (a.status.ok()) {
      LogInfo("run " + run_id + " ended without undoing " + a.what + ": " + a.done);
    } else {
      LogWarn("run " + run_id + ": " + a.what + ": " + a.status.message());
    }
  }
}

}  // namespace drone::ui
