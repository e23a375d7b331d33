// Drone's generator ceiling: a whole WorkloadRunner (1 producer, no consumers, rate unlimited,
// 100-byte messages) against the null driver (drivers/null/), which acks every message on the
// next poll and stores nothing. What is left is Drone's own cost per message: envelope encoding
// with its checksum, open-loop scheduling, the pending table, the delivery ledger, three
// histogram records, the per-second sampler — and, in the History variant, one JSON line per
// message into the --history log. Target (issue 2): >= 2 M msg/s of 100-byte messages on one
// core.
//
// Time is wall-clock (UseRealTime): the work runs on the runner's producer thread, not on the
// benchmark's. items_per_second covers the whole Run() (client creation, load, classification);
// load_msg_per_s covers the load phase alone, as `drone run` reports throughput.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "core/cancel.h"
#include "drivers/null/null_driver.h"
#include "workload/history.h"
#include "workload/workload.h"

namespace drone::workload {
namespace {

constexpr int kPartitions = 6;

WorkloadOptions GeneratorOptions(int64_t messages, int64_t size) {
  WorkloadOptions o;
  o.name = "load";
  o.topic = "bench";
  o.producers = 1;
  o.consumers = 0;
  o.rate = 0;  // as fast as the client accepts
  o.size.kind = SizeDistribution::Kind::kFixed;
  o.size.bytes = size;
  o.messages = messages;
  o.run_id = 42;
  return o;
}

// arg 0: messages per iteration; arg 1: message size in bytes; arg 2: 1 = write the history log
// (to /dev/null, so that formatting is measured, not the disk).
void BM_Generator(benchmark::State& state) {
  const int64_t messages = state.range(0);
  const int64_t size = state.range(1);
  const bool history = state.range(2) != 0;
  std::unique_ptr<drivers::Driver> driver = drivers::NewNullDriver(kPartitions);
  double load_ns = 0;
  uint64_t acked = 0;
  for (auto _ : state) {
    std::unique_ptr<HistoryWriter> writer;
    if (history) {
      Result<std::unique_ptr<HistoryWriter>> opened = HistoryWriter::Open("/dev/null");
      if (!opened.ok()) {
        state.SkipWithError(opened.status().ToString().c_str());
        break;
      }
      writer = std::move(opened).value();
    }
    WorkloadRunner runner(*driver, drivers::Endpoint{}, GeneratorOptions(messages, size),
                          /*observer=*/nullptr, writer.get());
    CancelToken cancel;
    Status status = runner.Run(cancel);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
    const WorkloadResult& r = runner.result();
    if (r.acked != static_cast<uint64_t>(messages)) {
      state.SkipWithError("the null driver did not ack every message");
      break;
    }
    acked += r.acked;
    // As `drone run` reports it: from the scheduled start to the last flush. With rate 0 the
    // producer starts at once, up to 10 ms before the scheduled start, so this slightly flatters
    // short runs; items_per_second is the conservative number.
    load_ns += static_cast<double>(r.load_end_ns - r.started_ns);
  }
  state.SetItemsProcessed(static_cast<int64_t>(acked));
  state.SetBytesProcessed(static_cast<int64_t>(acked) * size);
  if (load_ns > 0) state.counters["load_msg_per_s"] = static_cast<double>(acked) / (load_ns / 1e9);
}
BENCHMARK(BM_Generator)
    ->ArgNames({"messages", "size", "history"})
    ->Args({2'000'000, 100, 0})
    ->Args({2'000'000, 1024, 0})
    ->Args({500'000, 100, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace drone::workload

BENCHMARK_MAIN();
