// Micro-benchmarks of metrics::Histogram: the per-message Record() cost on the send/receive path
// (target <= 20 ns) and the per-interval costs of reading, merging and shipping a histogram.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "metrics/histogram.h"

namespace drone::metrics {
namespace {

// Log-normal latencies around 1 ms, 1 us .. 1 s: every decade's buckets get used, so the
// counters touched are spread as in a real run rather than one hot cache line.
std::vector<int64_t> LatencyValues(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(std::log(1e6), 2.0);
  std::vector<int64_t> values(n);
  for (auto& v : values) {
    v = static_cast<int64_t>(std::min(std::max(dist(rng), 1e3), 1e9));
  }
  return values;
}

Histogram Filled(size_t n, uint64_t seed) {
  Histogram h;
  for (int64_t v : LatencyValues(n, seed)) h.Record(v);
  return h;
}

void BM_HistogramRecord(benchmark::State& state) {
  constexpr size_t kValues = 1 << 16;  // power of two: the index wraps with a mask
  const std::vector<int64_t> values = LatencyValues(kValues, 1);
  Histogram h;
  size_t i = 0;
  for (auto _ : state) {
    h.Record(values[i++ & (kValues - 1)]);
  }
  benchmark::DoNotOptimize(h.TotalCount());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

void BM_HistogramValueAtPercentile(benchmark::State& state) {
  const Histogram h = Filled(1'000'000, 2);
  const double p = static_cast<double>(state.range(0)) / 10.0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.ValueAtPercentile(p));
  }
}
BENCHMARK(BM_HistogramValueAtPercentile)->Arg(500)->Arg(990)->Arg(999);

void BM_HistogramMerge(benchmark::State& state) {
  const Histogram other = Filled(100'000, 3);
  Histogram h = Filled(100'000, 4);
  for (auto _ : state) {
    h.Merge(other);
  }
  benchmark::DoNotOptimize(h.TotalCount());
}
BENCHMARK(BM_HistogramMerge);

void BM_HistogramSnapshot(benchmark::State& state) {
  const Histogram h = Filled(100'000, 5);
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.Snapshot());
  }
}
BENCHMARK(BM_HistogramSnapshot);

void BM_HistogramSerialize(benchmark::State& state) {
  const Histogram h = Filled(100'000, 6);
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string s = h.Serialize();
    bytes = s.size();
    benchmark::DoNotOptimize(s.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_HistogramSerialize);

void BM_HistogramDeserialize(benchmark::State& state) {
  const std::string s = Filled(100'000, 7).Serialize();
  for (auto _ : state) {
    Result<Histogram> h = Histogram::Deserialize(s);
    benchmark::DoNotOptimize(h.ok());
  }
}
BENCHMARK(BM_HistogramDeserialize);

}  // namespace
}  // namespace drone::metrics

BENCHMARK_MAIN();
