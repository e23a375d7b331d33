#include "faults/network/backend_choice.h"

#include <gtest/gtest.h>

#include "core/testutil.h"

namespace drone::faults::network {
namespace {

Impairment Imp(const char* text) {
  return Impairment::FromJson(nlohmann::json::parse(text)).value();
}

KernelSupport Kernel(bool netem) {
  KernelSupport k;
  k.privileged = k.netns = k.tbf = k.htb = k.iptables = k.iptables_statistic = k.nfqueue = true;
  k.netem = netem;
  return k;
}

std::string Backend(const char* imp, const KernelSupport& k, bool in_lab = true) {
  auto c = ChooseBackend(Imp(imp), k, in_lab);
  return c.ok() ? c->backend : "error: " + c.status().message();
}

TEST(BackendChoiceTest, KernelWithNetem) {
  EXPECT_EQ(Backend(R"({"endpoint": "a", "delay": "10ms"})", Kernel(true)), "tc-netem");
  EXPECT_EQ(Backend(R"({"endpoint": "a", "delay": "10ms", "rate": "1mbit"})", Kernel(true)),
            "tc-netem+tc-tbf");
  EXPECT_EQ(Backend(R"({"endpoint": "a", "rate": "1mbit"})", Kernel(true)), "tc-tbf");
  EXPECT_EQ(Backend(R"({"endpoint": "a", "loss": "1%"})", Kernel(true)), "tc-netem");
}

TEST(BackendChoiceTest, KernelWithoutNetem) {
  EXPECT_EQ(Backend(R"({"endpoint": "a", "delay": "10ms"})", Kernel(false)), "nfqueue");
  EXPECT_EQ(Backend(R"({"endpoint": "a", "duplicate": "1%", "rate": "1mbit"})", Kernel(false)),
            "nfqueue");
  EXPECT_EQ(Backend(R"({"endpoint": "a", "loss": {"probability": 0.1, "correlation": 0.5}})",
                    Kernel(false)),
            "nfqueue");
  EXPECT_EQ(Backend(R"({"endpoint": "a", "loss": "1%"})", Kernel(false)), "iptables");
  EXPECT_EQ(Backend(R"({"endpoint": "a", "loss": "1%", "rate": "1mbit"})", Kernel(false)),
            "tc-tbf+iptables");
  KernelSupport bare = Kernel(false);
  bare.nfqueue = false;
  EXPECT_NE(
      Backend(R"({"endpoint": "a", "delay": "10ms"})", bare).find("neither sch_netem nor NFQUEUE"),
      std::string::npos);
}

TEST(BackendChoiceTest, WithoutPrivilegeOnlyTheProxy) {
  KernelSupport none;
  EXPECT_EQ(Backend(R"({"endpoint": "a", "delay": "10ms", "rate": "1mbit"})", none), "tcp-proxy");
  EXPECT_NE(Backend(R"({"endpoint": "a", "loss": "1%"})", none).find("loss needs packet access"),
            std::string::npos);
  EXPECT_EQ(Backend(R"({"endpoint": "a", "delay": "10ms"})", Kernel(true), /*in_lab=*/false),
            "tcp-proxy");
  EXPECT_EQ(Backend(R"({"endpoint": "a", "reset": true})", Kernel(true)), "tcp-proxy");
  EXPECT_NE(
      Backend(R"({"endpoint": "a", "reset": true, "loss": "1%"})", Kernel(true)).find("two faults"),
      std::string::npos);
}

}  // namespace
}  // namespace drone::faults::network
