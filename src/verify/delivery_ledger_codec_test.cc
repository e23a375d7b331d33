// Merge() and the binary forms of the ledger shards: a workload split over processes must be
// classified exactly as if one process had recorded everything.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "verify/delivery_ledger.h"

namespace drone::verify {
namespace {

std::vector<DomainInfo> Domains(uint32_t n, std::mt19937_64& rng) {
  std::vector<DomainInfo> domains;
  for (uint32_t d = 0; d < n; ++d) {
    domains.push_back({"p" + std::to_string(d / 3 + 1) + "/t/" + std::to_string(d % 3), rng() % 4 != 0});
  }
  return domains;
}

template <typename Shard>
std::vector<const Shard*> Pointers(const std::vector<Shard>& shards) {
  std::vector<const Shard*> out;
  for (const Shard& s : shards) out.push_back(&s);
  return out;
}

// A random workload recorded into `k` send and `k` receive shards, as threads of several
// processes would: outcomes of one message may land in several shards (retries), receives of one
// message in several consumers, in several sessions, out of order, with duplicates beyond three
// copies, corrupt and foreign messages, and domains nobody sent to.
struct RandomLedger {
  std::vector<SendShard> sends;
  std::vector<ReceiveShard> receives;
  std::vector<DomainInfo> domains;

  RandomLedger(uint64_t seed, int k) : sends(k), receives(k) {
    std::mt19937_64 rng(seed);
    const uint32_t domain_count = 1 + static_cast<uint32_t>(rng() % 7);
    domains = Domains(domain_count, rng);
    for (uint32_t d = 0; d < domain_count + 1; ++d) {  // the last domain is unknown
      const uint64_t n = rng() % 300;
      for (uint64_t seq = 0; seq < n; ++seq) {
        if (d < domain_count && rng() % 10 != 0) {
          const int attempts = 1 + static_cast<int>(rng() % 2);
          for (int a = 0; a < attempts; ++a) {
            sends[rng() % k].Record(d, seq, static_cast<SendOutcome>(rng() % 4));
          }
        }
        const uint64_t copies = rng() % 10 < 7 ? 1 : rng() % 6;
        for (uint64_t c = 0; c < copies; ++c) {
          ReceiveShard& shard = receives[rng() % k];
          const uint64_t at = rng() % 20 == 0 && seq > 5 ? seq - 5 : seq;  // a late message
          shard.Record(d, at, static_cast<uint32_t>(rng() % 3));
        }
        if (rng() % 50 == 0) receives[rng() % k].RecordCorrupt(d, seq);
        if (rng() % 80 == 0) receives[rng() % k].RecordUnexpected();
      }
    }
  }
};

TEST(LedgerMergeTest, MergedShardsClassifyLikeTheOriginalsOverRandomSplits) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const int k = 1 + static_cast<int>(seed % 4);
    RandomLedger ledger(seed, k);
    const DeliveryReport direct =
        Classify(Pointers(ledger.sends), Pointers(ledger.receives), ledger.domains);

    SendShard send_merged;
    ReceiveShard receive_merged;
    for (const SendShard& s : ledger.sends) send_merged.Merge(s);
    for (const ReceiveShard& r : ledger.receives) receive_merged.Merge(r);
    const DeliveryReport merged = Classify({&send_merged}, {&receive_merged}, ledger.domains);
    ASSERT_EQ(merged.ToJson(), direct.ToJson()) << "seed " << seed;
    ASSERT_EQ(merged.sent, direct.sent) << "seed " << seed;

    // Through the wire: every shard serialised and decoded, then merged on the other side.
    std::vector<SendShard> sends_decoded;
    std::vector<ReceiveShard> receives_decoded;
    for (const SendShard& s : ledger.sends) {
      Result<SendShard> decoded = SendShard::Deserialize(s.Serialize());
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      sends_decoded.push_back(std::move(*decoded));
    }
    for (const ReceiveShard& r : ledger.receives) {
      Result<ReceiveShard> decoded = ReceiveShard::Deserialize(r.Serialize());
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      receives_decoded.push_back(std::move(*decoded));
    }
    const DeliveryReport decoded =
        Classify(Pointers(sends_decoded), Pointers(receives_decoded), ledger.domains);
    ASSERT_EQ(decoded.ToJson(), direct.ToJson()) << "seed " << seed;
  }
}

TEST(LedgerMergeTest, SerializeRoundTripsToTheSameBytes) {
  RandomLedger ledger(7, 2);
  for (const SendShard& s : ledger.sends) {
    const std::string bytes = s.Serialize();
    Result<SendShard> decoded = SendShard::Deserialize(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->Serialize(), bytes);
  }
  for (const ReceiveShard& r : ledger.receives) {
    const std::string bytes = r.Serialize();
    Result<ReceiveShard> decoded = ReceiveShard::Deserialize(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->Serialize(), bytes);
    EXPECT_EQ(decoded->reordered(), r.reordered());
    EXPECT_EQ(decoded->extra_copies(), r.extra_copies());
  }
}

TEST(LedgerMergeTest, InOrderAckedTrafficIsSmallOnTheWire) {
  SendShard sends;
  ReceiveShard receives;
  for (uint64_t seq = 0; seq < 1'000'000; ++seq) {
    sends.Record(0, seq, SendOutcome::kAck);
    receives.Record(0, seq, 0);
  }
  EXPECT_LT(sends.Serialize().size(), 64u);
  EXPECT_LT(receives.Serialize().size(), 64u);
}

TEST(LedgerMergeTest, MergeKeepsTheStrongerOutcomeAndAddsCounts) {
  SendShard a, b;
  a.Record(0, 5, SendOutcome::kNack);
  b.Record(0, 5, SendOutcome::kAck);
  b.Record(2, 1, SendOutcome::kIndeterminate);
  a.Merge(b);
  EXPECT_EQ(a.outcome(0, 5), SendOutcome::kAck);
  EXPECT_EQ(a.outcome(2, 1), SendOutcome::kIndeterminate);
  EXPECT_EQ(a.outcomes(0)->size(), 6u);

  ReceiveShard r, s;
  for (int i = 0; i < 2; ++i) r.Record(1, 3, 0);
  for (int i = 0; i < 3; ++i) s.Record(1, 3, 0);
  r.Merge(s);
  EXPECT_EQ(r.ReceiveCount(1, 3), 5u);
}

TEST(LedgerMergeTest, DeserializeRejectsEveryTruncationAndTrailingBytes) {
  RandomLedger ledger(11, 1);
  const std::string send_bytes = ledger.sends[0].Serialize();
  const std::string receive_bytes = ledger.receives[0].Serialize();
  for (size_t n = 0; n < send_bytes.size(); ++n) {
    EXPECT_FALSE(SendShard::Deserialize(send_bytes.substr(0, n)).ok()) << n;
  }
  for (size_t n = 0; n < receive_bytes.size(); ++n) {
    EXPECT_FALSE(ReceiveShard::Deserialize(receive_bytes.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(SendShard::Deserialize(send_bytes + "x").ok());
  EXPECT_FALSE(ReceiveShard::Deserialize(receive_bytes + "x").ok());
  EXPECT_FALSE(SendShard::Deserialize(receive_bytes).ok());
}

TEST(LedgerMergeTest, DeserializeOfFlippedBytesNeverCrashes) {
  RandomLedger ledger(13, 1);
  const std::string bytes = ledger.receives[0].Serialize();
  std::mt19937_64 rng(5);
  int accepted = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string mutated = bytes;
    mutated[rng() % mutated.size()] ^= static_cast<char>(1 + rng() % 255);
    Result<ReceiveShard> decoded = ReceiveShard::Deserialize(mutated);
    // What is accepted must be self-consistent: it serialises back to the bytes it came from.
    if (decoded.ok()) {
      ++accepted;
      EXPECT_TRUE(decoded->Serialize() == mutated) << "flip " << i;
    }
  }
  EXPECT_LT(accepted, 2000);
}

}  // namespace
}  // namespace drone::verify
