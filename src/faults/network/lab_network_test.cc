#include "faults/network/lab_network.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "core/testutil.h"

namespace drone::faults::network {
namespace {

// The lab needs root (namespaces, veth); without it these tests say so and skip.
#define SKIP_UNLESS_PRIVILEGED()                                                       \
  do {                                                                                 \
    if (!DetectKernelSupport().netns) GTEST_SKIP() << DetectKernelSupport().Summary(); \
  } while (0)

std::string TestRun(const char* tag) { return "t" + std::to_string(::getpid()) + tag; }

bool NetnsExists(const std::string& name) { return std::filesystem::exists("/run/netns/" + name); }

sockaddr_in Address(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

TEST(LabNetworkTest, HostsReachEachOtherAndTeardownRemovesEverything) {
  SKIP_UNLESS_PRIVILEGED();
  const std::string run = TestRun("a");
  auto lab = LabNetwork::Create(run, {"n1", "n2"});
  ASSERT_OK(lab.status());
  const LabHost& n1 = *(*lab)->Host("n1").value();
  const LabHost& n2 = *(*lab)->Host("n2").value();
  EXPECT_EQ(n1.netns, "drone-" + run + "-n1");
  EXPECT_EQ(n1.address, "10.213.0.2");
  EXPECT_EQ(n2.address, "10.213.0.3");
  EXPECT_TRUE(NetnsExists(n1.netns));
  EXPECT_TRUE(NetnsExists((*lab)->hub_netns()));

  // A datagram from n1 reaches n2 across the hub's bridge.
  auto rx = SocketInNetns(n2.netns, AF_INET, SOCK_DGRAM, 0);
  auto tx = SocketInNetns(n1.netns, AF_INET, SOCK_DGRAM, 0);
  ASSERT_OK(rx.status());
  ASSERT_OK(tx.status());
  sockaddr_in at = Address(n2.address, 0);
  ASSERT_EQ(::bind(*rx, reinterpret_cast<sockaddr*>(&at), sizeof(at)), 0) << std::strerror(errno);
  socklen_t len = sizeof(at);
  ASSERT_EQ(::getsockname(*rx, reinterpret_cast<sockaddr*>(&at), &len), 0);
  timeval tv{2, 0};
  ::setsockopt(*rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const char msg[] = "hello";
  ASSERT_EQ(::sendto(*tx, msg, sizeof(msg), 0, reinterpret_cast<sockaddr*>(&at), sizeof(at)),
            static_cast<ssize_t>(sizeof(msg)));
  char buf[16] = {};
  sockaddr_in from{};
  socklen_t from_len = sizeof(from);
  ASSERT_EQ(::recvfrom(*rx, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len),
            static_cast<ssize_t>(sizeof(msg)));
  EXPECT_STREQ(buf, "hello");
  char from_ip[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &from.sin_addr, from_ip, sizeof(from_ip));
  EXPECT_EQ(std::string(from_ip), n1.address);
  ::close(*rx);
  ::close(*tx);

  // The lab's address does not exist outside it.
  int host_sock = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in outside = Address(n2.address, 0);
  EXPECT_NE(::bind(host_sock, reinterpret_cast<sockaddr*>(&outside), sizeof(outside)), 0);
  ::close(host_sock);

  ASSERT_OK((*lab)->Teardown());
  EXPECT_FALSE(NetnsExists(n1.netns));
  EXPECT_FALSE(NetnsExists(n2.netns));
  EXPECT_FALSE(NetnsExists((*lab)->hub_netns()));
  EXPECT_OK((*lab)->Teardown());  // idempotent
  EXPECT_TRUE(ListNetns("drone-" + run).value().empty());
}

TEST(LabNetworkTest, ChildRunsInsideTheHostNamespace) {
  SKIP_UNLESS_PRIVILEGED();
  auto lab = LabNetwork::Create(TestRun("b"), {"client"});
  ASSERT_OK(lab.status());
  auto r = (*lab)->Run("client", {"ip", "-o", "-4", "addr", "show", "dev", "eth0"});
  ASSERT_OK(r.status());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_NE(r->output.find("10.213.0.2/24"), std::string::npos) << r->output;
  // The same command outside the lab finds no eth0 holding that address.
  auto outside = RunCommand({"ip", "-o", "-4", "addr", "show"});
  ASSERT_OK(outside.status());
  EXPECT_EQ(outside->output.find("10.213.0."), std::string::npos);

  auto p = (*lab)->Spawn("client", {"sleep", "30"});
  ASSERT_OK(p.status());
  EXPECT_TRUE(p->Running());
  EXPECT_EQ(p->Wait(10'000'000), -1);  // still running
  EXPECT_EQ(p->Stop(), 128 + SIGKILL);
  EXPECT_FALSE(p->Running());
}

TEST(LabNetworkTest, DestructorRemovesTheLab) {
  SKIP_UNLESS_PRIVILEGED();
  const std::string run = TestRun("c");
  {
    auto lab = LabNetwork::Create(run, {"x"});
    ASSERT_OK(lab.status());
    EXPECT_EQ(ListNetns("drone-" + run + "-").value().size(), 2u);
  }
  EXPECT_TRUE(ListNetns("drone-" + run + "-").value().empty());
}

TEST(LabNetworkTest, BadNamesCreateNothing) {
  const std::string run = TestRun("d");
  EXPECT_EQ(LabNetwork::Create(run, {"ok", "not ok"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LabNetwork::Create(run, {"hub"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LabNetwork::Create(run, {"a", "a"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LabNetwork::Create("bad/run", {"a"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ListNetns("drone-" + run).value().empty());
}

TEST(LabNetworkTest, CleanLabRemovesAnAbandonedLabByName) {
  SKIP_UNLESS_PRIVILEGED();
  const std::string run = TestRun("e");
  // What a SIGKILLed run leaves: its namespaces, nothing tracking them.
  for (const char* host : {"hub", "n1", "n2"}) {
    ASSERT_OK(RunChecked({"ip", "netns", "add", LabNamespaceName(run, host)}));
  }
  auto n = CleanLab(run);
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, 3);
  EXPECT_TRUE(ListNetns("drone-" + run).value().empty());
  EXPECT_EQ(CleanLab(run).value(), 0);
  EXPECT_OK(DeleteNetns(LabNamespaceName(run, "n1")));  // gone already: still OK
}

TEST(KernelSupportTest, ProbeIsHonestAndLeavesNothing) {
  const KernelSupport k = ProbeKernelSupport();
  if (!k.privileged) {
    EXPECT_FALSE(k.netns);
    EXPECT_FALSE(k.notes.empty());
    return;
  }
  // The probe's verdict on netem matches what tc says in a namespace of our own.
  const std::string ns = LabNamespaceName(TestRun("f"), "probe");
  ASSERT_OK(RunChecked({"ip", "netns", "add", ns}));
  ASSERT_OK(RunChecked({"ip", "link", "add", "q0", "type", "veth", "peer", "name", "q1"}, ns));
  auto tc = RunCommand({"tc", "qdisc", "add", "dev", "q0", "root", "netem", "delay", "5ms"}, ns);
  ASSERT_OK(DeleteNetns(ns));
  ASSERT_OK(tc.status());
  EXPECT_EQ(k.netem, tc->exit_code == 0) << tc->output;
  if (!k.netem) {
    bool noted = false;
    for (const std::string& n : k.notes) noted = noted || n.rfind("netem:", 0) == 0;
    EXPECT_TRUE(noted) << k.ToJson().dump();
  }
  EXPECT_TRUE(ListNetns("drone-probe-" + std::to_string(::getpid())).value().empty());
  EXPECT_FALSE(k.Summary().empty());
}

}  // namespace
}  // namespace drone::faults::network
