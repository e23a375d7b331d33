// Live tests of the NFQUEUE impairer: real datagrams between two lab namespaces, each assertion on
// what the prober saw arrive. Skipped without the privilege (or without NFQUEUE).
#include "faults/network/packet_impairer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "core/clock.h"
#include "core/testutil.h"
#include "faults/network/kernel_render.h"
#include "faults/network/lab_network.h"
#include "faults/network/lab_traffic_test_util.h"
#include "faults/network/udp_prober.h"

namespace drone::faults::network {
namespace {

using nlohmann::json;

Impairment Imp(const char* text) { return Impairment::FromJson(json::parse(text)).value(); }
int Queue() { return 3 + ::getpid() % 1000; }

class PacketImpairerTest : public testing::SharedLabTest<PacketImpairerTest> {
 public:
  static constexpr const char* kHosts[] = {"n1", "n2"};
  static constexpr char kTag = 'q';
  static constexpr bool kNeedsNfqueue = true;

 protected:
  void TearDown() override { Heal(); }

  // Starts the impairer in n1 and queues n1 -> n2 to it.
  void Impair(const Impairment& imp) {
    auto p = PacketImpairer::Start(H("n1").netns, Queue(), imp);
    ASSERT_OK(p.status());
    impairer_ = std::move(*p);
    CommandPlan rules =
        RenderNfqueue(Direction::kEgress, "eth0", {H("n2").address + "/32"}, Queue(), "drone:t");
    for (const Argv& a : rules.apply) plan_.apply.push_back({H("n1").netns, a});
    for (const Argv& a : rules.heal) plan_.heal.push_back({H("n1").netns, a});
    ASSERT_OK(ApplyPlan(plan_));
  }
  void Heal() {
    EXPECT_OK(HealPlan(plan_));
    plan_ = {};
    if (impairer_) impairer_->Stop();
    impairer_.reset();
  }
  ProbeResult Probe(int count, int64_t interval_ns, size_t size = 64,
                    int64_t settle_ns = 300'000'000) {
    ProbeOptions o;
    o.count = count;
    o.interval_ns = interval_ns;
    o.size = size;
    o.settle_ns = settle_ns;
    auto r = ProbeUdp(H("n1").netns, H("n2").netns, H("n2").address, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ProbeResult{};
  }

  std::unique_ptr<PacketImpairer> impairer_;
  LabPlan plan_;
};

TEST_F(PacketImpairerTest, DelayAndJitterShowInOneWayLatency) {
  ProbeResult before = Probe(200, 1'000'000);
  Impair(Imp(
      R"({"from": "n1", "to": "n2", "delay": {"time": "20ms", "jitter": "5ms", "distribution": "normal"}})"));
  ProbeResult during = Probe(1000, 1'000'000);
  EXPECT_EQ(during.received, 1000);
  // Bounds that a loaded machine cannot break: packets are never early, and the spread shows.
  // The accuracy against the request is measured by bench/netfault_accuracy.
  EXPECT_GE(during.MeanLatencyMs(), 19.0);
  EXPECT_LT(during.PercentileLatencyMs(0.5), 20.0 + before.PercentileLatencyMs(0.5) + 30.0);
  EXPECT_GT(during.StddevLatencyMs(), 3.0);
  EXPECT_GT(during.reordered, 0) << "jitter of 5 ms at 1 ms spacing reorders packets";
  EXPECT_EQ(impairer_->stats().queued, 1000u);
  Heal();
  ProbeResult after = Probe(200, 1'000'000);
  EXPECT_LT(after.PercentileLatencyMs(0.5), 10.0);
}

TEST_F(PacketImpairerTest, LossAndDuplicatesAtTheRequestedShare) {
  Impair(Imp(R"({"from": "n1", "to": "n2", "loss": "20%", "duplicate": "10%", "seed": 9})"));
  ProbeResult r = Probe(5000, 20'000);
  EXPECT_NEAR(r.LossRate(), 0.20, 0.02);
  // Duplicates are decided among the packets that were not lost.
  EXPECT_NEAR(static_cast<double>(r.duplicates) / r.received, 0.10, 0.02);
  EXPECT_EQ(impairer_->stats().dropped, static_cast<uint64_t>(r.sent - r.received));
}

TEST_F(PacketImpairerTest, SameSeedDropsTheSamePackets) {
  auto pattern = [&](uint64_t seed) {
    Impairment imp = Imp(R"({"from": "n1", "to": "n2", "loss": "30%"})");
    imp.seed = seed;
    Impair(imp);
    ProbeResult r = Probe(300, 100'000);
    Heal();
    return r.received;
  };
  const int a = pattern(5), b = pattern(5);
  EXPECT_EQ(a, b);
  EXPECT_NEAR(a / 300.0, 0.7, 0.1);
}

TEST_F(PacketImpairerTest, CorruptFlipsPayloadBits) {
  Impair(Imp(R"({"from": "n1", "to": "n2", "corrupt": "10%"})"));
  ProbeResult r = Probe(3000, 20'000, 200);
  const auto stats = impairer_->stats();
  EXPECT_NEAR(static_cast<double>(stats.corrupted) / 3000, 0.10, 0.02);
  // Each corrupted datagram arrives damaged, or is dropped by a receiving kernel that checks the
  // UDP checksum; either way it never counts as intact, and every other one arrives intact.
  EXPECT_EQ(r.received, 3000 - static_cast<int>(stats.corrupted))
      << stats.ToJson().dump() << " send failures " << r.send_failures << ": " << r.last_send_error;
  EXPECT_LE(r.corrupt, static_cast<int>(stats.corrupted));
}

TEST_F(PacketImpairerTest, ReorderSendsPacketsAheadOfTheDelayed) {
  Impair(Imp(
      R"({"from": "n1", "to": "n2", "delay": "10ms", "reorder": {"probability": 0.25, "gap": 1}})"));
  ProbeResult r = Probe(2000, 200'000);
  EXPECT_EQ(r.received, 2000);
  const auto stats = impairer_->stats();
  EXPECT_NEAR(static_cast<double>(stats.reordered) / 2000, 0.25, 0.03);
  // A quarter skip the 10 ms delay and arrive ahead of packets sent before them.
  EXPECT_GT(r.reordered, 300);
  EXPECT_GE(r.PercentileLatencyMs(0.50), 10.0);
}

TEST_F(PacketImpairerTest, RateLimitsThroughput) {
  Impair(Imp(R"({"from": "n1", "to": "n2", "rate": {"bandwidth": "4mbit", "limit": "200ms"}})"));
  // Offered: 1000-byte datagrams every 1 ms = 8 Mbit/s of payload for 1 s.
  ProbeResult r = Probe(1000, 1'000'000, 1000);
  // The bucket counts whole IP packets (1028 bytes) at 4 Mbit/s; the prober counts payload.
  const double expected = 4e6 * 1000 / 1028;
  EXPECT_LT(r.ReceiveBitsPerSecond(), 1.05 * expected);
  EXPECT_GT(r.ReceiveBitsPerSecond(), 0.8 * expected);
  EXPECT_GT(impairer_->stats().dropped, 300u);
}

TEST_F(PacketImpairerTest, UpdateChangesTheDelayWhileRunning) {
  Impair(Imp(R"({"from": "n1", "to": "n2", "delay": "5ms"})"));
  ProbeResult first = Probe(200, 500'000);
  impairer_->Update(Imp(R"({"from": "n1", "to": "n2", "delay": "25ms"})"));
  ProbeResult second = Probe(200, 500'000);
  // No packet can beat its delay; and not all 200 of the first probe were late by 20 ms.
  EXPECT_GE(first.PercentileLatencyMs(0.0), 5.0);
  EXPECT_LT(first.PercentileLatencyMs(0.0), 25.0);
  EXPECT_GE(second.PercentileLatencyMs(0.0), 25.0);
}

TEST_F(PacketImpairerTest, StopReleasesHeldPackets) {
  Impair(Imp(R"({"from": "n1", "to": "n2", "delay": "10s"})"));
  ProbeOptions o;
  o.count = 20;
  o.settle_ns = 1'500'000'000;
  std::thread healer([&] {
    // Heal once every probe is held in the queue.
    const int64_t deadline = MonotonicNs() + 5'000'000'000;
    while (impairer_->stats().delayed < 20 && MonotonicNs() < deadline) ::usleep(1000);
    Heal();
  });
  auto r = ProbeUdp(H("n1").netns, H("n2").netns, H("n2").address, o);
  healer.join();
  ASSERT_OK(r.status());
  EXPECT_EQ(r->received, 20);
  EXPECT_LT(r->PercentileLatencyMs(1.0), 5000.0);
}

}  // namespace
}  // namespace drone::faults::network
