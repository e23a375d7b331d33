// Cost of the message envelope (workload/envelope.h) per message: EncodeEnvelope on the send path
// (header fields plus the XXH3 checksum over the whole message) and DecodeEnvelope on the receive
// path (parse plus checksum verification), for 100-byte and 1 KiB messages. The checksum makes the
// cost grow with the size; bytes_per_second shows the hashing rate.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "workload/envelope.h"

namespace drone::workload {
namespace {

std::string Filler(size_t size) {
  std::mt19937_64 rng(1);
  std::string message(size, '\0');
  for (size_t i = kEnvelopeSize; i < size; ++i) message[i] = static_cast<char>('a' + rng() % 26);
  return message;
}

void BM_EnvelopeEncode(benchmark::State& state) {
  std::string message = Filler(static_cast<size_t>(state.range(0)));
  Envelope e{42, 1, 3, 0, 1'700'000'000'000'000'000};
  for (auto _ : state) {
    ++e.seq;  // a new header every time, as on the send path
    e.intended_ns += 1000;
    EncodeEnvelope(e, message.data(), message.size());
    benchmark::DoNotOptimize(message.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EnvelopeEncode)->ArgName("size")->Arg(100)->Arg(1024);

void BM_EnvelopeDecode(benchmark::State& state) {
  std::string message = Filler(static_cast<size_t>(state.range(0)));
  EncodeEnvelope(Envelope{42, 1, 3, 7, 1'700'000'000'000'000'000}, message.data(), message.size());
  const std::string_view view(message);
  Envelope out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(view.data());
    DecodeResult r = DecodeEnvelope(view, &out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out);
  }
  if (DecodeEnvelope(view, &out) != DecodeResult::kOk) state.SkipWithError("decode failed");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EnvelopeDecode)->ArgName("size")->Arg(100)->Arg(1024);

}  // namespace
}  // namespace drone::workload

BENCHMARK_MAIN();
