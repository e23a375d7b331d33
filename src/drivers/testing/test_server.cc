#include "drivers/testing/test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/clock.h"

namespace drone::drivers::testing {
namespace {

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

Result<int> FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal(std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return Internal(std::string("bind: ") + strerror(errno));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

TestServer::TestServer() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "drone-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
}

TestServer::~TestServer() {
  Kill();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Status TestServer::Start(const std::vector<std::string>& argv, int port, int64_t timeout_ns) {
  if (dir_.empty()) return Internal("no temporary directory");
  if (process_) return FailedPrecondition("server already running");
  platforms::local::ProcessSpec spec;
  spec.name = argv.empty() ? "server" : argv[0];
  spec.argv = argv;
  spec.cwd = dir_;
  spec.log_path = dir_ + "/server.log";
  ASSIGN_OR_RETURN(process_, platforms::local::ChildProcess::Start(spec));
  int64_t deadline = MonotonicNs() + timeout_ns;
  while (!Accepts(port)) {
    if (!process_->Running()) {
      std::string why = process_->DescribeExit();
      process_.reset();
      return Unavailable(argv[0] + " " + why + " at start: " + LogTail());
    }
    if (MonotonicNs() >= deadline) {
      Kill();
      return DeadlineExceeded(argv[0] + " did not accept connections on port " +
                              std::to_string(port) + ": " + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Ok();
}

void TestServer::Stop(int64_t grace_ns) {
  if (!process_) return;
  (void)process_->Stop(grace_ns);
  process_.reset();
}

void TestServer::Kill() {
  if (!process_) return;
  (void)process_->Kill();
  process_.reset();
}

void TestServer::Pause() {
  if (process_) (void)process_->Pause();
}

void TestServer::Resume() {
  if (process_) (void)process_->Resume();
}

std::string TestServer::LogTail() const {
  std::ifstream in(dir_ + "/server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
}

}  // namespace drone::drivers::testing
