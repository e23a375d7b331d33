#include "workload/phases.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace drone::workload {
namespace {

constexpr int64_t kT0 = 1'000'000'000'000;

// One second of the series: `received` messages, each with an end-to-end latency of `ms`.
SeriesPoint Second(double t_s, uint64_t received, int64_t ms) {
  SeriesPoint p;
  p.t_s = t_s;
  p.sent = p.acked = p.received = received;
  metrics::Histogram e2e;
  e2e.RecordN(ms * kNsPerMs, received);
  p.end_to_end_hist = e2e.Serialize();
  return p;
}

// 10 s of load: 100/s at 5 ms, a fault from 3 s to 6 s with 20/s at 105 ms, then one slow second
// (50/s) before 100/s again.
WorkloadResult Sample() {
  WorkloadResult r;
  r.started_ns = kT0;
  r.load_end_ns = kT0 + 10 * kNsPerSec;
  for (int s = 1; s <= 10; ++s) {
    const bool during = s >= 4 && s <= 6;
    r.series.push_back(Second(s, during ? 20 : s == 7 ? 50 : 100, during ? 105 : 5));
  }
  return r;
}

TEST(PhasesTest, SplitsTheLoadAroundTheFaultWindow) {
  const nlohmann::json phases =
      PhasesJson(Sample(), {{"slow", "impair", kT0 + 3 * kNsPerSec, kT0 + 6 * kNsPerSec}});
  ASSERT_EQ(phases.size(), 1u);
  const nlohmann::json& p = phases[0];
  EXPECT_EQ(p["fault"], "slow");
  EXPECT_EQ(p["before"]["seconds"], 3);
  EXPECT_EQ(p["during"]["seconds"], 3);
  EXPECT_EQ(p["after"]["seconds"], 4);
  EXPECT_EQ(p["before"]["throughput"]["received_per_s"], 100);
  EXPECT_EQ(p["during"]["throughput"]["received_per_s"], 20);
  EXPECT_NEAR(p["before"]["latency_ms"]["end_to_end"]["p50"].get<double>(), 5, 0.01);
  EXPECT_NEAR(p["during"]["latency_ms"]["end_to_end"]["p50"].get<double>(), 105, 0.1);
  EXPECT_NEAR(p["after"]["latency_ms"]["end_to_end"]["p50"].get<double>(), 5, 0.01);
  // The second from 6 s to 7 s has half the throughput; from 7 s on it is back.
  EXPECT_EQ(p["recovery_s"], 1);
}

TEST(PhasesTest, RecoveryIsNullWhenThroughputNeverComesBack) {
  WorkloadResult r = Sample();
  for (size_t i = 6; i < r.series.size(); ++i) r.series[i] = Second(static_cast<double>(i + 1), 10, 5);
  const nlohmann::json phases =
      PhasesJson(r, {{"slow", "impair", kT0 + 3 * kNsPerSec, kT0 + 6 * kNsPerSec}});
  ASSERT_EQ(phases.size(), 1u);
  EXPECT_TRUE(phases[0]["recovery_s"].is_null());
}

TEST(PhasesTest, FaultsOutsideTheLoadHaveNoPhaseAndWindowsEndAtTheNextFault) {
  const nlohmann::json phases = PhasesJson(
      Sample(), {{"late", "partition", kT0 + 7 * kNsPerSec, 0},
                 {"early", "impair", kT0 + 3 * kNsPerSec, kT0 + 6 * kNsPerSec},
                 {"before-load", "impair", kT0 - kNsPerSec, kT0 - 1}});
  ASSERT_EQ(phases.size(), 2u);
  EXPECT_EQ(phases[0]["fault"], "early");
  EXPECT_EQ(phases[0]["after"]["seconds"], 1);  // 6 s .. 7 s, up to the next fault
  EXPECT_EQ(phases[1]["fault"], "late");
  EXPECT_EQ(phases[1]["before"]["seconds"], 1);  // from the previous fault's end
  EXPECT_EQ(phases[1]["during"]["seconds"], 3);  // not healed: to the load's end
  EXPECT_TRUE(phases[1]["recovery_s"].is_null());
}

}  // namespace
}  // namespace drone::workload
