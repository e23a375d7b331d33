// Test helpers for the TCP proxy and the proxy network: an echo server on 127.0.0.1 and a
// client connect with TCP_NODELAY. Header-only; used by tcp_proxy_test and proxy_network_test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace drone::faults::network {

// Echoes every connection on its own thread and counts the reads and bytes it served.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(fd_, 16);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  // The proxies (declared after the server in each test) are gone first, so every connection
  // has ended and the handlers return.
  ~EchoServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    for (std::thread& t : handlers_) t.join();
    ::close(fd_);
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int reads() const { return reads_.load(); }
  int64_t bytes() const { return bytes_.load(); }

 private:
  void Serve() {
    while (true) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      handlers_.emplace_back([this, c] {
        std::vector<char> buf(65536);
        while (true) {
          const ssize_t n = ::recv(c, buf.data(), buf.size(), 0);
          if (n <= 0) break;
          reads_.fetch_add(1);
          bytes_.fetch_add(n);
          if (::send(c, buf.data(), static_cast<size_t>(n), MSG_NOSIGNAL) < 0) break;
        }
        ::close(c);
      });
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::vector<std::thread> handlers_;  // accept thread only, until it is joined
  std::atomic<int> reads_{0};
  std::atomic<int64_t> bytes_{0};
};

// A connected TCP socket to "a.b.c.d:port" with TCP_NODELAY, or -1.
inline int ConnectTcp(const std::string& address) {
  const size_t colon = address.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (colon == std::string::npos || ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &a.sin_addr) != 1) {
    return -1;
  }
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace drone::faults::network
