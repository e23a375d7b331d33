// Test traffic across a lab: UDP datagrams and TCP connects between hosts' namespaces, each with a
// deadline. For the live tests of the network-fault backends only. Not thread-safe per call site:
// each call uses its own sockets.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/testutil.h"
#include "faults/network/command.h"
#include "faults/network/lab_network.h"

namespace drone::faults::network::testing {

inline sockaddr_in Sockaddr(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// Sends `count` datagrams of `size` bytes from `from` to `to` as fast as the socket takes them,
// and counts how many arrive before `settle_ns` passes after the last one was sent.
inline Result<int> UdpDelivered(const LabHost& from, const LabHost& to, int count, size_t size,
                                int64_t settle_ns = 300'000'000) {
  ASSIGN_OR_RETURN(int rx, SocketInNetns(to.netns, AF_INET, SOCK_DGRAM, 0));
  auto tx_r = SocketInNetns(from.netns, AF_INET, SOCK_DGRAM, 0);
  if (!tx_r.ok()) {
    ::close(rx);
    return tx_r.status();
  }
  const int tx = *tx_r;
  sockaddr_in at = Sockaddr(to.address, 0);
  int big = 8 << 20;
  ::setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  ::bind(rx, reinterpret_cast<sockaddr*>(&at), sizeof(at));
  socklen_t len = sizeof(at);
  ::getsockname(rx, reinterpret_cast<sockaddr*>(&at), &len);
  std::string payload(size, 'x');
  int got = 0;
  char buf[65536];
  for (int i = 0; i < count; ++i) {
    ::sendto(tx, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&at), sizeof(at));
    while (::recv(rx, buf, sizeof(buf), MSG_DONTWAIT) > 0) ++got;
  }
  int64_t deadline = MonotonicNs() + settle_ns;
  while (true) {
    const int64_t left = deadline - MonotonicNs();
    if (left <= 0) break;
    pollfd p{rx, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left / 1'000'000) + 1) <= 0) continue;
    while (::recv(rx, buf, sizeof(buf), MSG_DONTWAIT) > 0) ++got;
  }
  ::close(tx);
  ::close(rx);
  return got;
}

// Whether a TCP connection from `from` to a listener on `to` completes within `timeout_ns`.
inline Result<bool> TcpConnects(const LabHost& from, const LabHost& to, int64_t timeout_ns) {
  ASSIGN_OR_RETURN(int listener, SocketInNetns(to.netns, AF_INET, SOCK_STREAM, 0));
  sockaddr_in at = Sockaddr(to.address, 0);
  ::bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof(at));
  ::listen(listener, 4);
  socklen_t len = sizeof(at);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&at), &len);
  auto c = SocketInNetns(from.netns, AF_INET, SOCK_STREAM, 0);
  if (!c.ok()) {
    ::close(listener);
    return c.status();
  }
  ::fcntl(*c, F_SETFL, O_NONBLOCK);
  int r = ::connect(*c, reinterpret_cast<sockaddr*>(&at), sizeof(at));
  bool ok = r == 0;
  if (!ok && errno == EINPROGRESS) {
    pollfd p{*c, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout_ns / 1'000'000)) == 1) {
      int err = 0;
      socklen_t el = sizeof(err);
      ::getsockopt(*c, SOL_SOCKET, SO_ERROR, &err, &el);
      ok = err == 0;
    }
  }
  ::close(*c);
  ::close(listener);
  return ok;
}

// A suite whose tests share one lab, made before the first and torn down after the last. Each
// test is skipped, with what the kernel lacks, where no lab can be made. Suite names its hosts
// (kHosts), a letter that keeps the namespaces of suites apart (kTag) and whether it needs NFQUEUE.
template <typename Suite>
class SharedLabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const KernelSupport& k = DetectKernelSupport();
    if (!k.netns || (Suite::kNeedsNfqueue && !k.nfqueue)) return;
    const std::vector<std::string> hosts(std::begin(Suite::kHosts), std::end(Suite::kHosts));
    auto lab = LabNetwork::Create("t" + std::to_string(::getpid()) + Suite::kTag, hosts);
    ASSERT_OK(lab.status());
    lab_ = std::move(*lab).release();
  }
  static void TearDownTestSuite() {
    if (lab_) ASSERT_OK(lab_->Teardown());
    delete lab_;
    lab_ = nullptr;
  }
  void SetUp() override {
    if (!lab_) GTEST_SKIP() << DetectKernelSupport().Summary();
  }
  const LabHost& H(const char* name) { return *lab_->Host(name).value(); }

  static inline LabNetwork* lab_ = nullptr;
};

}  // namespace drone::faults::network::testing
