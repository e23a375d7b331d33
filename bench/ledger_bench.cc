// Cost of the delivery ledger per message: recording a send outcome, recording a receive, and
// classifying after the run. Target: <= 50 ns per message update, <= 1 byte per message.
//
// Counters: ns_per_msg (time per message; shown as seconds with an SI prefix, e.g. "2.1n"),
// bytes_per_msg (SendShard / ReceiveShard memory divided by messages).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "verify/delivery_ledger.h"

namespace drone::verify {
namespace {

constexpr uint64_t kMessages = 1'000'000;

benchmark::Counter PerMessage(const benchmark::State& state) {
  return benchmark::Counter(
      static_cast<double>(kMessages) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// A fresh shard per iteration, so that chunk allocation is part of the cost, as in a real run.
void BM_SendShardRecord(benchmark::State& state) {
  size_t bytes = 0;
  for (auto _ : state) {
    SendShard shard;
    for (uint64_t seq = 0; seq < kMessages; ++seq) shard.Record(0, seq, SendOutcome::kAck);
    benchmark::DoNotOptimize(shard);
    bytes = shard.MemoryBytes();
  }
  state.counters["ns_per_msg"] = PerMessage(state);
  state.counters["bytes_per_msg"] = static_cast<double>(bytes) / kMessages;
}
BENCHMARK(BM_SendShardRecord)->Unit(benchmark::kMillisecond);

// In-order receives in one consumer session, the common case.
void BM_ReceiveShardRecord(benchmark::State& state) {
  size_t bytes = 0;
  for (auto _ : state) {
    ReceiveShard shard;
    for (uint64_t seq = 0; seq < kMessages; ++seq) shard.Record(0, seq, /*session=*/0);
    benchmark::DoNotOptimize(shard);
    bytes = shard.MemoryBytes();
  }
  state.counters["ns_per_msg"] = PerMessage(state);
  state.counters["bytes_per_msg"] = static_cast<double>(bytes) / kMessages;
}
BENCHMARK(BM_ReceiveShardRecord)->Unit(benchmark::kMillisecond);

// Receives interleaved over 12 domains (partitions), as one consumer of a busy topic sees them.
void BM_ReceiveShardRecordInterleaved(benchmark::State& state) {
  constexpr uint32_t kDomains = 12;
  for (auto _ : state) {
    ReceiveShard shard;
    for (uint64_t i = 0; i < kMessages; ++i) {
      shard.Record(static_cast<uint32_t>(i % kDomains), i / kDomains, /*session=*/0);
    }
    benchmark::DoNotOptimize(shard);
  }
  state.counters["ns_per_msg"] = PerMessage(state);
}
BENCHMARK(BM_ReceiveShardRecordInterleaved)->Unit(benchmark::kMillisecond);

// Classify over 1e6 messages in 4 domains, 2 producers and 2 consumers.
//   arg 0: clean run, every message acked and received once (the fast path);
//   arg 1: 1 message in 16 is not ok (nacked, indeterminate, lost or duplicated), so that
//          almost every 32-message word takes the slow path.
void BM_Classify(benchmark::State& state) {
  constexpr uint32_t kDomains = 4;
  const bool anomalies = state.range(0) != 0;
  SendShard sends[2];
  ReceiveShard receives[2];
  std::mt19937_64 random(1);
  for (uint32_t d = 0; d < kDomains; ++d) {
    for (uint64_t seq = 0; seq < kMessages / kDomains; ++seq) {
      uint64_t kind = anomalies && random() % 16 == 0 ? 1 + random() % 4 : 0;
      sends[d % 2].Record(d, seq,
                          kind == 1   ? SendOutcome::kNack
                          : kind == 2 ? SendOutcome::kIndeterminate
                                      : SendOutcome::kAck);
      if (kind == 3) continue;  // lost
      receives[d % 2].Record(d, seq, 0);
      if (kind == 4) receives[(d + 1) % 2].Record(d, seq, 1);  // duplicated
    }
  }
  std::vector<DomainInfo> domains;
  for (uint32_t d = 0; d < kDomains; ++d) domains.push_back({"p/t/" + std::to_string(d), true});
  for (auto _ : state) {
    DeliveryReport report = Classify({&sends[0], &sends[1]}, {&receives[0], &receives[1]}, domains);
    benchmark::DoNotOptimize(report);
  }
  state.counters["ns_per_msg"] = PerMessage(state);
}
BENCHMARK(BM_Classify)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace drone::verify

BENCHMARK_MAIN();
