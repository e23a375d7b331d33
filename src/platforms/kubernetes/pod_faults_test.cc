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

namespace net = drone::faults::network;

net::Impairment Parsed(const std::string& json) {
  auto imp = net::Impairment::FromJson(nlohmann::json::parse(json));
  EXPECT_TRUE(imp.ok()) << imp.status().message();
  return imp.ok() ? *imp : net::Impairment{};
}

const std::vector<PodHost> kHosts = {{"broker-1", "c-0", "10.0.0.1"},
                                     {"broker-2", "c-1", "10.0.0.2"},
                                     {"broker-3", "c-2", "10.0.0.3"}};

// The tc words of each line (after `kubectl -n NS exec POD -c drone-netfault --`), with the pod.
std::vector<std::pair<std::string, Argv>> InPods(const std::vector<Argv>& lines) {
  std::vector<std::pair<std::string, Argv>> out;
  for (const Argv& a : lines) {
    EXPECT_EQ(Argv(a.begin(), a.begin() + 3), (Argv{"-n", "drone-r1", "exec"}));
    EXPECT_EQ(Argv(a.begin() + 4, a.begin() + 7), (Argv{"-c", "drone-netfault", "--"}));
    out.push_back({a[3], Argv(a.begin() + 7, a.end())});
  }
  return out;
}

TEST(PodImpairmentsTest, LinksFromOnePodShareItsRootAndFilterOnTheFarEndsIp) {
  auto plan = PlanPodImpairments(
      "drone-r1", kHosts,
      {Parsed(R"({"from": "broker-1", "to": "broker-2",
                  "delay": {"time": "10ms", "jitter": "2ms", "distribution": "normal"}})"),
       Parsed(R"({"from": "broker-1", "to": "broker-3", "rate": "10mbit"})"),
       Parsed(R"({"from": "broker-2", "to": "broker-1", "loss": {"model": "gilbert-elliott", "p": 0.01, "r": 0.3}})")});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->backend, "tc-netem+tc-tbf");
  const auto apply = InPods(plan->apply);
  ASSERT_EQ(apply.size(), 11u);  // c-0: root, 2 x (class, qdisc, filter); c-1: root, class, qdisc, filter
  EXPECT_EQ(apply[0], (std::pair<std::string, Argv>{
                          "c-0", {"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:",
                                  "htb", "default", "0"}}));
  EXPECT_EQ(apply[2].second,
            (Argv{"tc", "qdisc", "add", "dev", "eth0", "parent", "1:1", "handle", "10:", "netem",
                  "delay", "10ms", "2ms", "distribution", "normal", "limit", "100000"}));
  EXPECT_EQ(apply[3].second, (Argv{"tc", "filter", "add", "dev", "eth0", "parent", "1:", "protocol",
                                   "ip", "prio", "1", "u32", "match", "ip", "dst", "10.0.0.2/32",
                                   "flowid", "1:1"}));
  EXPECT_EQ(apply[5].second, (Argv{"tc", "qdisc", "add", "dev", "eth0", "parent", "1:2", "handle",
                                   "20:", "tbf", "rate", "10000000bit", "burst", "5000", "latency",
                                   "100ms"}));
  EXPECT_EQ(apply[6].second[15], "10.0.0.3/32");
  // broker-2's link is its own pod's, with the Gilbert-Elliott loss netem knows.
  EXPECT_EQ(apply[7].first, "c-1");
  EXPECT_EQ(apply[10].second[15], "10.0.0.1/32");
  const Argv& ge = apply[9].second;
  EXPECT_NE(std::find(ge.begin(), ge.end(), "gemodel"), ge.end());
  EXPECT_EQ(InPods(plan->heal),
            (std::vector<std::pair<std::string, Argv>>{
                {"c-0", {"tc", "qdisc", "del", "dev", "eth0", "root"}},
                {"c-1", {"tc", "qdisc", "del", "dev", "eth0", "root"}}}));
}

TEST(PodImpairmentsTest, AnEndpointIsTheRootQdiscOfItsPod) {
  auto plan = PlanPodImpairments(
      "drone-r1", kHosts,
      {Parsed(R"({"endpoint": "broker-3", "duplicate": 0.02, "reorder": {"probability": 0.25,
                  "gap": 5}, "delay": "5ms"})")});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->backend, "tc-netem");
  const auto apply = InPods(plan->apply);
  ASSERT_EQ(apply.size(), 1u);
  EXPECT_EQ(apply[0], (std::pair<std::string, Argv>{
                          "c-2", {"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:",
                                  "netem", "delay", "5ms", "duplicate", "2%", "reorder", "25%",
                                  "gap", "5", "limit", "100000"}}));
}

TEST(PodImpairmentsTest, RefusesUnknownHostsAndWhatOnlyAProxyCarries) {
  auto unknown = PlanPodImpairments("drone-r1", kHosts,
                                    {Parsed(R"({"from": "clients", "to": "broker-1", "delay": "1ms"})")});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("no node 'clients'"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("broker-1, broker-2, broker-3"), std::string::npos);
  auto proxy = PlanPodImpairments("drone-r1", kHosts, {Parsed(R"({"endpoint": "broker-1", "reset": true})")});
  ASSERT_FALSE(proxy.ok());
  EXPECT_EQ(proxy.status().code(), StatusCode::kFailedPrecondition);
  std::vector<PodHost> no_ip = kHosts;
  no_ip[1].ip.clear();
  auto pending = PlanPodImpairments("drone-r1", no_ip,
                                    {Parsed(R"({"from": "broker-1", "to": "broker-2", "loss": 0.1})")});
  ASSERT_FALSE(pending.ok());
  EXPECT_NE(pending.status().message().find("c-1 has no IP"), std::string::npos);
}

TEST(PodPartitionTest, EachBlockedPairIsADropInTheReceiversSidecar) {
  auto plan = PlanPodPartition("drone-r1", kHosts, {{"broker-1", "broker-3"}, {"broker-2", "broker-3"}},
                               "drone:r1:cut");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const auto apply = InPods(plan->apply);
  ASSERT_EQ(apply.size(), 2u);
  EXPECT_EQ(apply[0], (std::pair<std::string, Argv>{
                          "c-2", {"iptables", "-w", "-I", "INPUT", "1", "-i", "eth0", "-s",
                                  "10.0.0.1/32", "-m", "comment", "--comment", "drone:r1:cut",
                                  "-j", "DROP"}}));
  EXPECT_EQ(apply[1].first, "c-2");
  EXPECT_EQ(apply[1].second[8], "10.0.0.2/32");
  const auto heal = InPods(plan->heal);
  ASSERT_EQ(heal.size(), 2u);
  EXPECT_EQ(heal[0].second[2], "-D");
  EXPECT_FALSE(PlanPodPartition("drone-r1", kHosts, {{"clients", "broker-1"}}, "t").ok());
}

TEST(PodImpairmentsTest, AMissingSchNetemIsExplained) {
  const std::string e =
      ExplainSidecarTcError("c-0", "Error: Specified qdisc kind is unknown.\n");
  EXPECT_NE(e.find("node of pod c-0 has no sch_netem"), std::string::npos) << e;
  EXPECT_NE(e.find("(tc: Error: Specified qdisc kind is unknown.)"), std::string::npos) << e;
  EXPECT_NE(e.find("modprobe sch_netem"), std::string::npos) << e;
  EXPECT_EQ(ExplainSidecarTcError("c-0", "RTNETLINK answers: Operation not permitted\n"),
            "RTNETLINK answers: Operation not permitted");
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
