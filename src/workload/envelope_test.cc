#include "workload/envelope.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace drone::workload {
namespace {

std::string Encoded(const Envelope& e, size_t size) {
  std::string m(size, 'x');
  for (size_t i = kEnvelopeSize; i < size; ++i) m[i] = static_cast<char>('a' + i % 26);
  EncodeEnvelope(e, m.data(), m.size());
  return m;
}

TEST(EnvelopeTest, RoundTrip) {
  Envelope e{0x1122334455667788ULL, 7, 42, 123456789012ULL, 1'700'000'000'000'000'123};
  for (size_t size : {kEnvelopeSize, size_t{100}, size_t{4096}}) {
    std::string m = Encoded(e, size);
    Envelope d;
    ASSERT_EQ(DecodeEnvelope(m, &d), DecodeResult::kOk) << size;
    EXPECT_EQ(d.run_id, e.run_id);
    EXPECT_EQ(d.producer, e.producer);
    EXPECT_EQ(d.domain, e.domain);
    EXPECT_EQ(d.seq, e.seq);
    EXPECT_EQ(d.intended_ns, e.intended_ns);
  }
}

TEST(EnvelopeTest, EveryFlippedBitIsDetected) {
  Envelope e{99, 1, 2, 3, 4};
  const std::string original = Encoded(e, 128);
  for (size_t byte = 0; byte < original.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string m = original;
      m[byte] = static_cast<char>(m[byte] ^ (1 << bit));
      Envelope d;
      DecodeResult r = DecodeEnvelope(m, &d);
      // A flip in magic/version makes it foreign; anywhere else it is corrupt. Never kOk.
      ASSERT_NE(r, DecodeResult::kOk) << "byte " << byte << " bit " << bit;
      if (byte >= 3) {
        EXPECT_EQ(r, DecodeResult::kCorrupt) << "byte " << byte;
      }
    }
  }
}

TEST(EnvelopeTest, ForeignPayloadsAreNotOurs) {
  Envelope d;
  EXPECT_EQ(DecodeEnvelope("", &d), DecodeResult::kForeign);
  EXPECT_EQ(DecodeEnvelope("hello world", &d), DecodeResult::kForeign);
  std::string json = R"({"order": 1, "amount": 12.5, "currency": "EUR", "pad": "........"})";
  EXPECT_EQ(DecodeEnvelope(json, &d), DecodeResult::kForeign);
  std::mt19937 rng(7);
  int ok = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string m(64, '\0');
    for (char& c : m) c = static_cast<char>(rng());
    ok += DecodeEnvelope(m, &d) == DecodeResult::kOk;
  }
  EXPECT_EQ(ok, 0);
}

TEST(EnvelopeTest, TruncationIsCorruptOrForeign) {
  std::string m = Encoded(Envelope{1, 2, 3, 4, 5}, 200);
  Envelope d;
  for (size_t n = 0; n < m.size(); ++n) {
    EXPECT_NE(DecodeEnvelope(std::string_view(m).substr(0, n), &d), DecodeResult::kOk) << n;
  }
}

}  // namespace
}  // namespace drone::workload
