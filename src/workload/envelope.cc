#include "workload/envelope.h"

#include <xxhash.h>

#include <cassert>
#include <cstring>

namespace drone::workload {
namespace {

constexpr size_t kChecksumOffset = 36;

template <typename T>
void Put(char* at, T value) {
  // x86-64 and aarch64 Linux are little-endian, the wire order of the envelope.
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  std::memcpy(at, &value, sizeof(T));
}

template <typename T>
T Get(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

uint32_t Checksum(const char* message, size_t size) {
  // The header's hash seeds the payload's, so both are covered without a streaming state.
  XXH64_hash_t header = XXH3_64bits(message, kChecksumOffset);
  return static_cast<uint32_t>(
      XXH3_64bits_withSeed(message + kEnvelopeSize, size - kEnvelopeSize, header));
}

}  // namespace

void EncodeEnvelope(const Envelope& e, char* message, size_t size) {
  assert(size >= kEnvelopeSize);  // spec validation guarantees size >= kEnvelopeSize
  Put<uint16_t>(message + 0, kEnvelopeMagic);
  Put<uint8_t>(message + 2, kEnvelopeVersion);
  Put<uint8_t>(message + 3, 0);
  Put<uint32_t>(message + 4, e.producer);
  Put<uint64_t>(message + 8, e.run_id);
  Put<uint32_t>(message + 16, e.domain);
  Put<uint64_t>(message + 20, e.seq);
  Put<int64_t>(message + 28, e.intended_ns);
  Put<uint32_t>(message + kChecksumOffset, Checksum(message, size));
}

DecodeResult DecodeEnvelope(std::string_view message, Envelope* out) {
  if (message.size() < kEnvelopeSize) return DecodeResult::kForeign;
  const char* m = message.data();
  if (Get<uint16_t>(m) != kEnvelopeMagic || Get<uint8_t>(m + 2) != kEnvelopeVersion) {
    return DecodeResult::kForeign;
  }
  out->producer = Get<uint32_t>(m + 4);
  out->run_id = Get<uint64_t>(m + 8);
  out->domain = Get<uint32_t>(m + 16);
  out->seq = Get<uint64_t>(m + 20);
  out->intended_ns = Get<int64_t>(m + 28);
  if (Get<uint32_t>(m + kChecksumOffset) != Checksum(m, message.size())) {
    return DecodeResult::kCorrupt;
  }
  return DecodeResult::kOk;
}

}  // namespace drone::workload
