#include "faults/network/kernel_render.h"

#include <gtest/gtest.h>

#include "core/testutil.h"

namespace drone::faults::network {
namespace {

using nlohmann::json;

Impairment Imp(const char* text) {
  auto r = Impairment::FromJson(json::parse(text));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Impairment{};
}

const std::vector<LabHost> kHosts = {
    {"n1", "drone-r-n1", "10.213.0.2", "eth0", "vh1"},
    {"n2", "drone-r-n2", "10.213.0.3", "eth0", "vh2"},
    {"n3", "drone-r-n3", "10.213.0.4", "eth0", "vh3"},
};

TEST(KernelRenderTest, NetemArgsCarryEveryField) {
  Impairment imp = Imp(R"({"endpoint": "n1",
      "delay": {"time": "100ms", "jitter": "1500us", "correlation": 0.25, "distribution": "normal"},
      "loss": {"probability": 0.05, "correlation": 0.1}, "duplicate": "1%",
      "corrupt": {"probability": 0.001}, "reorder": {"probability": 0.25, "gap": 5}})");
  EXPECT_EQ(NetemArgs(imp), (Argv{"delay", "100ms", "1500us", "25%", "distribution", "normal",
                                  "loss", "random", "5%", "10%", "duplicate", "1%", "corrupt",
                                  "0.1%", "reorder", "25%", "gap", "5"}));
  Impairment ge = Imp(R"({"endpoint": "n1", "loss": {"model": "gilbert-elliott", "p": 0.01,
      "r": 0.3, "bad_loss": 1, "good_loss": 0}})");
  EXPECT_EQ(NetemArgs(ge), (Argv{"loss", "gemodel", "1%", "30%", "100%", "0%"}));
  EXPECT_TRUE(NeedsNetem(ge));
  EXPECT_FALSE(NeedsNetem(Imp(R"({"endpoint": "n1", "loss": 0.1, "rate": "1mbit"})")));
}

TEST(KernelRenderTest, SingleAllTrafficRuleIsTheRootQdisc) {
  auto p = RenderTc(
      "eth0",
      {{Imp(R"({"endpoint": "n1", "delay": "20ms", "rate": {"bandwidth": "10mbit", "burst": "32KiB"}})"),
        {}}},
      true);
  ASSERT_OK(p.status());
  EXPECT_EQ(p->apply, (std::vector<Argv>{{"tc", "qdisc", "add", "dev", "eth0", "root", "handle",
                                          "1:", "netem", "delay", "20ms", "limit", "100000"},
                                         {"tc", "qdisc", "add", "dev", "eth0", "parent", "1:1",
                                          "handle", "2:", "tbf", "rate", "10000000bit", "burst",
                                          "32768", "latency", "100ms"}}));
  EXPECT_EQ(p->heal, (std::vector<Argv>{{"tc", "qdisc", "del", "dev", "eth0", "root"}}));
  // Rate alone needs no netem.
  auto tbf = RenderTc("eth0", {{Imp(R"({"endpoint": "n1", "rate": "1mbit"})"), {}}}, false);
  ASSERT_OK(tbf.status());
  EXPECT_EQ(tbf->apply,
            (std::vector<Argv>{{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "tbf",
                                "rate", "1000000bit", "burst", "3028", "latency", "100ms"}}));
  EXPECT_EQ(
      RenderTc("eth0", {{Imp(R"({"endpoint": "n1", "delay": "1ms"})"), {}}}, false).status().code(),
      StatusCode::kFailedPrecondition);
}

TEST(KernelRenderTest, PerDestinationRulesGetHtbClassesAndFilters) {
  auto p = RenderTc("eth0",
                    {{Imp(R"({"from": "n1", "to": "n2", "delay": "5ms"})"), {"10.213.0.3/32"}},
                     {Imp(R"({"from": "n1", "to": "n3", "rate": "2mbit"})"), {"10.213.0.4/32"}}},
                    true);
  ASSERT_OK(p.status());
  EXPECT_EQ(
      p->apply,
      (std::vector<Argv>{
          {"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "0"},
          {"tc", "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:1", "htb", "rate",
           "100gbit", "burst", "1250000", "cburst", "1250000", "quantum", "60000"},
          {"tc", "qdisc", "add", "dev", "eth0", "parent", "1:1", "handle", "10:", "netem", "delay",
           "5ms", "limit", "100000"},
          {"tc", "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1",
           "u32", "match", "ip", "dst", "10.213.0.3/32", "flowid", "1:1"},
          {"tc", "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:2", "htb", "rate",
           "100gbit", "burst", "1250000", "cburst", "1250000", "quantum", "60000"},
          {"tc", "qdisc", "add", "dev", "eth0", "parent", "1:2", "handle", "20:", "tbf", "rate",
           "2000000bit", "burst", "3028", "latency", "100ms"},
          {"tc", "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "2",
           "u32", "match", "ip", "dst", "10.213.0.4/32", "flowid", "1:2"}}));
}

TEST(KernelRenderTest, IptablesRulesAndTheirHeals) {
  CommandPlan loss =
      RenderIptablesLoss(Direction::kEgress, "eth0", {"10.213.0.3/32"}, 0.05, "drone:f1");
  EXPECT_EQ(loss.apply, (std::vector<Argv>{{"iptables",
                                            "-w",
                                            "-A",
                                            "OUTPUT",
                                            "-o",
                                            "eth0",
                                            "-d",
                                            "10.213.0.3/32",
                                            "-m",
                                            "comment",
                                            "--comment",
                                            "drone:f1",
                                            "-m",
                                            "statistic",
                                            "--mode",
                                            "random",
                                            "--probability",
                                            "0.05",
                                            "-j",
                                            "DROP"}}));
  EXPECT_EQ(loss.heal[0][2], "-D");
  CommandPlan block =
      RenderIptablesBlock(Direction::kIngress, "eth0", {"10.213.0.2/32"}, "drone:p");
  EXPECT_EQ(block.apply, (std::vector<Argv>{{"iptables", "-w", "-I", "INPUT", "1", "-i", "eth0",
                                             "-s", "10.213.0.2/32", "-m", "comment", "--comment",
                                             "drone:p", "-j", "DROP"}}));
  EXPECT_EQ(block.heal, (std::vector<Argv>{{"iptables", "-w", "-D", "INPUT", "-i", "eth0", "-s",
                                            "10.213.0.2/32", "-m", "comment", "--comment",
                                            "drone:p", "-j", "DROP"}}));
  CommandPlan q = RenderNfqueue(Direction::kEgress, "eth0", {}, 7, "drone:q");
  EXPECT_EQ(q.apply, (std::vector<Argv>{{"iptables",  "-w",          "-A",     "OUTPUT",
                                         "-o",        "eth0",        "-m",     "comment",
                                         "--comment", "drone:q",     "-m",     "mark",
                                         "!",         "--mark",      "0xd7a1", "-j",
                                         "NFQUEUE",   "--queue-num", "7",      "--queue-bypass"}}));
}

TEST(KernelRenderTest, LabEndpointActsOnBothEndsOfItsVeth) {
  auto plan = PlanLabImpairments(kHosts, "drone-r-hub",
                                 {Imp(R"({"endpoint": "n2", "delay": "10ms"})")}, true, "drone:f");
  ASSERT_OK(plan.status());
  EXPECT_EQ(plan->backend, "tc-netem");
  ASSERT_EQ(plan->apply.size(), 2u);
  EXPECT_EQ(plan->apply[0].netns, "drone-r-n2");
  EXPECT_EQ(plan->apply[0].argv[4], "eth0");
  EXPECT_EQ(plan->apply[1].netns, "drone-r-hub");
  EXPECT_EQ(plan->apply[1].argv[4], "vh2");
  EXPECT_EQ(plan->heal.size(), 2u);
}

TEST(KernelRenderTest, WithoutNetemPlainLossGoesToIptablesAndDelayIsRefused) {
  auto plan = PlanLabImpairments(
      kHosts, "drone-r-hub", {Imp(R"({"from": "n1", "to": "n3", "loss": "10%", "rate": "5mbit"})")},
      false, "drone:f");
  ASSERT_OK(plan.status());
  EXPECT_EQ(plan->backend, "tc-tbf+iptables");
  ASSERT_EQ(plan->apply.size(), 5u);  // htb root, class, tbf, filter, then the iptables rule
  EXPECT_EQ(plan->apply.back().netns, "drone-r-n1");
  EXPECT_EQ(plan->apply.back().argv, (Argv{"iptables",
                                           "-w",
                                           "-A",
                                           "OUTPUT",
                                           "-o",
                                           "eth0",
                                           "-d",
                                           "10.213.0.4/32",
                                           "-m",
                                           "comment",
                                           "--comment",
                                           "drone:f",
                                           "-m",
                                           "statistic",
                                           "--mode",
                                           "random",
                                           "--probability",
                                           "0.1",
                                           "-j",
                                           "DROP"}));
  auto refused = PlanLabImpairments(
      kHosts, "drone-r-hub", {Imp(R"({"from": "n1", "to": "n3", "delay": "5ms"})")}, false, "t");
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("NFQUEUE"), std::string::npos);
}

TEST(KernelRenderTest, PartitionDropsAtTheReceiver) {
  auto plan = PlanLabPartition(kHosts, {{"n1", "n2"}}, "drone:p");
  ASSERT_OK(plan.status());
  ASSERT_EQ(plan->apply.size(), 1u);
  EXPECT_EQ(plan->apply[0], (PlacedCommand{"drone-r-n2",
                                           {"iptables", "-w", "-I", "INPUT", "1", "-i", "eth0",
                                            "-s", "10.213.0.2/32", "-m", "comment", "--comment",
                                            "drone:p", "-j", "DROP"}}));
  EXPECT_FALSE(PlanLabPartition(kHosts, {{"n1", "zz"}}, "p").ok());
}

}  // namespace
}  // namespace drone::faults::network
