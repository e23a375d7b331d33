#include "verify/delivery_ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

namespace drone::verify {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint32_t kSession = 0;

std::vector<std::string> Examples(const DeliveryReport& report, const std::string& category) {
  auto it = report.examples.find(category);
  return it == report.examples.end() ? std::vector<std::string>{} : it->second;
}

// One producer, one consumer, one caught-up domain: the common shape of the tests below.
class LedgerTest : public ::testing::Test {
 protected:
  DeliveryReport Run(bool caught_up = true) {
    return Classify({&sends_}, {&receives_}, {{"p1/orders/3", caught_up}});
  }

  SendShard sends_;
  ReceiveShard receives_;
};

TEST_F(LedgerTest, AckedAndReceivedOnceIsOk) {
  sends_.Record(0, 0, SendOutcome::kAck);
  receives_.Record(0, 0, kSession);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.ok, 1u);
  EXPECT_EQ(report.sent, 1u);
  EXPECT_EQ(report.lost + report.duplicated + report.unseen, 0u);
  EXPECT_THAT(report.examples, IsEmpty());
}

TEST_F(LedgerTest, IndeterminateAndReceivedIsRecovered) {
  sends_.Record(0, 0, SendOutcome::kIndeterminate);
  receives_.Record(0, 0, kSession);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.recovered, 1u);
  EXPECT_EQ(report.ok + report.unknown, 0u);
  EXPECT_THAT(Examples(report, "recovered"), ElementsAre("p1/orders/3#0"));
}

TEST_F(LedgerTest, IndeterminateAndNotReceivedIsUnknown) {
  sends_.Record(0, 0, SendOutcome::kIndeterminate);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.unknown, 1u);
  EXPECT_EQ(report.recovered + report.lost, 0u);
  EXPECT_THAT(Examples(report, "unknown"), ElementsAre("p1/orders/3#0"));
}

TEST_F(LedgerTest, NackedAndNotReceivedIsFailed) {
  sends_.Record(0, 0, SendOutcome::kNack);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(report.phantom + report.lost, 0u);
}

TEST_F(LedgerTest, NackedButReceivedIsPhantom) {
  sends_.Record(0, 0, SendOutcome::kNack);
  receives_.Record(0, 0, kSession);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.phantom, 1u);
  EXPECT_EQ(report.failed + report.ok, 0u);
  EXPECT_THAT(Examples(report, "phantom"), ElementsAre("p1/orders/3#0"));
}

TEST_F(LedgerTest, AckedMissingBeforeALaterReceiveIsLostGap) {
  for (uint64_t seq = 0; seq < 3; ++seq) sends_.Record(0, seq, SendOutcome::kAck);
  receives_.Record(0, 0, kSession);
  receives_.Record(0, 2, kSession);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.ok, 2u);
  EXPECT_EQ(report.lost, 1u);
  EXPECT_EQ(report.lost_gap, 1u);
  EXPECT_EQ(report.lost_tail, 0u);
  EXPECT_THAT(Examples(report, "lost"), ElementsAre("p1/orders/3#1"));
}

TEST_F(LedgerTest, AckedMissingAfterTheLastReceiveIsLostTail) {
  for (uint64_t seq = 0; seq < 3; ++seq) sends_.Record(0, seq, SendOutcome::kAck);
  receives_.Record(0, 0, kSession);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.ok, 1u);
  EXPECT_EQ(report.lost, 2u);
  EXPECT_EQ(report.lost_gap, 0u);
  EXPECT_EQ(report.lost_tail, 2u);
  EXPECT_THAT(Examples(report, "lost"), ElementsAre("p1/orders/3#1", "p1/orders/3#2"));
}

TEST_F(LedgerTest, AckedMissingWhileNotCaughtUpIsUnseen) {
  for (uint64_t seq = 0; seq < 3; ++seq) sends_.Record(0, seq, SendOutcome::kAck);
  receives_.Record(0, 0, kSession);
  const DeliveryReport report = Run(/*caught_up=*/false);
  EXPECT_EQ(report.unseen, 2u);
  EXPECT_EQ(report.lost, 0u);
  EXPECT_THAT(Examples(report, "unseen"), ElementsAre("p1/orders/3#1", "p1/orders/3#2"));
}

TEST_F(LedgerTest, ReceivedOnceByEachOfTwoConsumersIsDuplicated) {
  ReceiveShard other;
  sends_.Record(0, 0, SendOutcome::kAck);
  sends_.Record(0, 1, SendOutcome::kAck);
  receives_.Record(0, 0, kSession);
  receives_.Record(0, 1, kSession);
  other.Record(0, 0, kSession);
  const DeliveryReport report = Classify({&sends_}, {&receives_, &other}, {{"p1/orders/3", true}});
  EXPECT_EQ(report.duplicated, 1u);
  EXPECT_EQ(report.duplicate_copies, 1u);
  EXPECT_EQ(report.ok, 1u);  // the duplicate is not also ok
  EXPECT_THAT(Examples(report, "duplicated"), ElementsAre("p1/orders/3#0"));
}

TEST_F(LedgerTest, ReceivedFiveTimesByOneConsumerCountsEveryExtraCopy) {
  sends_.Record(0, 0, SendOutcome::kAck);
  for (int i = 0; i < 5; ++i) receives_.Record(0, 0, /*session=*/static_cast<uint32_t>(i));
  EXPECT_EQ(receives_.ReceiveCount(0, 0), 5u);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.duplicated, 1u);
  EXPECT_EQ(report.duplicate_copies, 4u);
  EXPECT_EQ(report.ok, 0u);
}

TEST_F(LedgerTest, CopiesBeyondSaturationAddUpAcrossConsumers) {
  ReceiveShard other;
  sends_.Record(0, 0, SendOutcome::kAck);
  for (int i = 0; i < 3; ++i) receives_.Record(0, 0, static_cast<uint32_t>(i));
  for (int i = 0; i < 2; ++i) other.Record(0, 0, static_cast<uint32_t>(i));
  const DeliveryReport report = Classify({&sends_}, {&receives_, &other}, {{"d", true}});
  EXPECT_EQ(report.duplicated, 1u);
  EXPECT_EQ(report.duplicate_copies, 4u);
}

TEST_F(LedgerTest, BackwardStepWithinASessionIsReordered) {
  for (uint64_t seq = 0; seq < 3; ++seq) sends_.Record(0, seq, SendOutcome::kAck);
  receives_.Record(0, 0, kSession);
  receives_.Record(0, 2, kSession);
  receives_.Record(0, 1, kSession);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.reordered, 1u);
  EXPECT_EQ(report.ok, 3u);  // reordering is counted beside the per-message category
  EXPECT_THAT(Examples(report, "reordered"), ElementsAre("p1/orders/3#1"));
}

TEST_F(LedgerTest, RedeliveryInANewSessionIsNotReordered) {
  for (uint64_t seq = 0; seq < 3; ++seq) sends_.Record(0, seq, SendOutcome::kAck);
  for (uint64_t seq = 0; seq < 3; ++seq) receives_.Record(0, seq, /*session=*/1);
  // A rebalance: the new assignment starts again from the last committed offset.
  receives_.Record(0, 1, /*session=*/2);
  receives_.Record(0, 2, /*session=*/2);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.reordered, 0u);
  EXPECT_EQ(report.duplicated, 2u);
  EXPECT_EQ(report.ok, 1u);
}

TEST_F(LedgerTest, LateMessageOfAnEarlierSessionIsComparedWithThatSession) {
  receives_.Record(0, 5, /*session=*/1);
  receives_.Record(0, 0, /*session=*/2);
  receives_.Record(0, 3, /*session=*/1);  // behind 5 in session 1
  receives_.Record(0, 1, /*session=*/2);  // ahead of 0 in session 2
  EXPECT_EQ(receives_.reordered(), 1u);
  ASSERT_EQ(receives_.reordered_examples().size(), 1u);
  EXPECT_EQ(receives_.reordered_examples()[0].seq, 3u);
}

TEST_F(LedgerTest, DomainsAreOrderedIndependently) {
  receives_.Record(0, 5, kSession);
  receives_.Record(1, 0, kSession);
  receives_.Record(0, 6, kSession);
  EXPECT_EQ(receives_.reordered(), 0u);
}

TEST_F(LedgerTest, CorruptCopyIsNotAReceive) {
  sends_.Record(0, 0, SendOutcome::kAck);
  sends_.Record(0, 1, SendOutcome::kAck);
  receives_.RecordCorrupt(0, 0);
  receives_.RecordCorrupt(0, 1);
  receives_.Record(0, 1, kSession);  // an intact copy of seq 1 arrived too
  const DeliveryReport report = Run();
  EXPECT_EQ(report.corrupt, 2u);
  EXPECT_EQ(report.lost, 1u);
  EXPECT_EQ(report.lost_gap, 1u);
  EXPECT_EQ(report.ok, 1u);
  EXPECT_THAT(Examples(report, "corrupt"), ElementsAre("p1/orders/3#0", "p1/orders/3#1"));
}

TEST_F(LedgerTest, ForeignAndOutOfRangeMessagesAreUnexpected) {
  sends_.Record(0, 0, SendOutcome::kAck);
  receives_.Record(0, 0, kSession);
  receives_.RecordUnexpected();
  receives_.Record(7, 0, kSession);  // a domain no one sent to, twice
  receives_.Record(7, 0, kSession);
  receives_.Record(kMaxDomains, 0, kSession);
  receives_.Record(0, kMaxSeq, kSession);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.unexpected, 5u);
  EXPECT_EQ(report.ok, 1u);
  EXPECT_EQ(report.duplicated, 0u);
}

TEST_F(LedgerTest, ReceivedWithoutARecordedOutcomeIsUnackedReceived) {
  sends_.Record(0, 0, SendOutcome::kAck);
  receives_.Record(0, 0, kSession);
  receives_.Record(0, 1, kSession);  // in flight when the producer stopped
  const DeliveryReport report = Run();
  EXPECT_EQ(report.unacked_received, 1u);
  EXPECT_EQ(report.sent, 1u);
  EXPECT_EQ(report.ok, 1u);
  EXPECT_EQ(report.unexpected + report.phantom, 0u);
  EXPECT_THAT(Examples(report, "unacked_received"), ElementsAre("p1/orders/3#1"));
}

TEST_F(LedgerTest, RecordingTwiceKeepsTheStrongerOutcome) {
  using O = SendOutcome;
  const std::tuple<O, O, O> cases[] = {
      {O::kNack, O::kAck, O::kAck},
      {O::kAck, O::kNack, O::kAck},
      {O::kAck, O::kIndeterminate, O::kAck},
      {O::kIndeterminate, O::kAck, O::kAck},
      {O::kNack, O::kIndeterminate, O::kIndeterminate},
      {O::kIndeterminate, O::kNack, O::kIndeterminate},
      {O::kNone, O::kNack, O::kNack},
      {O::kNack, O::kNone, O::kNack},
  };
  uint64_t seq = 0;
  for (const auto& [first, second, kept] : cases) {
    sends_.Record(3, seq, first);
    sends_.Record(3, seq, second);
    EXPECT_EQ(sends_.outcome(3, seq), kept)
        << SendOutcomeName(first) << " then " << SendOutcomeName(second);
    ++seq;
  }
}

TEST_F(LedgerTest, OutcomesFromTwoSendShardsMerge) {
  SendShard retry;
  sends_.Record(0, 0, SendOutcome::kIndeterminate);
  retry.Record(0, 0, SendOutcome::kAck);
  sends_.Record(0, 1, SendOutcome::kNack);
  const DeliveryReport report = Classify({&sends_, &retry}, {&receives_}, {{"d", true}});
  EXPECT_EQ(report.lost, 1u);
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(report.sent, 2u);
}

TEST_F(LedgerTest, UndescribedDomainIsNamedByIdAndNotCaughtUp) {
  sends_.Record(2, 0, SendOutcome::kAck);
  const DeliveryReport report = Run();
  EXPECT_EQ(report.unseen, 1u);
  EXPECT_THAT(Examples(report, "unseen"), ElementsAre("domain-2#0"));
}

TEST_F(LedgerTest, ExamplesStopAtTheLimit) {
  for (uint64_t seq = 0; seq < 100; ++seq) sends_.Record(0, seq, SendOutcome::kNack);
  DeliveryReport report = Classify({&sends_}, {&receives_}, {{"d", true}}, /*max_examples=*/3);
  EXPECT_EQ(report.failed, 100u);
  EXPECT_THAT(Examples(report, "failed"), ElementsAre("d#0", "d#1", "d#2"));
  report = Classify({&sends_}, {&receives_}, {{"d", true}}, /*max_examples=*/0);
  EXPECT_THAT(report.examples, IsEmpty());
}

TEST_F(LedgerTest, ToJsonHasEveryCategory) {
  sends_.Record(0, 0, SendOutcome::kAck);
  const nlohmann::json json = Run().ToJson();
  for (const char* key : {"ok", "recovered", "unknown", "failed", "phantom", "lost", "lost_gap",
                          "lost_tail", "unseen", "duplicated", "duplicate_copies",
                          "unacked_received", "reordered", "corrupt", "unexpected"}) {
    ASSERT_TRUE(json.contains(key)) << key;
    EXPECT_TRUE(json[key].is_number_unsigned()) << key;
  }
  EXPECT_EQ(json["lost"], 1);
  EXPECT_EQ(json["lost_tail"], 1);
  EXPECT_EQ(json["examples"]["lost"], nlohmann::json({"p1/orders/3#0"}));
  EXPECT_EQ(json.size(), 16u);
}

TEST_F(LedgerTest, LostMessagesTheBrokerStillStoresAreCounted) {
  // 0..5 acked; 1 and 4 never received; 2 received only corrupt; 3 indeterminate, not received.
  for (uint64_t seq = 0; seq < 6; ++seq) {
    sends_.Record(0, seq, seq == 3 ? SendOutcome::kIndeterminate : SendOutcome::kAck);
  }
  receives_.Record(0, 0, kSession);
  receives_.RecordCorrupt(0, 2);
  receives_.Record(0, 5, kSession);
  // The broker still holds 0 (received: not lost), 2 (lost: no intact copy arrived), 3 (not
  // acked) and 4 (lost); it does not hold 1.
  ReceiveShard stored;
  for (uint64_t seq : {0, 2, 3, 4}) stored.Record(0, seq, kSession);
  DeliveryReport report = Run();
  ASSERT_EQ(report.lost, 3u);
  EXPECT_EQ(report.lost_stored, -1);
  EXPECT_FALSE(report.ToJson().contains("lost_stored"));
  CountLostStored({&sends_}, {&receives_}, {{"p1/orders/3", true}}, stored, &report);
  EXPECT_EQ(report.lost_stored, 2);
  EXPECT_THAT(Examples(report, "lost_stored"), ElementsAre("p1/orders/3#2", "p1/orders/3#4"));
  EXPECT_EQ(report.ToJson()["lost_stored"], 2);
}

TEST_F(LedgerTest, StoredMessagesOfADomainNotCaughtUpAreNotLost) {
  sends_.Record(0, 0, SendOutcome::kAck);
  ReceiveShard stored;
  stored.Record(0, 0, kSession);
  DeliveryReport report = Run(/*caught_up=*/false);
  ASSERT_EQ(report.unseen, 1u);
  CountLostStored({&sends_}, {&receives_}, {{"p1/orders/3", false}}, stored, &report);
  EXPECT_EQ(report.lost_stored, 0);
  EXPECT_THAT(Examples(report, "lost_stored"), IsEmpty());
}

// A naive model of the ledger: maps instead of bit arrays, the DESIGN.md table applied directly.
struct Model {
  std::map<std::pair<uint32_t, uint64_t>, SendOutcome> outcomes;
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> copies;
  std::map<uint32_t, uint64_t> highest_received;
  uint64_t reordered = 0;
};

int Strength(SendOutcome outcome) {
  switch (outcome) {
    case SendOutcome::kNone:
      return 0;
    case SendOutcome::kNack:
      return 1;
    case SendOutcome::kIndeterminate:
      return 2;
    case SendOutcome::kAck:
      return 3;
  }
  return -1;
}

TEST(LedgerInvariantTest, RandomHistoryMatchesNaiveModelAndAccountsForEveryMessage) {
  std::mt19937_64 random(20240611);
  constexpr uint32_t kDomains = 6;
  std::vector<DomainInfo> domains;
  for (uint32_t d = 0; d < kDomains; ++d) {
    domains.push_back({"p" + std::to_string(d % 2) + "/t/" + std::to_string(d), d % 3 != 0});
  }
  SendShard send_shards[2];
  ReceiveShard receive_shards[3];
  Model model;
  std::map<std::tuple<int, uint32_t, uint32_t>, uint64_t> last_seen;  // (shard, session, domain)

  for (uint32_t d = 0; d < kDomains; ++d) {
    const uint64_t messages = 500 + random() % 3000;
    SendShard& producer = send_shards[d % 2];  // one producer thread per domain
    for (uint64_t seq = 0; seq < messages; ++seq) {
      const auto outcome = static_cast<SendOutcome>(random() % 4);
      producer.Record(d, seq, outcome);
      if (random() % 10 == 0) producer.Record(d, seq, static_cast<SendOutcome>(random() % 4));
      // Receives: mostly once, sometimes never or several times, by any consumer.
      const uint64_t roll = random() % 20;
      const uint64_t copies = roll < 3 ? 0 : roll < 17 ? 1 : roll < 19 ? 2 : 2 + random() % 5;
      for (uint64_t c = 0; c < copies; ++c) {
        const int shard = static_cast<int>(random() % 3);
        // Jitter the seq a little so that some arrive out of order.
        const uint32_t session = static_cast<uint32_t>(random() % 2);
        receive_shards[shard].Record(d, seq, session);
        auto key = std::make_tuple(shard, session, d);
        auto it = last_seen.find(key);
        if (it != last_seen.end() && seq < it->second) ++model.reordered;
        last_seen[key] = seq;
        ++model.copies[{d, seq}];
        model.highest_received[d] = std::max(model.highest_received[d], seq);
      }
    }
    // A tail that never arrives: lost_tail where the domain caught up, unseen elsewhere.
    for (uint64_t seq = messages; seq < messages + 3; ++seq) {
      producer.Record(d, seq, SendOutcome::kAck);
    }
  }
  // Replay some old messages out of order, to exercise reordering.
  for (int i = 0; i < 200; ++i) {
    const uint32_t d = static_cast<uint32_t>(random() % kDomains);
    const uint64_t seq = random() % 400;
    const int shard = static_cast<int>(random() % 3);
    receive_shards[shard].Record(d, seq, 0);
    auto key = std::make_tuple(shard, 0u, d);
    auto it = last_seen.find(key);
    if (it != last_seen.end() && seq < it->second) ++model.reordered;
    last_seen[key] = seq;
    ++model.copies[{d, seq}];
    model.highest_received[d] = std::max(model.highest_received[d], seq);
  }
  for (uint32_t d = 0; d < kDomains; ++d) {
    for (int s = 0; s < 2; ++s) {
      const TwoBitArray* cells = send_shards[s].outcomes(d);
      if (cells == nullptr) continue;
      for (uint64_t seq = 0; seq < cells->size(); ++seq) {
        const SendOutcome outcome = send_shards[s].outcome(d, seq);
        SendOutcome& merged = model.outcomes[{d, seq}];
        if (Strength(outcome) > Strength(merged)) merged = outcome;
      }
    }
  }

  DeliveryReport expected;
  std::map<std::pair<uint32_t, uint64_t>, bool> messages;  // every message sent or received
  for (const auto& [id, outcome] : model.outcomes) {
    if (outcome != SendOutcome::kNone) messages[id] = true;
  }
  for (const auto& [id, copies] : model.copies) messages[id] = true;
  for (const auto& [id, unused] : messages) {
    const SendOutcome outcome = model.outcomes.count(id) ? model.outcomes[id] : SendOutcome::kNone;
    const uint64_t copies = model.copies.count(id) ? model.copies[id] : 0;
    if (outcome != SendOutcome::kNone) ++expected.sent;
    if (copies >= 2) {
      ++expected.duplicated;
      expected.duplicate_copies += copies - 1;
    } else if (outcome == SendOutcome::kNone) {
      ++expected.unacked_received;
    } else if (outcome == SendOutcome::kAck) {
      if (copies == 1) {
        ++expected.ok;
      } else if (!domains[id.first].caught_up) {
        ++expected.unseen;
      } else {
        ++expected.lost;
        const bool later =
            model.highest_received.count(id.first) && model.highest_received[id.first] > id.second;
        ++(later ? expected.lost_gap : expected.lost_tail);
      }
    } else if (outcome == SendOutcome::kIndeterminate) {
      ++(copies == 1 ? expected.recovered : expected.unknown);
    } else {
      ++(copies == 1 ? expected.phantom : expected.failed);
    }
  }

  const DeliveryReport report =
      Classify({&send_shards[0], &send_shards[1]},
               {&receive_shards[0], &receive_shards[1], &receive_shards[2]}, domains);
  EXPECT_EQ(report.sent, expected.sent);
  EXPECT_EQ(report.ok, expected.ok);
  EXPECT_EQ(report.recovered, expected.recovered);
  EXPECT_EQ(report.unknown, expected.unknown);
  EXPECT_EQ(report.failed, expected.failed);
  EXPECT_EQ(report.phantom, expected.phantom);
  EXPECT_EQ(report.lost, expected.lost);
  EXPECT_EQ(report.lost_gap, expected.lost_gap);
  EXPECT_EQ(report.lost_tail, expected.lost_tail);
  EXPECT_EQ(report.unseen, expected.unseen);
  EXPECT_EQ(report.duplicated, expected.duplicated);
  EXPECT_EQ(report.duplicate_copies, expected.duplicate_copies);
  EXPECT_EQ(report.unacked_received, expected.unacked_received);
  EXPECT_EQ(report.reordered, model.reordered);
  EXPECT_EQ(report.lost, report.lost_gap + report.lost_tail);

  // The accounting invariant: every message sent or received lands in exactly one category.
  const uint64_t categorised = report.ok + report.recovered + report.unknown + report.failed +
                               report.phantom + report.lost + report.unseen + report.duplicated +
                               report.unacked_received;
  EXPECT_EQ(categorised, messages.size());
  // ...and every message with an outcome lands in one of the eight sent categories, given that
  // the messages without one are exactly unacked_received plus their duplicated share.
  uint64_t duplicated_without_outcome = 0;
  for (const auto& [id, copies] : model.copies) {
    const bool has_outcome =
        model.outcomes.count(id) && model.outcomes.at(id) != SendOutcome::kNone;
    if (!has_outcome && copies >= 2) ++duplicated_without_outcome;
  }
  EXPECT_EQ(categorised - report.unacked_received - duplicated_without_outcome, report.sent);
  // The history is rich enough that every category was exercised.
  for (uint64_t count : {report.ok, report.recovered, report.unknown, report.failed, report.phantom,
                         report.lost_gap, report.lost_tail, report.unseen, report.duplicated,
                         report.unacked_received, report.reordered}) {
    EXPECT_GT(count, 0u);
  }
}

TEST(LedgerInvariantTest, WithoutUnrecordedReceivesTheSentCategoriesAddUpToSent) {
  std::mt19937_64 random(7);
  SendShard sends;
  ReceiveShard receives[2];
  for (uint64_t seq = 0; seq < 20000; ++seq) {
    sends.Record(0, seq, static_cast<SendOutcome>(1 + random() % 3));
    const uint64_t copies = random() % 3;
    for (uint64_t c = 0; c < copies; ++c) receives[random() % 2].Record(0, seq, 0);
  }
  const DeliveryReport report =
      Classify({&sends}, {&receives[0], &receives[1]}, {{"d", random() % 2 == 0}});
  EXPECT_EQ(report.sent, 20000u);
  EXPECT_EQ(report.unacked_received, 0u);
  EXPECT_EQ(report.ok + report.recovered + report.unknown + report.failed + report.phantom +
                report.lost + report.unseen + report.duplicated,
            report.sent);
}

TEST(LedgerMemoryTest, InOrderTrafficCostsAtMostOneBytePerMessage) {
  constexpr uint64_t kMessages = 1'000'000;
  SendShard sends;
  ReceiveShard receives;
  for (uint64_t seq = 0; seq < kMessages; ++seq) sends.Record(0, seq, SendOutcome::kAck);
  for (uint64_t seq = 0; seq < kMessages; ++seq) receives.Record(0, seq, kSession);
  const size_t bytes = sends.MemoryBytes() + receives.MemoryBytes();
  EXPECT_LE(bytes, kMessages) << bytes << " bytes for " << kMessages << " messages";
  // 2 bits each side is 0.5 byte per message; the rest is bookkeeping.
  EXPECT_GE(bytes, kMessages / 2);
  const DeliveryReport report = Classify({&sends}, {&receives}, {{"d", true}});
  EXPECT_EQ(report.ok, kMessages);
}

TEST(LedgerMemoryTest, ManyShortDomainsStaySmall) {
  SendShard sends;
  for (uint32_t d = 0; d < 1000; ++d) {
    for (uint64_t seq = 0; seq < 10; ++seq) sends.Record(d, seq, SendOutcome::kAck);
  }
  // One 1 KiB chunk per domain plus the tables.
  EXPECT_LE(sends.MemoryBytes(), 1000u * 1200u);
}

}  // namespace
}  // namespace drone::verify
