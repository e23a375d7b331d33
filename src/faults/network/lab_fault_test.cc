// Live tests of the network faults on a lab: each is injected, its effect on real traffic is
// asserted, and after healing nothing of it remains in any namespace. Skipped without privilege.
#include "faults/network/lab_fault.h"

#include <gtest/gtest.h>

#include "core/testutil.h"
#include "faults/network/lab_traffic_test_util.h"
#include "faults/network/udp_prober.h"

namespace drone::faults::network {
namespace {

using nlohmann::json;

Impairment Imp(const char* text) { return Impairment::FromJson(json::parse(text)).value(); }

class LabFaultTest : public testing::SharedLabTest<LabFaultTest> {
 public:
  static constexpr const char* kHosts[] = {"n1", "n2", "n3"};
  static constexpr char kTag = 'f';
  static constexpr bool kNeedsNfqueue = false;

 protected:
  ProbeResult Probe(const char* from, const char* to, int count = 200) {
    ProbeOptions o;
    o.count = count;
    o.interval_ns = 500'000;
    auto r = ProbeUdp(H(from).netns, H(to).netns, H(to).address, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ProbeResult{};
  }
  // Nothing of Drone's in any namespace of the lab: no tagged rule, no qdisc but the defaults.
  void ExpectClean() {
    for (const LabHost& h : lab_->hosts()) {
      auto ipt = RunCommand({"iptables", "-S"}, h.netns);
      ASSERT_OK(ipt.status());
      EXPECT_EQ(ipt->output.find("drone:"), std::string::npos) << h.name << ": " << ipt->output;
      auto tc = RunCommand({"tc", "qdisc", "show", "dev", "eth0"}, h.netns);
      ASSERT_OK(tc.status());
      for (const char* q : {"netem", "tbf", "htb"}) {
        EXPECT_EQ(tc->output.find(q), std::string::npos) << h.name << ": " << tc->output;
      }
    }
    auto hub = RunCommand({"tc", "qdisc", "show"}, lab_->hub_netns());
    ASSERT_OK(hub.status());
    EXPECT_EQ(hub->output.find("netem"), std::string::npos);
  }
};

TEST_F(LabFaultTest, EndpointDelayRaisesLatencyBothWaysAndHeals) {
  LabImpairmentFault f(*lab_, {Imp(R"({"endpoint": "n2", "delay": "20ms"})")},
                       DetectKernelSupport(), "drone:test:delay");
  ASSERT_OK(f.Inject());
  EXPECT_EQ(f.Backend(), DetectKernelSupport().netem ? "tc-netem" : "nfqueue");
  ProbeResult in = Probe("n1", "n2");
  ProbeResult out = Probe("n2", "n3");
  ProbeResult other = Probe("n1", "n3");
  EXPECT_EQ(in.received, 200);
  EXPECT_GE(in.PercentileLatencyMs(0.0), 20.0);
  EXPECT_GE(out.PercentileLatencyMs(0.0), 20.0);
  EXPECT_LT(other.PercentileLatencyMs(0.5), 10.0) << "n1 -> n3 is not impaired";
  EXPECT_EQ(f.Details()["impairments"][0]["backend"], f.Backend());
  ASSERT_OK(f.Heal());
  ExpectClean();
  EXPECT_LT(Probe("n1", "n2").PercentileLatencyMs(0.5), 10.0);
  EXPECT_OK(f.Heal());
}

TEST_F(LabFaultTest, EachImpairmentGoesToItsBackend) {
  LabImpairmentFault f(*lab_,
                       {Imp(R"({"from": "n1", "to": "n2", "loss": "50%"})"),
                        Imp(R"({"from": "n1", "to": "n3", "duplicate": "100%"})")},
                       DetectKernelSupport(), "drone:test:mixed");
  ASSERT_OK(f.Inject());
  if (!DetectKernelSupport().netem) {
    EXPECT_EQ(f.Backend(), "iptables+nfqueue");
  }
  ProbeResult lossy = Probe("n1", "n2", 1000);
  ProbeResult doubled = Probe("n1", "n3", 200);
  ASSERT_OK(f.Heal());
  EXPECT_NEAR(lossy.LossRate(), 0.5, 0.08);
  EXPECT_EQ(doubled.received, 200);
  EXPECT_EQ(doubled.duplicates, 200);
  ExpectClean();
}

TEST_F(LabFaultTest, UpdateWhileRunning) {
  LabImpairmentFault f(*lab_, {Imp(R"({"from": "n1", "to": "n2", "delay": "5ms"})")},
                       DetectKernelSupport(), "drone:test:update");
  ASSERT_OK(f.Inject());
  EXPECT_GE(Probe("n1", "n2").PercentileLatencyMs(0.0), 5.0);
  ASSERT_OK(f.Update({Imp(R"({"from": "n1", "to": "n2", "delay": "30ms"})")}));
  EXPECT_GE(Probe("n1", "n2").PercentileLatencyMs(0.0), 30.0);
  ASSERT_OK(f.Heal());
  ExpectClean();
}

TEST_F(LabFaultTest, PartitionHalvesAndHeal) {
  auto spec = PartitionSpec::FromJson(json::parse(R"({"partition": "halves"})"));
  ASSERT_OK(spec.status());
  LabPartitionFault f(*lab_, *spec, "drone:test:halves");
  ASSERT_OK(f.Inject());
  EXPECT_EQ(f.Details()["blocked"].size(), 4u);  // n1 | n2 n3
  EXPECT_FALSE(testing::TcpConnects(H("n1"), H("n2"), 300'000'000).value());
  EXPECT_FALSE(testing::TcpConnects(H("n3"), H("n1"), 300'000'000).value());
  EXPECT_TRUE(testing::TcpConnects(H("n2"), H("n3"), 2'000'000'000).value());
  ASSERT_OK(f.Heal());
  EXPECT_TRUE(testing::TcpConnects(H("n1"), H("n2"), 2'000'000'000).value());
  ExpectClean();
}

TEST_F(LabFaultTest, DestructorHeals) {
  {
    LabImpairmentFault f(*lab_, {Imp(R"({"endpoint": "n3", "delay": "1ms", "rate": "10mbit"})")},
                         DetectKernelSupport(), "drone:test:dtor");
    ASSERT_OK(f.Inject());
  }
  ExpectClean();
}

TEST(ProxyImpairmentFaultTest, ImpairsOnlyWhileInjected) {
  // No privilege needed: a proxy on loopback in front of a local listener.
  const int server = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = testing::Sockaddr("127.0.0.1", 0);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ::listen(server, 8);
  socklen_t len = sizeof(a);
  ::getsockname(server, reinterpret_cast<sockaddr*>(&a), &len);
  ProxyImpairmentFault f("127.0.0.1:0", "127.0.0.1:" + std::to_string(ntohs(a.sin_port)),
                         Imp(R"({"endpoint": "c", "reset": true})"), Impairment{});
  ASSERT_OK(f.Listen());
  EXPECT_EQ(f.Backend(), "tcp-proxy");
  auto connect_and_wait = [&]() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in p =
        testing::Sockaddr("127.0.0.1", static_cast<uint16_t>(std::stoi(f.address().substr(10))));
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&p), sizeof(p)), 0);
    pollfd pf{fd, POLLIN, 0};
    const bool reset = ::poll(&pf, 1, 300) == 1 && ::recv(fd, &p, 1, 0) < 0;
    ::close(fd);
    return reset;
  };
  EXPECT_FALSE(connect_and_wait());
  ASSERT_OK(f.Inject());
  EXPECT_TRUE(connect_and_wait());
  ASSERT_OK(f.Heal());
  EXPECT_FALSE(connect_and_wait());
  ::close(server);
}

}  // namespace
}  // namespace drone::faults::network
