#include "metrics/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/testutil.h"

namespace drone::metrics {
namespace {

constexpr int64_t kUs = 1000;
constexpr int64_t kMs = 1000 * kUs;
constexpr int64_t kSec = 1000 * kMs;
constexpr double kRelativePrecision = 0.001;  // 3 significant digits

const std::vector<double>& TestPercentiles() {
  static const std::vector<double> kPercentiles = {0,  1,  10, 25,   50,    75,
                                                   90, 95, 99, 99.9, 99.99, 100};
  return kPercentiles;
}

// Nearest-rank percentile of a sorted vector: the ceil(p% * n)-th smallest value.
int64_t ExactPercentile(const std::vector<int64_t>& sorted, double p) {
  const double r = p * static_cast<double>(sorted.size()) / 100.0;
  auto rank = static_cast<size_t>(std::ceil(r - 1e-9));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

double RelativeError(int64_t actual, int64_t expected) {
  return std::abs(static_cast<double>(actual - expected)) / static_cast<double>(expected);
}

std::vector<int64_t> UniformValues(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> dist(kUs, kSec);
  std::vector<int64_t> values(n);
  for (auto& v : values) v = dist(rng);
  return values;
}

// Log-normal around 1 ms, clamped to 1 us .. 1 s: spans all six decades.
std::vector<int64_t> LogNormalValues(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(std::log(1e6), 2.0);
  std::vector<int64_t> values(n);
  for (auto& v : values) v = std::clamp(static_cast<int64_t>(dist(rng)), kUs, kSec);
  return values;
}

Histogram Record(const std::vector<int64_t>& values) {
  Histogram h;
  for (int64_t v : values) h.Record(v);
  return h;
}

void ExpectPercentilesWithinPrecision(const std::vector<int64_t>& values) {
  const Histogram h = Record(values);
  std::vector<int64_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (double p : TestPercentiles()) {
    const int64_t expected = ExactPercentile(sorted, p);
    const int64_t actual = h.ValueAtPercentile(p);
    EXPECT_LE(RelativeError(actual, expected), kRelativePrecision)
        << "p" << p << ": histogram " << actual << " exact " << expected;
    // Reported values are the bucket's highest equivalent: never below the exact value.
    EXPECT_GE(actual, expected) << "p" << p;
  }
}

TEST(HistogramTest, DefaultConfigurationFitsInAFewHundredKilobytes) {
  const Histogram h;
  EXPECT_EQ(h.lowest(), kUs);
  EXPECT_EQ(h.highest(), 3600 * kSec);
  EXPECT_EQ(h.significant_digits(), 3);
  EXPECT_LE(h.MemoryBytes(), 300u * 1024);
  EXPECT_GE(h.MemoryBytes(), 32u * 1024 * 8);  // the accuracy needs 1024 counters per octave
}

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  const Histogram h;
  EXPECT_EQ(h.TotalCount(), 0u);
  EXPECT_EQ(h.Min(), 0);
  EXPECT_EQ(h.Max(), 0);
  EXPECT_EQ(h.Mean(), 0.0);
  for (double p : TestPercentiles()) EXPECT_EQ(h.ValueAtPercentile(p), 0) << p;
}

TEST(HistogramTest, PercentilesOfUniformValuesWithinPrecision) {
  ExpectPercentilesWithinPrecision(UniformValues(100'000, 1));
}

TEST(HistogramTest, PercentilesOfLogNormalValuesWithinPrecision) {
  ExpectPercentilesWithinPrecision(LogNormalValues(100'000, 2));
}

TEST(HistogramTest, MinMaxMeanAndCount) {
  const std::vector<int64_t> values = LogNormalValues(100'000, 3);
  const Histogram h = Record(values);
  EXPECT_EQ(h.TotalCount(), values.size());
  EXPECT_EQ(h.Min(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(h.Max(), *std::max_element(values.begin(), values.end()));
  double sum = 0;
  for (int64_t v : values) sum += static_cast<double>(v);
  const double mean = sum / static_cast<double>(values.size());
  EXPECT_NEAR(h.Mean(), mean, mean * kRelativePrecision / 2);
  EXPECT_EQ(h.ValueAtPercentile(0), h.Min());
  EXPECT_EQ(h.ValueAtPercentile(100), h.Max());
}

TEST(HistogramTest, SingleValueIsReportedExactly) {
  Histogram h;
  h.Record(1'234'567);
  EXPECT_EQ(h.ValueAtPercentile(50), 1'234'567);  // capped at Max()
  EXPECT_EQ(h.Mean(), 1'234'567.0);               // midpoint clamped to [Min, Max]
}

TEST(HistogramTest, RecordNCountsMany) {
  Histogram a;
  Histogram b;
  a.RecordN(5 * kMs, 7);
  a.RecordN(9 * kMs, 0);  // no-op: must not move max
  for (int i = 0; i < 7; ++i) b.Record(5 * kMs);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.TotalCount(), 7u);
  EXPECT_EQ(a.Max(), 5 * kMs);
}

TEST(HistogramTest, ValuesBelowLowestLandInFirstBucket) {
  Histogram h;
  h.Record(1);
  h.Record(0);
  h.Record(-5);  // a clock step backwards: recorded as 0
  h.Record(999);
  EXPECT_EQ(h.TotalCount(), 4u);
  EXPECT_EQ(h.Min(), 0);
  EXPECT_EQ(h.Max(), 999);
  EXPECT_LE(h.ValueAtPercentile(50), h.lowest());
  EXPECT_EQ(h.ValueAtPercentile(100), 999);

  // A coarser first bucket: lowest 1 ms keeps 512 ns resolution below it.
  Histogram coarse(kMs, kSec, 3);
  coarse.Record(100);
  coarse.Record(kSec / 2);
  EXPECT_EQ(coarse.Min(), 100);
  EXPECT_LE(coarse.ValueAtPercentile(50), 511);
}

TEST(HistogramTest, ValuesAboveHighestAreClampedAndCounted) {
  Histogram h(kUs, kSec, 3);
  h.Record(5 * kSec);
  h.Record(INT64_MAX);
  h.Record(kMs);
  EXPECT_EQ(h.TotalCount(), 3u);
  EXPECT_EQ(h.Max(), kSec);
  EXPECT_EQ(h.ValueAtPercentile(100), kSec);
  EXPECT_EQ(h.ValueAtPercentile(90), kSec);
  EXPECT_LE(RelativeError(h.ValueAtPercentile(10), kMs), kRelativePrecision);
}

TEST(HistogramTest, PrecisionHoldsForEveryConfiguration) {
  std::mt19937_64 rng(4);
  for (int digits = 1; digits <= 5; ++digits) {
    for (int64_t lowest : {int64_t{1}, kUs, 12'345 * kUs, kSec}) {
      // Six octaves cover the linear first bucket and several log buckets; every octave above
      // has the same layout. A wider range would only make Reset() slower.
      const int64_t highest = lowest * 64;
      Histogram h(lowest, highest, digits);
      const double precision = std::pow(10.0, -digits);
      // Log-uniform over [lowest, highest].
      std::uniform_real_distribution<double> exponent(std::log(static_cast<double>(lowest)),
                                                      std::log(static_cast<double>(highest)));
      // Reset() touches every counter: sample less where there are megabytes of them.
      const int samples = h.MemoryBytes() > 1'000'000 ? 20 : 200;
      for (int i = 0; i < samples; ++i) {
        const auto v = static_cast<int64_t>(std::exp(exponent(rng)));
        if (v < lowest || v >= highest) continue;
        h.Reset();
        h.Record(v);
        h.Record(highest);  // so that the reported value is not capped by Max()
        const int64_t reported = h.ValueAtPercentile(50);
        ASSERT_GE(reported, v);
        ASSERT_LE(RelativeError(reported, v), precision)
            << "digits " << digits << " lowest " << lowest << " value " << v;
      }
    }
  }
}

TEST(HistogramTest, CheckConfigRejectsBadConfigurations) {
  EXPECT_OK(Histogram::CheckConfig(kUs, 3600 * kSec, 3));
  EXPECT_FALSE(Histogram::CheckConfig(0, kSec, 3).ok());
  EXPECT_FALSE(Histogram::CheckConfig(kSec, kSec, 3).ok());
  EXPECT_FALSE(Histogram::CheckConfig(kUs, INT64_MAX, 3).ok());
  EXPECT_FALSE(Histogram::CheckConfig(kUs, kSec, 0).ok());
  EXPECT_FALSE(Histogram::CheckConfig(kUs, kSec, 6).ok());
}

TEST(HistogramTest, MergeEqualsRecordingBoth) {
  const std::vector<int64_t> a_values = UniformValues(50'000, 5);
  const std::vector<int64_t> b_values = LogNormalValues(50'000, 6);
  Histogram a = Record(a_values);
  const Histogram b = Record(b_values);
  Histogram both;
  for (int64_t v : a_values) both.Record(v);
  for (int64_t v : b_values) both.Record(v);
  EXPECT_NE(a, both);
  a.Merge(b);
  EXPECT_EQ(a, both);
  EXPECT_EQ(a.TotalCount(), 100'000u);

  Histogram empty;
  a.Merge(empty);
  EXPECT_EQ(a, both);
  empty.Merge(b);
  EXPECT_EQ(empty, b);
}

// What a distributed workload does: values recorded on several processes, each histogram
// serialised, decoded and merged on the coordinator, must equal one histogram fed everything.
TEST(HistogramTest, MergeOfSerializedRandomSplitsEqualsOneFedEverything) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    const int parts = 1 + static_cast<int>(rng() % 5);
    std::vector<Histogram> split(static_cast<size_t>(parts));
    Histogram all;
    std::lognormal_distribution<double> latency(13.0, 2.0);
    const int n = static_cast<int>(rng() % 5000);
    for (int i = 0; i < n; ++i) {
      const auto v = static_cast<int64_t>(latency(rng)) - (rng() % 100 == 0 ? 1'000'000 : 0);
      all.Record(v);
      split[rng() % split.size()].Record(v);
    }
    Histogram merged;
    for (const Histogram& h : split) {
      Result<Histogram> decoded = Histogram::Deserialize(h.Serialize());
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      merged.Merge(*decoded);
    }
    ASSERT_EQ(merged, all) << "round " << round;
    EXPECT_EQ(merged.ValueAtPercentile(99), all.ValueAtPercentile(99));
    EXPECT_EQ(merged.Serialize(), all.Serialize());
  }
}

TEST(HistogramTest, SubtractTurnsCumulativeIntoInterval) {
  const std::vector<int64_t> first = LogNormalValues(20'000, 7);
  const std::vector<int64_t> second = UniformValues(30'000, 8);
  Histogram cumulative;
  for (int64_t v : first) cumulative.Record(v);
  const Histogram earlier = cumulative.Snapshot();
  for (int64_t v : second) cumulative.Record(v);

  Histogram interval = cumulative.Snapshot();
  interval.Subtract(earlier);
  const Histogram expected = Record(second);
  EXPECT_EQ(interval.TotalCount(), expected.TotalCount());
  // Min/max are approximated by the extreme buckets: same bucket, bounding the exact values.
  EXPECT_LE(interval.Min(), expected.Min());
  EXPECT_LE(RelativeError(interval.Min(), expected.Min()), kRelativePrecision);
  EXPECT_GE(interval.Max(), expected.Max());
  EXPECT_LE(RelativeError(interval.Max(), expected.Max()), kRelativePrecision);
  for (double p : TestPercentiles()) {
    EXPECT_LE(RelativeError(interval.ValueAtPercentile(p), expected.ValueAtPercentile(p)),
              kRelativePrecision)
        << p;
  }
  // The counters themselves match exactly: below the top bucket (where Max() caps the reported
  // value) every percentile agrees, and merging the earlier part back restores the cumulative.
  Histogram restored = interval;
  restored.Merge(earlier);
  EXPECT_EQ(restored.TotalCount(), cumulative.TotalCount());
  for (int p = 1; p <= 99; ++p) {
    EXPECT_EQ(interval.ValueAtPercentile(p), expected.ValueAtPercentile(p)) << p;
    EXPECT_EQ(restored.ValueAtPercentile(p), cumulative.ValueAtPercentile(p)) << p;
  }

  Histogram nothing = cumulative.Snapshot();
  nothing.Subtract(cumulative);
  EXPECT_EQ(nothing, Histogram());
}

TEST(HistogramTest, SubtractKeepsExactExtremesWhenTheyAreInTheInterval) {
  Histogram cumulative;
  cumulative.Record(5 * kMs);
  const Histogram earlier = cumulative.Snapshot();
  cumulative.Record(kMs);
  cumulative.Record(9 * kMs);
  Histogram interval = cumulative;
  interval.Subtract(earlier);
  EXPECT_EQ(interval.TotalCount(), 2u);
  EXPECT_EQ(interval.Min(), kMs);
  EXPECT_EQ(interval.Max(), 9 * kMs);
}

TEST(HistogramTest, SerializeRoundTrips) {
  const Histogram h = Record(LogNormalValues(100'000, 9));
  const std::string bytes = h.Serialize();
  // ~2 bytes per non-empty counter: far below the counters' 261 KiB.
  EXPECT_LT(bytes.size(), 40'000u);
  Result<Histogram> back = Histogram::Deserialize(bytes);
  ASSERT_OK(back.status());
  EXPECT_EQ(*back, h);
  EXPECT_EQ(back->Serialize(), bytes);

  Result<Histogram> empty = Histogram::Deserialize(Histogram().Serialize());
  ASSERT_OK(empty.status());
  EXPECT_EQ(*empty, Histogram());

  Histogram custom(10, 10'000'000, 2);
  custom.Record(3);
  custom.Record(77'777);
  Result<Histogram> custom_back = Histogram::Deserialize(custom.Serialize());
  ASSERT_OK(custom_back.status());
  EXPECT_EQ(*custom_back, custom);
  EXPECT_NE(*custom_back, Histogram());
}

TEST(HistogramTest, MergeOfDeserializedEqualsMergeOfOriginals) {
  Histogram a = Record(UniformValues(10'000, 10));
  const Histogram b = Record(LogNormalValues(10'000, 11));
  Result<Histogram> a2 = Histogram::Deserialize(a.Serialize());
  Result<Histogram> b2 = Histogram::Deserialize(b.Serialize());
  ASSERT_OK(a2.status());
  ASSERT_OK(b2.status());
  a2->Merge(*b2);
  a.Merge(b);
  EXPECT_EQ(*a2, a);
}

TEST(HistogramTest, DeserializeRejectsEveryTruncation) {
  const std::string bytes = Record(LogNormalValues(1000, 12)).Serialize();
  for (size_t len = 0; len < bytes.size(); ++len) {
    const Result<Histogram> h = Histogram::Deserialize(std::string_view(bytes).substr(0, len));
    ASSERT_FALSE(h.ok()) << "accepted a prefix of length " << len << " of " << bytes.size();
    EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  }
  const std::string empty = Histogram().Serialize();
  for (size_t len = 0; len < empty.size(); ++len) {
    EXPECT_FALSE(Histogram::Deserialize(std::string_view(empty).substr(0, len)).ok()) << len;
  }
  EXPECT_FALSE(Histogram::Deserialize(bytes + '\0').ok());
}

// Hand-made input whose only flaw is a bucket index one past the last counter (run this under
// DRONE_SANITIZE=address to catch an out-of-bounds write).
TEST(HistogramTest, DeserializeRejectsBucketIndexPastTheEnd) {
  // lowest 1, highest 2, 1 digit: counters for 0, 1 and 2 only.
  auto make = [](char gap) {
    return std::string("DHG1") + std::string{1,
                                             2,
                                             1,
                                             /*total*/ 1,
                                             /*min*/ 2,
                                             /*max*/ 2,
                                             /*entries*/ 1,
                                             gap,
                                             /*count*/ 1};
  };
  ASSERT_OK(Histogram::Deserialize(make(2)).status());
  EXPECT_EQ(Histogram::Deserialize(make(3)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Histogram::Deserialize(make(127)).status().code(), StatusCode::kInvalidArgument);
}

TEST(HistogramTest, DeserializeRejectsGarbage) {
  std::mt19937_64 rng(13);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> length(0, 300);
  for (int i = 0; i < 20'000; ++i) {
    std::string garbage(length(rng), '\0');
    for (char& c : garbage) c = static_cast<char>(byte(rng));
    if (i % 2 == 1) garbage = "DHG1" + garbage;  // get past the magic
    const Result<Histogram> h = Histogram::Deserialize(garbage);
    ASSERT_FALSE(h.ok()) << "accepted garbage #" << i;
    EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(HistogramTest, DeserializeOfCorruptedBytesNeverBreaksInvariants) {
  // Two digits keep each decoded histogram small: this test decodes thousands.
  Histogram original(kUs, kSec, 2);
  for (int64_t v : UniformValues(500, 14)) original.Record(v);
  const std::string bytes = original.Serialize();
  std::mt19937_64 rng(15);
  std::uniform_int_distribution<size_t> position(0, bytes.size() - 1);
  std::uniform_int_distribution<int> bit(0, 7);
  int rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string corrupted = bytes;
    corrupted[position(rng)] ^= static_cast<char>(1 << bit(rng));
    const Result<Histogram> h = Histogram::Deserialize(corrupted);
    if (!h.ok()) {
      ++rejected;
      continue;
    }
    // Whatever is accepted is a valid histogram that round-trips.
    EXPECT_LE(h->Min(), h->Max());
    EXPECT_LE(h->Max(), h->highest());
    Result<Histogram> again = Histogram::Deserialize(h->Serialize());
    ASSERT_OK(again.status());
    EXPECT_EQ(*again, h.value());
  }
  EXPECT_GT(rejected, 1000);  // most flips break the sum, an index or a varint
}

TEST(HistogramTest, CopyIsASnapshotAndMoveTransfers) {
  Histogram h = Record(UniformValues(1000, 16));
  const Histogram copy = h;
  EXPECT_EQ(copy, h);
  Histogram assigned;
  assigned = h;
  EXPECT_EQ(assigned, h);
  h.Record(kMs);
  EXPECT_NE(copy, h);  // independent counters

  Histogram moved = std::move(h);
  EXPECT_EQ(moved.TotalCount(), 1001u);
  Histogram move_assigned;
  move_assigned = std::move(moved);
  EXPECT_EQ(move_assigned.TotalCount(), 1001u);
  moved = copy;  // a moved-from histogram can be assigned to again
  EXPECT_EQ(moved, copy);
}

TEST(HistogramTest, ResetEmpties) {
  Histogram h = Record(UniformValues(1000, 17));
  h.Reset();
  EXPECT_EQ(h, Histogram());
  h.Record(3 * kMs);
  EXPECT_EQ(h.Min(), 3 * kMs);
  EXPECT_EQ(h.Max(), 3 * kMs);
}

TEST(HistogramTest, ConcurrentSnapshotsAreMonotonicAndFinalCountExact) {
  constexpr size_t kValues = 1'000'000;
  const std::vector<int64_t> values = LogNormalValues(kValues, 18);
  Histogram h;
  std::atomic<bool> reader_started{false};
  std::atomic<bool> writer_done{false};
  uint64_t snapshots = 0;
  uint64_t partial_snapshots = 0;
  uint64_t decreases = 0;
  uint64_t inconsistent = 0;

  std::thread reader([&] {
    reader_started.store(true, std::memory_order_release);
    uint64_t previous = 0;
    bool last_round = false;
    while (!last_round) {
      last_round = writer_done.load(std::memory_order_acquire);
      const Histogram s = h.Snapshot();
      const uint64_t count = s.TotalCount();
      if (count < previous) ++decreases;
      if (count > 0 && count < kValues) ++partial_snapshots;
      if (count > 0 && (s.Min() > s.Max() || s.ValueAtPercentile(50) > s.Max() ||
                        s.ValueAtPercentile(50) < s.Min())) {
        ++inconsistent;
      }
      previous = count;
      ++snapshots;
    }
    // Taken after the writer finished: must see everything.
    EXPECT_EQ(previous, kValues);
  });

  while (!reader_started.load(std::memory_order_acquire)) std::this_thread::yield();
  for (int64_t v : values) h.Record(v);
  writer_done.store(true, std::memory_order_release);
  reader.join();

  EXPECT_EQ(decreases, 0u);
  EXPECT_EQ(inconsistent, 0u);
  EXPECT_GE(snapshots, 1u);
  EXPECT_EQ(h.TotalCount(), kValues);
  EXPECT_EQ(h, Record(values));
  EXPECT_EQ(h.Snapshot(), h);
  // Not asserted (scheduling decides), but shows the test exercised concurrency.
  RecordProperty("snapshots", static_cast<int>(snapshots));
  RecordProperty("partial_snapshots", static_cast<int>(partial_snapshots));
}

TEST(HistogramTest, SummarizeConvertsToMilliseconds) {
  Histogram h;
  for (int i = 1; i <= 1000; ++i) h.Record(i * kMs);
  const LatencySummary s = Summarize(h);
  EXPECT_EQ(s.count, 1000u);
  EXPECT_NEAR(s.p50_ms, 500, 500 * kRelativePrecision);
  EXPECT_NEAR(s.p90_ms, 900, 900 * kRelativePrecision);
  EXPECT_NEAR(s.p99_ms, 990, 990 * kRelativePrecision);
  EXPECT_NEAR(s.p999_ms, 999, 999 * kRelativePrecision);
  EXPECT_DOUBLE_EQ(s.max_ms, 1000);
  EXPECT_NEAR(s.mean_ms, 500.5, 500.5 * kRelativePrecision / 2);
  EXPECT_EQ(Summarize(Histogram()).count, 0u);
}

TEST(HistogramTest, CumulativeCountsAreCumulativeAndWithinPrecision) {
  Histogram h;
  // 1000 values: 1 ms, 2 ms, ..., 1000 ms.
  for (int64_t i = 1; i <= 1000; ++i) h.Record(i * 1'000'000);
  std::vector<uint64_t> c = h.CumulativeCounts({-5, 500'000, 10'000'000, 250'000'000, 999'000'000,
                                                Histogram::kDefaultHighest * 2});
  ASSERT_EQ(c.size(), 6u);
  EXPECT_EQ(c[0], 0u);
  EXPECT_EQ(c[1], 0u);
  EXPECT_EQ(c[2], 10u);
  EXPECT_EQ(c[3], 250u);
  // 999 ms and 1000 ms are 0.1% apart: the bucket of 999 ms may hold 1000 ms too.
  EXPECT_GE(c[4], 999u);
  EXPECT_LE(c[4], 1000u);
  EXPECT_EQ(c[5], 1000u);
}

TEST(HistogramTest, CumulativeCountsOfEmptyHistogramAreZero) {
  Histogram h;
  EXPECT_EQ(h.CumulativeCounts({1000, 1'000'000}), (std::vector<uint64_t>{0, 0}));
  EXPECT_TRUE(h.CumulativeCounts({}).empty());
}

}  // namespace
}  // namespace drone::metrics
