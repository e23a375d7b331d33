// Live tests of the kernel renderings in a lab: each asserts the effect on real traffic between
// namespaces, and that healing removes every qdisc and rule. Skipped without the privilege.
#include <gtest/gtest.h>

#include "core/testutil.h"
#include "faults/network/kernel_render.h"
#include "faults/network/lab_traffic_test_util.h"

namespace drone::faults::network {
namespace {

using nlohmann::json;
using testing::TcpConnects;
using testing::UdpDelivered;

class KernelBackendTest : public testing::SharedLabTest<KernelBackendTest> {
 public:
  static constexpr const char* kHosts[] = {"n1", "n2", "n3"};
  static constexpr char kTag = 'k';
  static constexpr bool kNeedsNfqueue = false;

 protected:
  std::string Show(const std::vector<std::string>& argv, const std::string& netns) {
    auto r = RunCommand(argv, netns);
    return r.ok() ? r->output : r.status().ToString();
  }
};

Impairment Imp(const char* text) { return Impairment::FromJson(json::parse(text)).value(); }

TEST_F(KernelBackendTest, IptablesRandomLossDropsTheRequestedShare) {
  auto plan = PlanLabImpairments(lab_->hosts(), lab_->hub_netns(),
                                 {Imp(R"({"from": "n1", "to": "n2", "loss": "30%"})")},
                                 /*netem=*/false, "drone:test-loss");
  ASSERT_OK(plan.status());
  EXPECT_EQ(plan->backend, "iptables");
  ASSERT_OK(ApplyPlan(*plan));
  auto got = UdpDelivered(H("n1"), H("n2"), 4000, 64);
  auto other = UdpDelivered(H("n1"), H("n3"), 500, 64);  // another link: untouched
  ASSERT_OK(HealPlan(*plan));
  ASSERT_OK(got.status());
  EXPECT_NEAR(*got / 4000.0, 0.7, 0.04);
  EXPECT_EQ(other.value(), 500);
  EXPECT_EQ(Show({"iptables", "-S"}, H("n1").netns).find("drone:"), std::string::npos);
  EXPECT_EQ(UdpDelivered(H("n1"), H("n2"), 500, 64).value(), 500);
}

TEST_F(KernelBackendTest, TbfRateHoldsABurstBack) {
  auto plan = PlanLabImpairments(
      lab_->hosts(), lab_->hub_netns(),
      {Imp(R"({"from": "n1", "to": "n2", "rate": {"bandwidth": "1mbit", "limit": "50ms"}})")},
      DetectKernelSupport().netem, "drone:test-rate");
  ASSERT_OK(plan.status());
  ASSERT_OK(ApplyPlan(*plan));
  EXPECT_NE(Show({"tc", "qdisc", "show", "dev", "eth0"}, H("n1").netns).find("tbf"),
            std::string::npos);
  // 300 datagrams of 1000 bytes at once: the bucket (3028 bytes) and 50 ms of queue at 1 Mbit/s
  // let through about 9 (more if the sender is slowed down); unlimited, all 300 arrive.
  auto limited = UdpDelivered(H("n1"), H("n2"), 300, 1000);
  ASSERT_OK(HealPlan(*plan));
  ASSERT_OK(limited.status());
  EXPECT_LT(*limited, 150);
  EXPECT_GT(*limited, 0);
  EXPECT_EQ(Show({"tc", "qdisc", "show", "dev", "eth0"}, H("n1").netns).find("tbf"),
            std::string::npos);
  EXPECT_EQ(UdpDelivered(H("n1"), H("n2"), 300, 1000).value(), 300);
}

TEST_F(KernelBackendTest, IsolatedNodeCannotConnectUntilHealed) {
  auto spec = PartitionSpec::FromJson(json::parse(R"({"partition": "isolate", "nodes": ["n3"]})"));
  ASSERT_OK(spec.status());
  auto blocked = Resolve(*spec, {"n1", "n2", "n3"});
  ASSERT_OK(blocked.status());
  auto plan = PlanLabPartition(lab_->hosts(), *blocked, "drone:test-part");
  ASSERT_OK(plan.status());
  ASSERT_OK(ApplyPlan(*plan));
  EXPECT_FALSE(TcpConnects(H("n1"), H("n3"), 300'000'000).value());
  EXPECT_FALSE(TcpConnects(H("n3"), H("n2"), 300'000'000).value());
  EXPECT_TRUE(TcpConnects(H("n1"), H("n2"), 2'000'000'000).value());
  ASSERT_OK(HealPlan(*plan));
  EXPECT_TRUE(TcpConnects(H("n1"), H("n3"), 2'000'000'000).value());
  EXPECT_TRUE(TcpConnects(H("n3"), H("n2"), 2'000'000'000).value());
  for (const char* h : {"n1", "n2", "n3"}) {
    EXPECT_EQ(Show({"iptables", "-S"}, H(h).netns).find("drone:"), std::string::npos) << h;
  }
  EXPECT_OK(HealPlan(*plan));  // healing twice is fine
}

TEST_F(KernelBackendTest, OneWayPartitionBlocksOnlyOneDirection) {
  auto plan = PlanLabPartition(lab_->hosts(), {{"n1", "n2"}}, "drone:test-oneway");
  ASSERT_OK(plan.status());
  ASSERT_OK(ApplyPlan(*plan));
  auto forward = UdpDelivered(H("n1"), H("n2"), 50, 64);
  auto back = UdpDelivered(H("n2"), H("n1"), 50, 64);
  ASSERT_OK(HealPlan(*plan));
  EXPECT_EQ(forward.value(), 0);
  EXPECT_EQ(back.value(), 50);
}

TEST_F(KernelBackendTest, NetemApplyIsHonestAboutTheKernel) {
  auto plan = PlanLabImpairments(lab_->hosts(), lab_->hub_netns(),
                                 {Imp(R"({"endpoint": "n2", "delay": "10ms"})")}, /*netem=*/true,
                                 "drone:test-netem");
  ASSERT_OK(plan.status());
  Status s = ApplyPlan(*plan);
  EXPECT_EQ(s.ok(), DetectKernelSupport().netem) << s.ToString();
  if (!s.ok()) {
    EXPECT_NE(s.message().find("netem"), std::string::npos) << s.message();
  }
  ASSERT_OK(HealPlan(*plan));
  EXPECT_EQ(Show({"tc", "qdisc", "show", "dev", "eth0"}, H("n2").netns).find("netem"),
            std::string::npos);
}

}  // namespace
}  // namespace drone::faults::network
