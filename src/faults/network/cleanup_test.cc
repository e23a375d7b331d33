// Nothing of a network fault remains after any exit: a normal heal, a failed inject, a failed lab
// creation, and a SIGKILLed process (whose namespaces CleanLab finds by name). The host's own
// rules, qdiscs and links are compared before and after. Skipped without privilege.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "core/clock.h"
#include "core/testutil.h"
#include "faults/network/lab_fault.h"
#include "faults/network/lab_network.h"

namespace drone::faults::network {
namespace {

using nlohmann::json;

Impairment Imp(const char* text) { return Impairment::FromJson(json::parse(text)).value(); }

#define SKIP_UNLESS_PRIVILEGED()                                                       \
  do {                                                                                 \
    if (!DetectKernelSupport().netns) GTEST_SKIP() << DetectKernelSupport().Summary(); \
  } while (0)

// What the host's own network looks like: rules, qdiscs, links.
std::string HostSnapshot() {
  std::string out;
  for (const Argv& a : std::vector<Argv>{{"iptables", "-S"},
                                         {"iptables", "-t", "mangle", "-S"},
                                         {"tc", "qdisc", "show"},
                                         {"ip", "-o", "link", "show"}}) {
    auto r = RunCommand(a);
    out += CommandLine(a) + "\n" + (r.ok() ? r->output : r.status().ToString());
  }
  return out;
}

size_t ThreadCount() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

std::string RunId(const char* tag) { return "t" + std::to_string(::getpid()) + tag; }

TEST(CleanupTest, FullCycleLeavesTheHostAsItWasAndNoThreads) {
  SKIP_UNLESS_PRIVILEGED();
  const std::string before = HostSnapshot();
  const size_t threads = ThreadCount();
  const std::string run = RunId("x");
  {
    auto lab = LabNetwork::Create(run, {"n1", "n2", "n3"});
    ASSERT_OK(lab.status());
    LabImpairmentFault imp(**lab,
                           {Imp(R"({"endpoint": "n1", "delay": "5ms", "loss": "1%"})"),
                            Imp(R"({"from": "n2", "to": "n3", "rate": "5mbit", "loss": "2%"})")},
                           DetectKernelSupport(), "drone:test:cycle");
    ASSERT_OK(imp.Inject());
    auto spec =
        PartitionSpec::FromJson(json::parse(R"({"partition": "isolate", "nodes": ["n3"]})"));
    LabPartitionFault part(**lab, *spec, "drone:test:cycle");
    ASSERT_OK(part.Inject());
    EXPECT_GT(ThreadCount(), threads);  // the impairers' threads
    ASSERT_OK(part.Heal());
    ASSERT_OK(imp.Heal());
    EXPECT_EQ(ThreadCount(), threads);
    ASSERT_OK((*lab)->Teardown());
  }
  EXPECT_TRUE(ListNetns("drone-" + run).value().empty());
  EXPECT_EQ(HostSnapshot(), before);
}

TEST(CleanupTest, FailedInjectLeavesNothing) {
  SKIP_UNLESS_PRIVILEGED();
  if (DetectKernelSupport().netem) GTEST_SKIP() << "needs a kernel without sch_netem";
  auto lab = LabNetwork::Create(RunId("y"), {"n1", "n2"});
  ASSERT_OK(lab.status());
  // Claim netem exists: the rate (tbf) goes in first, then netem fails and everything is undone.
  KernelSupport lie = DetectKernelSupport();
  lie.netem = true;
  LabImpairmentFault f(**lab,
                       {Imp(R"({"from": "n1", "to": "n2", "rate": "1mbit"})"),
                        Imp(R"({"from": "n1", "to": "n2", "delay": "5ms"})")},
                       lie, "drone:test:fail");
  Status s = f.Inject();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("netem"), std::string::npos) << s.message();
  for (const LabHost& h : (*lab)->hosts()) {
    auto tc = RunCommand({"tc", "qdisc", "show", "dev", "eth0"}, h.netns);
    ASSERT_OK(tc.status());
    EXPECT_EQ(tc->output.find("tbf"), std::string::npos) << tc->output;
    EXPECT_EQ(tc->output.find("htb"), std::string::npos) << tc->output;
  }
}

TEST(CleanupTest, FailedLabCreationRemovesWhatItMadeAndNothingElse) {
  SKIP_UNLESS_PRIVILEGED();
  const std::string run = RunId("z");
  // A namespace of that name exists already: Create stops there.
  ASSERT_OK(RunChecked({"ip", "netns", "add", LabNamespaceName(run, "n2")}));
  auto lab = LabNetwork::Create(run, {"n1", "n2", "n3"});
  EXPECT_FALSE(lab.ok());
  EXPECT_EQ(ListNetns("drone-" + run).value(),
            std::vector<std::string>{LabNamespaceName(run, "n2")});
  ASSERT_OK(DeleteNetns(LabNamespaceName(run, "n2")));
}

TEST(CleanupTest, SigkilledProcessLeavesNamespacesThatCleanLabRemoves) {
  SKIP_UNLESS_PRIVILEGED();
  const std::string before = HostSnapshot();
  const std::string run = RunId("k");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A run in the middle of its faults: a lab, an NFQUEUE impairment, a partition.
    ::close(ready[0]);
    auto lab = LabNetwork::Create(run, {"n1", "n2"});
    if (!lab.ok()) ::_exit(3);
    LabImpairmentFault imp(**lab, {Imp(R"({"from": "n1", "to": "n2", "delay": "50ms"})")},
                           DetectKernelSupport(), "drone:test:kill");
    auto spec = PartitionSpec::FromJson(
        json::parse(R"({"partition": "one-way", "from": "n2", "to": "n1"})"));
    LabPartitionFault part(**lab, *spec, "drone:test:kill");
    if (!imp.Inject().ok() || !part.Inject().ok()) ::_exit(4);
    const char ok = 1;
    [[maybe_unused]] ssize_t w = ::write(ready[1], &ok, 1);
    while (true) ::pause();
  }
  ::close(ready[1]);
  char got = 0;
  pollfd p{ready[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 20'000), 1) << "the child did not get its faults in place";
  ASSERT_EQ(::read(ready[0], &got, 1), 1);
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  // What it left: its namespaces (with their rules and the queue's rules inside), by name.
  EXPECT_EQ(ListNetns("drone-" + run + "-").value().size(), 3u);
  auto removed = CleanLab(run);
  ASSERT_OK(removed.status());
  EXPECT_EQ(*removed, 3);
  EXPECT_TRUE(ListNetns("drone-" + run).value().empty());
  EXPECT_EQ(HostSnapshot(), before);
}

}  // namespace
}  // namespace drone::faults::network
