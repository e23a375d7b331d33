#include "worker/local_workers.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/clock.h"

namespace drone::worker {
namespace {

std::string RandomToken() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (int i = 0; i < 32; ++i) token += kHex[rd() % 16];
  return token;
}

Result<std::string> SelfExecutable() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return Internal("cannot find the drone binary (/proc/self/exe)");
  return std::string(path, static_cast<size_t>(n));
}

}  // namespace

Result<std::unique_ptr<LocalWorkerPool>> LocalWorkerPool::Start(int count, int64_t ready_timeout_ns,
                                                                const std::string& netns,
                                                                journal::Journal* journal) {
  if (count < 1 || count > 64) return InvalidArgument("--workers must be within 1..64");
  ASSIGN_OR_RETURN(std::string binary, SelfExecutable());
  std::unique_ptr<LocalWorkerPool> pool(new LocalWorkerPool());
  // Under $TMPDIR, as the run directories are, and journaled before it is made.
  ASSIGN_OR_RETURN(pool->dir_, journal::MakeTempDirectory(journal::TempBase(), "workers",
                                                          "workers' directory", journal,
                                                          &pool->journal_id_));
  pool->journal_ = journal;
  const std::string token = RandomToken();
  std::vector<std::string> port_files;
  for (int i = 0; i < count; ++i) {
    const std::string base = pool->dir_ + "/worker-" + std::to_string(i + 1);
    platforms::local::ProcessSpec spec;
    spec.name = "worker-" + std::to_string(i + 1);
    spec.argv = {binary, "worker", "--listen", "127.0.0.1:0", "--port-file", base + ".port"};
    spec.env = {{"DRONE_WORKER_TOKEN", token}};
    spec.log_path = base + ".log";
    spec.netns = netns;
    ASSIGN_OR_RETURN(auto child, platforms::local::ChildProcess::Start(spec));
    pool->children_.push_back(std::move(child));
    port_files.push_back(base + ".port");
  }
  const int64_t deadline = MonotonicNs() + ready_timeout_ns;
  for (int i = 0; i < count; ++i) {
    while (true) {
      std::ifstream in(port_files[static_cast<size_t>(i)]);
      int port = 0;
      if (in >> port && port > 0) {
        pool->addresses_.push_back({"http://127.0.0.1:" + std::to_string(port), token});
        break;
      }
      platforms::local::ChildProcess& child = *pool->children_[static_cast<size_t>(i)];
      if (!child.Running()) {
        return Unavailable("worker " + std::to_string(i + 1) + " " + child.DescribeExit() + ": " +
                           child.LogTail(500));
      }
      if (MonotonicNs() >= deadline) {
        return Unavailable("worker " + std::to_string(i + 1) + " did not listen within " +
                           std::to_string(ready_timeout_ns / kNsPerSec) + " s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return pool;
}

LocalWorkerPool::~LocalWorkerPool() {
  for (auto& child : children_) (void)child->Stop(3 * kNsPerSec);
  children_.clear();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (!ec && journal_ != nullptr) (void)journal_->Done(journal_id_);
  }
}

std::vector<int> LocalWorkerPool::pids() const {
  std::vector<int> out;
  for (const auto& child : children_) out.push_back(static_cast<int>(child->pid()));
  return out;
}

}  // namespace drone::worker
