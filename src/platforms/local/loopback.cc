#include "platforms/local/loopback.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/clock.h"

namespace drone::platforms::local {
namespace {

constexpr int64_t kProbeIntervalNs = 50 * kNsPerMs;

bool ToSockaddr(const std::string& host, int port, sockaddr_in* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_port = htons(static_cast<uint16_t>(port));
  return ::inet_pton(AF_INET, host.c_str(), &addr->sin_addr) == 1;
}

}  // namespace

std::string NodeHost(int index) { return "127.0.0." + std::to_string(2 + std::clamp(index, 0, 250)); }

Result<int> FreeTcpPort(const std::string& host) {
  sockaddr_in addr{};
  if (!ToSockaddr(host, 0, &addr)) return InvalidArgument("not an IPv4 address: " + host);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal(std::string("socket: ") + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    ::close(fd);
    return Unavailable("cannot bind " + host + ": " + std::strerror(e));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

bool CanConnect(const std::string& host, int port, int64_t timeout_ns) {
  sockaddr_in addr{};
  if (!ToSockaddr(host, port, &addr)) return false;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  bool ok = false;
  int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (r == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int timeout_ms = static_cast<int>(std::max<int64_t>(timeout_ns / kNsPerMs, 1));
    if (::poll(&p, 1, timeout_ms) == 1) {
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      ok = err == 0;
    }
  }
  ::close(fd);
  return ok;
}

Status WaitForPort(const std::string& host, int port, int64_t deadline_ns, const CancelToken* cancel) {
  while (true) {
    if (CanConnect(host, port, 200 * kNsPerMs)) return Status::Ok();
    if (cancel != nullptr && cancel->cancelled()) return Cancelled("cancelled");
    const int64_t now = MonotonicNs();
    if (now >= deadline_ns) {
      return DeadlineExceeded(host + ":" + std::to_string(port) + " does not accept connections");
    }
    const int64_t wait = std::min(kProbeIntervalNs, deadline_ns - now);
    if (cancel != nullptr) {
      cancel->WaitFor(wait);
    } else {
      SleepUntilNs(NowNs() + wait);
    }
  }
}

}  // namespace drone::platforms::local
