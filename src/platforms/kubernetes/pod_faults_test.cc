#include "platforms/kubernetes/pod_faults.h"

#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "platforms/kubernetes/kubectl.h"

namespace drone::platforms::kubernetes {
namespace {

const PodTarget kPod{"drone-r1", "cluster-1", "java"};

TEST(PodFaultsTest, ProcessFaultsActOnThePodOrThroughTheSidecar) {
  EXPECT_EQ(KillPodArgs(kPod), (Argv{"-n", "drone-r1", "delete", "pod", "cluster-1",
                                     "--grace-period=0", "--force", "--wait=false"}));
  EXPECT_EQ(StopPodArgs(kPod), (Argv{"-n", "drone-r1", "delete", "pod", "cluster-1", "--wait=false"}));
  EXPECT_EQ(PausePodArgs(kPod), (Argv{"-n", "drone-r1", "exec", "cluster-1", "-c", "drone-netfault",
                                      "--", "pkill", "-STOP", "-x", "java"}));
  EXPECT_EQ(ResumePodArgs(kPod), (Argv{"-n", "drone-r1", "exec", "cluster-1", "-c", "drone-netfault",
                                       "--", "pkill", "-CONT", "-x", "java"}));
}

TEST(PodFaultsTest, DelayIsNetemOnEth0InTheSidecar) {
  auto plan = DelayPlan(kPod, 50'000'000);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const Argv prefix = {"-n", "drone-r1", "exec", "cluster-1", "-c", "drone-netfault", "--"};
  ASSERT_EQ(plan->apply.size(), 1u);
  Argv expected = prefix;
  for (const char* w : {"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "netem",
                        "delay", "50ms", "limit", "100000"}) {
    expected.push_back(w);
  }
  EXPECT_EQ(plan->apply[0], expected);
  ASSERT_EQ(plan->heal.size(), 1u);
  Argv heal = prefix;
  for (const char* w : {"tc", "qdisc", "del", "dev", "eth0", "root"}) heal.push_back(w);
  EXPECT_EQ(plan->heal[0], heal);
}

TEST(PodFaultsTest, BlockDropsWhatArrivesFromThePeers) {
  PodCommandPlan plan = BlockPlan(kPod, {"10.0.0.7"}, "drone-r1");
  ASSERT_FALSE(plan.apply.empty());
  const Argv& a = plan.apply[0];
  ASSERT_GT(a.size(), 8u);
  EXPECT_EQ(Argv(a.begin(), a.begin() + 8),
            (Argv{"-n", "drone-r1", "exec", "cluster-1", "-c", "drone-netfault", "--", "iptables"}));
  EXPECT_NE(std::find(a.begin(), a.end(), "10.0.0.7"), a.end());
  EXPECT_NE(std::find(a.begin(), a.end(), "DROP"), a.end());
  EXPECT_EQ(plan.heal.size(), plan.apply.size());
}

TEST(KubectlArgsTest, ApplyWaitAndDeleteAreTheDocumentedCommandLines) {
  Kubectl k("prod");
  EXPECT_EQ(k.CommandLine(ApplyArgs()),
            (Argv{"kubectl", "--context", "prod", "apply", "--server-side", "--field-manager",
                  "drone", "-f", "-"}));
  EXPECT_EQ(Kubectl("").CommandLine(NodeNamesArgs()), (Argv{"kubectl", "get", "nodes", "-o", "name"}));
  EXPECT_EQ(RolloutStatusArgs("ns", "statefulset/x", 600),
            (Argv{"-n", "ns", "rollout", "status", "statefulset/x", "--timeout=600s"}));
  EXPECT_EQ(DeleteNamespaceArgs("ns", 180),
            (Argv{"delete", "namespace", "ns", "--ignore-not-found", "--wait=true", "--timeout=180s"}));
}

TEST(KubectlRunTest, FeedsStdinAndCapturesOutput) {
  Kubectl cat("", "cat");
  auto r = cat.Run({}, "apiVersion: v1\n", 10'000'000'000);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, "apiVersion: v1\n");
}

TEST(KubectlRunTest, AMissingProgramIsNotFoundAndADeadlineKillsTheChild) {
  auto missing = Kubectl("", "drone-no-such-kubectl").Run({"version"}, "", 5'000'000'000);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto slow = Kubectl("", "sleep").Run({"30"}, "", 200'000'000);
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded);
  CancelToken cancel;
  cancel.Cancel("test");
  auto cancelled = Kubectl("", "sleep").Run({"30"}, "", 10'000'000'000, &cancel);
  EXPECT_EQ(cancelled.status().code(), StatusCode::kCancelled);
}

TEST(KubectlArgsTest, PortForwardLetsKubectlPickALoopbackPort) {
  EXPECT_EQ(PortForwardArgs("ns", "drone-worker-1", 7700),
            (Argv{"-n", "ns", "port-forward", "--address", "127.0.0.1", "pod/drone-worker-1", ":7700"}));
}

bool Alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  if (text.empty()) return false;
  const size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

TEST(KubectlBackgroundTest, KeepsRunningAndShowsItsOutputUntilStopped) {
  // `sh` stands in for kubectl port-forward: it prints, then stays.
  auto bg = KubectlBackground::Start(
      Kubectl("", "sh"), {"-c", "echo Forwarding from 127.0.0.1:4321 '->' 7700; exec sleep 60"});
  ASSERT_TRUE(bg.ok()) << bg.status().message();
  EXPECT_TRUE((*bg)->WaitForOutput("Forwarding from 127.0.0.1:4321", 10'000'000'000, nullptr));
  EXPECT_TRUE((*bg)->Running());
  const pid_t pid = (*bg)->pid();
  EXPECT_TRUE(Alive(pid));
  (*bg)->Stop();
  EXPECT_FALSE((*bg)->Running());
  EXPECT_FALSE(Alive(pid));  // killed and reaped by Stop
  EXPECT_NE((*bg)->Describe().find("exited 137"), std::string::npos) << (*bg)->Describe();
}

TEST(KubectlBackgroundTest, AnExitEndsTheWaitAndAMissingProgramIsNotFound) {
  auto bg = KubectlBackground::Start(Kubectl("", "sh"), {"-c", "echo unable to forward >&2; exit 1"});
  ASSERT_TRUE(bg.ok()) << bg.status().message();
  EXPECT_FALSE((*bg)->WaitForOutput("Forwarding from", 10'000'000'000, nullptr));
  EXPECT_FALSE((*bg)->Running());
  EXPECT_NE((*bg)->Describe().find("unable to forward"), std::string::npos) << (*bg)->Describe();
  auto missing = KubectlBackground::Start(Kubectl("", "drone-no-such-kubectl"), {"port-forward"});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace drone::platforms::kubernetes
