// The message envelope: a 40-byte binary header at the start of every payload Drone produces, so
// that consumers can attribute each received message to its run, producer, ordering domain and
// sequence number, know when it was meant to be sent, and detect corruption.
//
// Layout (little-endian):
//   0  u16 magic 0x4452 ("DR")   2  u8 version (1)   3  u8 reserved (0)
//   4  u32 producer               8  u64 run id       16 u32 domain
//   20 u64 sequence              28 i64 intended send time (ns since epoch)
//   36 u32 checksum: low 32 bits of XXH3-64 of the payload after byte 40, seeded with the
//          XXH3-64 of bytes [0,36) — so header and payload are both covered.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace drone::workload {

inline constexpr size_t kEnvelopeSize = 40;
inline constexpr uint16_t kEnvelopeMagic = 0x4452;
inline constexpr uint8_t kEnvelopeVersion = 1;

struct Envelope {
  uint64_t run_id = 0;
  uint32_t producer = 0;
  uint32_t domain = 0;
  uint64_t seq = 0;
  int64_t intended_ns = 0;
};

enum class DecodeResult {
  kOk,
  kForeign,   // too short, wrong magic or version: not a Drone message
  kCorrupt,   // a Drone header whose checksum does not match: damaged in transit or at rest
};

// Writes the header into message[0, kEnvelopeSize) and the checksum over the whole message.
// `message.size()` must be >= kEnvelopeSize; bytes after the header are the caller's filler.
void EncodeEnvelope(const Envelope& envelope, char* message, size_t size);

// Decodes the header; on kCorrupt, `out` still holds the (untrustworthy) header fields.
DecodeResult DecodeEnvelope(std::string_view message, Envelope* out);

}  // namespace drone::workload
