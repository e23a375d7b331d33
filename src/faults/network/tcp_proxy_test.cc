#include "faults/network/tcp_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/testutil.h"
#include "faults/network/tcp_echo_test_util.h"

namespace drone::faults::network {
namespace {

using nlohmann::json;

Impairment Imp(const char* text) { return Impairment::FromJson(json::parse(text)).value(); }
const Impairment kNone;

int Connect(uint16_t port) { return ConnectTcp("127.0.0.1:" + std::to_string(port)); }

// Reads exactly n bytes within the timeout; returns how many arrived (-1 on a reset).
int64_t ReadAll(int fd, int64_t n, int64_t timeout_ns) {
  const int64_t deadline = MonotonicNs() + timeout_ns;
  int64_t got = 0;
  char buf[65536];
  while (got < n) {
    const int64_t left = deadline - MonotonicNs();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left / 1'000'000) + 1) <= 0) continue;
    const ssize_t r = ::recv(fd, buf, sizeof(buf), 0);
    if (r < 0) return -1;
    if (r == 0) break;
    got += r;
  }
  return got;
}

// Round trip of a small message through the proxy, in ms.
double RoundTripMs(int fd) {
  const int64_t t0 = MonotonicNs();
  EXPECT_EQ(::send(fd, "ping", 4, MSG_NOSIGNAL), 4);
  EXPECT_EQ(ReadAll(fd, 4, 5'000'000'000), 4);
  return static_cast<double>(MonotonicNs() - t0) / 1e6;
}

TEST(TcpProxyTest, ForwardsBothWays) {
  EchoServer echo;
  auto proxy = TcpProxy::Start("127.0.0.1:0", echo.address(), kNone, kNone);
  ASSERT_OK(proxy.status());
  const int fd = Connect((*proxy)->port());
  ASSERT_GE(fd, 0);
  std::string big(300'000, 'z');
  ASSERT_EQ(::send(fd, big.data(), big.size(), MSG_NOSIGNAL), static_cast<ssize_t>(big.size()));
  EXPECT_EQ(ReadAll(fd, 300'000, 5'000'000'000), 300'000);
  ::close(fd);
  EXPECT_EQ((*proxy)->stats().bytes_up, 300'000u);
  EXPECT_EQ((*proxy)->stats().connections, 1u);
}

TEST(TcpProxyTest, LatencyAddsToEachDirection) {
  EchoServer echo;
  auto proxy =
      TcpProxy::Start("127.0.0.1:0", echo.address(), Imp(R"({"endpoint": "c", "delay": "30ms"})"),
                      Imp(R"({"endpoint": "c", "delay": "20ms"})"));
  ASSERT_OK(proxy.status());
  const int fd = Connect((*proxy)->port());
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) EXPECT_GE(RoundTripMs(fd), 50.0);
  ASSERT_OK((*proxy)->Update(kNone, kNone));
  // Bytes already queued keep their times; the next round trips are quick again.
  double fastest = 1e9;
  for (int i = 0; i < 3; ++i) fastest = std::min(fastest, RoundTripMs(fd));
  EXPECT_LT(fastest, 50.0);
  ::close(fd);
}

TEST(TcpProxyTest, BandwidthSlowsATransfer) {
  EchoServer echo;
  auto proxy = TcpProxy::Start("127.0.0.1:0", echo.address(),
                               Imp(R"({"endpoint": "c", "rate": "8mbit"})"), kNone);
  ASSERT_OK(proxy.status());
  const int fd = Connect((*proxy)->port());
  ASSERT_GE(fd, 0);
  std::string data(250'000, 'r');
  const int64_t t0 = MonotonicNs();
  std::thread writer([&] { ::send(fd, data.data(), data.size(), MSG_NOSIGNAL); });
  EXPECT_EQ(ReadAll(fd, 250'000, 10'000'000'000), 250'000);
  const double seconds = static_cast<double>(MonotonicNs() - t0) / 1e9;
  writer.join();
  ::close(fd);
  // 250 kB at 1 MB/s, less the bucket's initial burst (4 ms worth): at least 0.24 s.
  EXPECT_GE(seconds, 0.24);
}

TEST(TcpProxyTest, ResetRefusesNewAndOpenConnections) {
  EchoServer echo;
  auto proxy = TcpProxy::Start("127.0.0.1:0", echo.address(), kNone, kNone);
  ASSERT_OK(proxy.status());
  const int open = Connect((*proxy)->port());
  ASSERT_GE(open, 0);
  EXPECT_LT(RoundTripMs(open), 1000.0);
  ASSERT_OK((*proxy)->Update(Imp(R"({"endpoint": "c", "reset": true})"), kNone));
  EXPECT_EQ(ReadAll(open, 1, 2'000'000'000), -1) << "the open connection is reset";
  const int fresh = Connect((*proxy)->port());
  ASSERT_GE(fresh, 0);  // the handshake completes in the kernel, then the proxy resets it
  EXPECT_EQ(ReadAll(fresh, 1, 2'000'000'000), -1);
  ::close(open);
  ::close(fresh);
  EXPECT_EQ((*proxy)->stats().resets, 2u);
}

TEST(TcpProxyTest, BlackholeSwallowsBytes) {
  EchoServer echo;
  auto proxy = TcpProxy::Start("127.0.0.1:0", echo.address(),
                               Imp(R"({"endpoint": "c", "blackhole": true})"), kNone);
  ASSERT_OK(proxy.status());
  const int fd = Connect((*proxy)->port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::send(fd, "ping", 4, MSG_NOSIGNAL), 4);
  EXPECT_EQ(ReadAll(fd, 4, 300'000'000), 0);
  const int64_t deadline = MonotonicNs() + 2'000'000'000;
  while ((*proxy)->stats().bytes_blackholed < 4 && MonotonicNs() < deadline) ::usleep(1000);
  EXPECT_EQ((*proxy)->stats().bytes_blackholed, 4u);
  EXPECT_EQ(echo.bytes(), 0);
  ::close(fd);
}

TEST(TcpProxyTest, SlicerCutsTheStreamIntoPieces) {
  EchoServer echo;
  auto proxy = TcpProxy::Start(
      "127.0.0.1:0", echo.address(),
      Imp(R"({"endpoint": "c", "slicer": {"size": 10, "variation": 3, "delay": "2ms"}})"), kNone);
  ASSERT_OK(proxy.status());
  const int fd = Connect((*proxy)->port());
  ASSERT_GE(fd, 0);
  std::string data(200, 's');
  ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL), 200);
  EXPECT_EQ(ReadAll(fd, 200, 5'000'000'000), 200);
  // 200 bytes in pieces of 7..13 bytes, 2 ms apart: the server reads them one by one.
  EXPECT_GE(echo.reads(), 15);
  ::close(fd);
}

TEST(TcpProxyTest, RefusesPacketFaultsAndBadAddresses) {
  EchoServer echo;
  auto lossy = TcpProxy::Start("127.0.0.1:0", echo.address(),
                               Imp(R"({"endpoint": "c", "loss": "5%"})"), kNone);
  EXPECT_EQ(lossy.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lossy.status().message().find("loss"), std::string::npos);
  EXPECT_EQ(TcpProxy::Start("localhost", echo.address(), kNone, kNone).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(TcpProxyTest, StopClosesConnections) {
  EchoServer echo;
  auto proxy = TcpProxy::Start("127.0.0.1:0", echo.address(), kNone, kNone);
  ASSERT_OK(proxy.status());
  const int fd = Connect((*proxy)->port());
  ASSERT_GE(fd, 0);
  EXPECT_LT(RoundTripMs(fd), 1000.0);
  (*proxy)->Stop();
  EXPECT_EQ(ReadAll(fd, 1, 2'000'000'000), 0);  // an orderly end of stream
  EXPECT_LT(Connect((*proxy)->port()), 0);      // nobody listens any more
  ::close(fd);
}

}  // namespace
}  // namespace drone::faults::network
