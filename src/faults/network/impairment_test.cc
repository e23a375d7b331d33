#include "faults/network/impairment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/testutil.h"

namespace drone::faults::network {
namespace {

using nlohmann::json;

Impairment Parse(const char* text) {
  auto r = Impairment::FromJson(json::parse(text));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Impairment{};
}

std::string ParseError(const char* text) {
  auto r = Impairment::FromJson(json::parse(text));
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.status().message();
}

struct Moments {
  double mean = 0, sd = 0, skew = 0;
};

Moments Measure(const std::vector<double>& xs) {
  Moments m;
  for (double x : xs) m.mean += x;
  m.mean /= static_cast<double>(xs.size());
  double m2 = 0, m3 = 0;
  for (double x : xs) {
    m2 += (x - m.mean) * (x - m.mean);
    m3 += (x - m.mean) * (x - m.mean) * (x - m.mean);
  }
  m2 /= static_cast<double>(xs.size());
  m3 /= static_cast<double>(xs.size());
  m.sd = std::sqrt(m2);
  m.skew = m3 / (m2 * m.sd);
  return m;
}

std::vector<double> Delays(const Impairment& imp, int n) {
  ImpairmentModel model(imp);
  std::vector<double> out;
  for (int i = 0; i < n; ++i)
    out.push_back(static_cast<double>(model.Decide(i * 1000, 100).delay_ns));
  return out;
}

TEST(ImpairmentTest, JsonRoundTripKeepsEveryField) {
  Impairment imp = Parse(R"({"from": "client", "to": "node-1",
      "delay": {"time": "100ms", "jitter": "1500us", "distribution": "pareto", "correlation": 0.25},
      "loss": {"model": "gilbert-elliott", "p": 0.01, "r": 0.3, "bad_loss": 0.9, "good_loss": 0.001},
      "duplicate": "1%", "corrupt": {"probability": 0.002},
      "reorder": {"probability": 0.1, "gap": 5},
      "rate": {"bandwidth": "10mbit", "burst": "32KiB", "limit": "50ms"}, "seed": 7})");
  EXPECT_EQ(imp.target.from, "client");
  EXPECT_EQ(imp.target.to, "node-1");
  EXPECT_EQ(imp.delay->time_ns, 100'000'000);
  EXPECT_EQ(imp.delay->jitter_ns, 1'500'000);
  EXPECT_EQ(imp.delay->distribution, DelayDistribution::kPareto);
  EXPECT_EQ(imp.loss->model, LossModel::kGilbertElliott);
  EXPECT_DOUBLE_EQ(imp.loss->bad_loss, 0.9);
  EXPECT_DOUBLE_EQ(imp.duplicate->probability, 0.01);
  EXPECT_EQ(imp.reorder->gap, 5);
  EXPECT_EQ(imp.rate->bits_per_s, 10'000'000);
  EXPECT_EQ(imp.rate->burst_bytes, 32 * 1024);
  EXPECT_EQ(imp.rate->limit_ns, 50'000'000);
  EXPECT_EQ(imp.seed, 7u);
  auto again = Impairment::FromJson(imp.ToJson());
  ASSERT_OK(again.status());
  EXPECT_EQ(*again, imp) << imp.ToJson().dump();
}

TEST(ImpairmentTest, ShorthandsAndEndpoint) {
  Impairment imp =
      Parse(R"({"endpoint": "node-2", "delay": "20ms", "loss": 0.05, "rate": "1gbit"})");
  EXPECT_TRUE(imp.target.IsEndpoint());
  EXPECT_EQ(imp.delay->time_ns, 20'000'000);
  EXPECT_DOUBLE_EQ(imp.loss->probability, 0.05);
  EXPECT_EQ(imp.rate->bits_per_s, 1'000'000'000);
  EXPECT_EQ(Impairment::FromJson(imp.ToJson()).value(), imp);
}

TEST(ImpairmentTest, ProxyFaults) {
  Impairment imp = Parse(R"({"from": "client", "to": "node-1", "blackhole": true,
      "slicer": {"size": 100, "variation": 20, "delay": "1ms"}})");
  EXPECT_TRUE(imp.blackhole);
  EXPECT_TRUE(imp.NeedsProxy());
  EXPECT_EQ(imp.slicer->variation_bytes, 20);
  EXPECT_EQ(Impairment::FromJson(imp.ToJson()).value(), imp);
  EXPECT_NE(ParseError(R"({"endpoint": "a", "reset": true, "blackhole": true})").find("exclude"),
            std::string::npos);
  EXPECT_NE(ParseError(R"({"endpoint": "a", "slicer": {"size": 10, "variation": 10}})")
                .find("slicer.variation"),
            std::string::npos);
  EXPECT_FALSE(Parse(R"({"endpoint": "a", "delay": "1ms"})").NeedsProxy());
}

TEST(ImpairmentTest, ErrorsNameTheField) {
  EXPECT_NE(ParseError(R"({"endpoint": "a", "delya": "1ms"})").find("delya: unknown field"),
            std::string::npos);
  EXPECT_NE(ParseError(R"({"endpoint": "a", "loss": 1.5})").find("loss: must be between"),
            std::string::npos);
  EXPECT_NE(ParseError(R"({"endpoint": "a", "delay": {"time": "5"}})").find("delay.time:"),
            std::string::npos);
  EXPECT_NE(ParseError(R"({"endpoint": "a", "reorder": 0.1})").find("reorder: needs a delay"),
            std::string::npos);
  EXPECT_NE(ParseError(R"({"endpoint": "a", "loss": {"p": 0.1}})")
                .find("loss.p: belongs to model gilbert-elliott"),
            std::string::npos);
  EXPECT_NE(ParseError(R"({"from": "a", "delay": "1ms"})").find("to:"), std::string::npos);
  EXPECT_NE(ParseError(R"({"endpoint": "a"})").find("names nothing"), std::string::npos);
  EXPECT_NE(ParseError(R"({"endpoint": "a", "rate": "fast"})").find("rate.bandwidth:"),
            std::string::npos);
  EXPECT_NE(ParseError(R"({"endpoint": "a", "delay": {"time": "1ms", "distribution": "cauchy"}})")
                .find("delay.distribution"),
            std::string::npos);
}

TEST(ImpairmentTest, Bandwidths) {
  EXPECT_EQ(ParseBandwidth("512kbit").value(), 512'000);
  EXPECT_EQ(ParseBandwidth("2.5Mbit").value(), 2'500'000);
  EXPECT_EQ(ParseBandwidth("1mbps").value(), 8'000'000);
  EXPECT_FALSE(ParseBandwidth("10").ok());
  EXPECT_FALSE(ParseBandwidth("0mbit").ok());
  EXPECT_EQ(FormatBandwidth(2'500'000), "2500kbit");
}

TEST(ImpairmentModelTest, SameSeedSameDropPatternOtherSeedDiffers) {
  Impairment imp = Parse(R"({"endpoint": "a", "loss": 0.1, "seed": 42})");
  auto pattern = [](const Impairment& i, uint64_t seed) {
    ImpairmentModel m(i, seed);
    std::vector<bool> drops;
    for (int k = 0; k < 1000; ++k) drops.push_back(m.Decide(k, 100).drop);
    return drops;
  };
  EXPECT_EQ(pattern(imp, 42), pattern(imp, 42));
  EXPECT_NE(pattern(imp, 42), pattern(imp, 43));
  // The loss stream is its own: adding a delay and duplication leaves the drops where they were.
  Impairment more = imp;
  more.delay = DelaySpec{.time_ns = 5'000'000, .jitter_ns = 1'000'000};
  more.duplicate = ChanceSpec{.probability = 0.3};
  EXPECT_EQ(pattern(more, 42), pattern(imp, 42));
}

TEST(ImpairmentModelTest, RandomLossRateOver100kPackets) {
  for (double p : {0.01, 0.05, 0.3}) {
    Impairment imp;
    imp.target.from = "a";
    imp.loss = LossSpec{.probability = p};
    ImpairmentModel model(imp, 1234);
    int lost = 0;
    for (int i = 0; i < 100'000; ++i) lost += model.Decide(i, 100).drop ? 1 : 0;
    EXPECT_NEAR(lost / 100'000.0, p, 0.005) << p;
  }
}

TEST(ImpairmentModelTest, GilbertElliottBurstLengthsAndRate) {
  Impairment imp = Parse(R"({"endpoint": "a",
      "loss": {"model": "gilbert-elliott", "p": 0.01, "r": 0.25, "bad_loss": 1, "good_loss": 0}})");
  ImpairmentModel model(imp, 99);
  int lost = 0, bursts = 0, run = 0;
  for (int i = 0; i < 200'000; ++i) {
    if (model.Decide(i, 100).drop) {
      ++lost;
      ++run;
    } else if (run > 0) {
      ++bursts;
      run = 0;
    }
  }
  // Stationary bad-state share p / (p + r); bursts last 1 / r packets on average.
  EXPECT_NEAR(lost / 200'000.0, 0.01 / 0.26, 0.004);
  EXPECT_NEAR(static_cast<double>(lost) / bursts, 4.0, 0.3);
  // Random loss at the same rate has bursts of about 1 / (1 - rate) packets: GE is visibly
  // burstier.
  EXPECT_GT(static_cast<double>(lost) / bursts, 2.0);
}

TEST(ImpairmentModelTest, DelayDistributionMoments) {
  const double t = 50e6, j = 5e6;
  auto with = [&](const char* dist) {
    Impairment imp;
    imp.target.from = "a";
    imp.delay = DelaySpec{.time_ns = static_cast<int64_t>(t), .jitter_ns = static_cast<int64_t>(j)};
    if (std::string(dist) == "normal") imp.delay->distribution = DelayDistribution::kNormal;
    if (std::string(dist) == "pareto") imp.delay->distribution = DelayDistribution::kPareto;
    return Measure(Delays(imp, 100'000));
  };
  Moments u = with("uniform");
  EXPECT_NEAR(u.mean, t, 0.01 * j);
  EXPECT_NEAR(u.sd, j / std::sqrt(3.0), 0.02 * j);
  EXPECT_NEAR(u.skew, 0, 0.05);
  Moments n = with("normal");
  EXPECT_NEAR(n.mean, t, 0.02 * j);
  EXPECT_NEAR(n.sd, j, 0.02 * j);
  EXPECT_NEAR(n.skew, 0, 0.05);
  Moments p = with("pareto");
  EXPECT_NEAR(p.mean, t, 0.03 * j);
  // Shape 3 has an infinite third moment; its sample sd converges slowly, its skew is large.
  EXPECT_NEAR(p.sd, j, 0.15 * j);
  EXPECT_GT(p.skew, 2.0);
}

TEST(ImpairmentModelTest, CorrelationTiesSuccessiveDelays) {
  Impairment imp = Parse(
      R"({"endpoint": "a", "delay": {"time": "10ms", "jitter": "2ms", "correlation": 0.75}})");
  std::vector<double> d = Delays(imp, 50'000);
  Moments m = Measure(d);
  double lag1 = 0;
  for (size_t i = 1; i < d.size(); ++i) lag1 += (d[i] - m.mean) * (d[i - 1] - m.mean);
  lag1 /= static_cast<double>(d.size() - 1) * m.sd * m.sd;
  EXPECT_NEAR(lag1, 0.75, 0.05);
  Impairment plain = Parse(R"({"endpoint": "a", "delay": {"time": "10ms", "jitter": "2ms"}})");
  std::vector<double> e = Delays(plain, 50'000);
  Moments me = Measure(e);
  double lag1e = 0;
  for (size_t i = 1; i < e.size(); ++i) lag1e += (e[i] - me.mean) * (e[i - 1] - me.mean);
  lag1e /= static_cast<double>(e.size() - 1) * me.sd * me.sd;
  EXPECT_NEAR(lag1e, 0, 0.02);
}

TEST(ImpairmentModelTest, ReorderGapSendsEveryGapthPacketAhead) {
  Impairment imp =
      Parse(R"({"endpoint": "a", "delay": "10ms", "reorder": {"probability": 1, "gap": 5}})");
  ImpairmentModel model(imp);
  for (int i = 0; i < 100; ++i) {
    PacketVerdict v = model.Decide(i, 100);
    const bool expect_ahead = i % 5 == 4;
    EXPECT_EQ(v.reordered, expect_ahead) << i;
    EXPECT_EQ(v.delay_ns, expect_ahead ? 0 : 10'000'000) << i;
  }
  Impairment some = Parse(R"({"endpoint": "a", "delay": "10ms", "reorder": 0.25})");
  ImpairmentModel m2(some, 5);
  int ahead = 0;
  for (int i = 0; i < 100'000; ++i) ahead += m2.Decide(i, 100).reordered ? 1 : 0;
  EXPECT_NEAR(ahead / 100'000.0, 0.25, 0.005);
}

TEST(ImpairmentModelTest, DuplicateAndCorrupt) {
  Impairment imp = Parse(R"({"endpoint": "a", "duplicate": "2%", "corrupt": "3%"})");
  ImpairmentModel model(imp, 8);
  int dup = 0, bad = 0;
  for (int i = 0; i < 100'000; ++i) {
    PacketVerdict v = model.Decide(i, 60);
    dup += v.copies == 2 ? 1 : 0;
    if (v.corrupt) {
      ++bad;
      EXPECT_LT(v.corrupt_offset, 60u);
      EXPECT_NE(v.corrupt_mask, 0);
    }
  }
  EXPECT_NEAR(dup / 100'000.0, 0.02, 0.002);
  EXPECT_NEAR(bad / 100'000.0, 0.03, 0.002);
}

TEST(ImpairmentModelTest, RateShapesToTheBandwidth) {
  // 1000-byte packets offered at 16 Mbit/s into an 8 Mbit/s bucket for one (virtual) second.
  Impairment imp = Parse(R"({"endpoint": "a", "rate": {"bandwidth": "8mbit", "limit": "20ms"}})");
  ImpairmentModel model(imp);
  int64_t last = 0, bytes = 0, dropped = 0, max_wait = 0;
  const int64_t gap_ns = 500'000;
  for (int i = 0; i < 2000; ++i) {
    const int64_t now = i * gap_ns;
    PacketVerdict v = model.Decide(now, 1000);
    if (v.drop) {
      ++dropped;
      continue;
    }
    EXPECT_GE(now + v.delay_ns, last) << "the bucket is FIFO";
    last = now + v.delay_ns;
    bytes += 1000;
    max_wait = std::max(max_wait, v.delay_ns);
  }
  const double bits_per_s = static_cast<double>(bytes) * 8 / (static_cast<double>(last) / 1e9);
  EXPECT_NEAR(bits_per_s, 8e6, 0.02 * 8e6);
  EXPECT_GT(dropped, 900);
  EXPECT_LE(max_wait, 20'000'000);
}

TEST(ImpairmentModelTest, UpdateKeepsTheStreamsRunning) {
  Impairment a = Parse(R"({"endpoint": "a", "loss": 0.2})");
  ImpairmentModel m1(a, 3), m2(a, 3);
  for (int i = 0; i < 500; ++i) ASSERT_EQ(m1.Decide(i, 10).drop, m2.Decide(i, 10).drop);
  Impairment b = Parse(R"({"endpoint": "a", "loss": 0.2, "delay": "1ms"})");
  m2.Update(b);
  for (int i = 500; i < 1000; ++i) {
    PacketVerdict v1 = m1.Decide(i, 10), v2 = m2.Decide(i, 10);
    ASSERT_EQ(v1.drop, v2.drop) << i;
    if (!v2.drop) {
      ASSERT_EQ(v2.delay_ns, 1000000);
    }
  }
}

}  // namespace
}  // namespace drone::faults::network
