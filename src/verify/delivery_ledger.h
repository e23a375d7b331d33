// The delivery ledger: what happened to every message of a workload, and the classification of
// each message into the delivery categories of DESIGN.md ("Delivery accounting").
//
// A message is identified by (domain, seq). Domains are dense ids 0..D-1, one per ordering domain
// (producer x partition); within a domain, seq is dense from 0, assigned in send order by exactly
// one producer thread. Each producer thread owns a SendShard and each consumer thread a
// ReceiveShard; both store 2 bits per message in chunked arrays, so in-order traffic costs about
// half a byte per message for sends and receives together. Classify() merges all shards after the
// load and the drain and produces a DeliveryReport.
//
// Thread-safety: a shard has a single writer and no locks. Classify() may run only after every
// writer has finished (e.g. the producer and consumer threads were joined); shards must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "verify/delivery.h"
#include "verify/two_bit_array.h"

namespace drone::verify {

// Bounds on ids, so that a bad id costs a counter rather than unbounded memory: memory follows
// the highest id, and the key of the sparse side tables packs (domain, seq) into 64 bits.
inline constexpr uint32_t kMaxDomains = uint32_t{1} << 20;
inline constexpr uint64_t kMaxSeq = uint64_t{1} << 40;
// Deserialize() of a shard allocates at most this many non-zero words (32 messages each, 1 GiB).
inline constexpr uint64_t kMaxDecodedWords = uint64_t{1} << 27;

struct MessageId {
  uint32_t domain = 0;
  uint64_t seq = 0;
};

// The send outcomes of one producer thread. Single writer, no locks; see the file comment.
class SendShard {
 public:
  SendShard() = default;
  SendShard(const SendShard&) = delete;
  SendShard& operator=(const SendShard&) = delete;

  // Records the outcome of one send. Recording a message again keeps the stronger outcome
  // (kAck > kIndeterminate > kNack > kNone): a retry that was acked is acked, and a late
  // timeout report cannot demote an ack. `domain` < kMaxDomains and `seq` < kMaxSeq (the
  // engine assigns both densely).
  void Record(uint32_t domain, uint64_t seq, SendOutcome outcome);

  // Bytes this shard holds, including sizeof(*this).
  size_t MemoryBytes() const;

  // Adds `other`'s outcomes, keeping the stronger outcome per message as Record() does, so that
  // Classify() over the merged shard equals Classify() over both. For finished shards (both
  // writers done), e.g. to ship one shard per process instead of one per thread.
  void Merge(const SendShard& other);

  // Exact, versioned binary form ("DLS1", then per domain its size and its words run-length
  // encoded: in-order all-acked traffic costs a few bytes per domain). Deserialize() accepts
  // exactly what Serialize() produces and returns InvalidArgument for anything else without
  // reading out of bounds; memory it allocates is bounded by kMaxDecodedWords.
  std::string Serialize() const;
  static Result<SendShard> Deserialize(std::string_view bytes);
  SendShard(SendShard&&) noexcept = default;
  SendShard& operator=(SendShard&&) noexcept = default;

  // Read side for Classify() and tests.
  uint32_t domain_count() const { return static_cast<uint32_t>(domains_.size()); }
  // Outcome cells (SendOutcome values) of `domain`; nullptr if this shard never saw it.
  const TwoBitArray* outcomes(uint32_t domain) const {
    return domain < domains_.size() ? &domains_[domain] : nullptr;
  }
  SendOutcome outcome(uint32_t domain, uint64_t seq) const {
    const TwoBitArray* cells = outcomes(domain);
    return static_cast<SendOutcome>(cells == nullptr ? 0 : cells->Get(seq));
  }

 private:
  std::vector<TwoBitArray> domains_;
};

// The receives of one consumer thread. Single writer, no locks; see the file comment.
class ReceiveShard {
 public:
  // Each shard keeps this many examples of reordered and corrupt messages.
  static constexpr size_t kMaxStoredExamples = 64;

  ReceiveShard() = default;
  ReceiveShard(const ReceiveShard&) = delete;
  ReceiveShard& operator=(const ReceiveShard&) = delete;

  // Records a message whose envelope decoded and whose checksum matched. `session` is the
  // consumer's assignment generation (the engine bumps it on every rebalance). Within one
  // (session, domain), a seq lower than the previous one counts one `reordered` step; redelivery
  // after a rebalance is a new session and so is not reordering. A domain >= kMaxDomains or a seq
  // >= kMaxSeq cannot come from this run and is counted as unexpected.
  void Record(uint32_t domain, uint64_t seq, uint32_t session);

  // A message whose envelope decoded but whose payload checksum did not match. Counted as
  // corrupt and NOT as a receive: if no intact copy arrives, the message is lost.
  void RecordCorrupt(uint32_t domain, uint64_t seq);

  // A message that this run did not send: foreign run id, undecodable envelope.
  void RecordUnexpected() { ++unexpected_; }

  // Bytes this shard holds, including sizeof(*this).
  size_t MemoryBytes() const;

  // Adds `other`'s receives: counts add up per message (copies beyond the third go to
  // extra_copies()), counters add, examples are appended up to kMaxStoredExamples. Classify()
  // over the merged shard equals Classify() over both, examples included. For finished shards:
  // the reorder cursors are this shard's only, so messages recorded after a merge are compared
  // with this shard's own earlier ones.
  void Merge(const ReceiveShard& other);

  // Exact, versioned binary form ("DLR1": counts as in SendShard::Serialize, extra copies,
  // counters, examples). The reorder cursors are not kept: a decoded shard is a finished one.
  // Deserialize() as for SendShard.
  std::string Serialize() const;
  static Result<ReceiveShard> Deserialize(std::string_view bytes);
  ReceiveShard(ReceiveShard&&) noexcept = default;
  ReceiveShard& operator=(ReceiveShard&&) noexcept = default;

  // Read side for Classify() and tests.
  uint32_t domain_count() const { return static_cast<uint32_t>(counts_.size()); }
  // Receive counts of `domain`, saturating at 3 (copies beyond are in extra_copies());
  // nullptr if this shard never saw the domain.
  const TwoBitArray* counts(uint32_t domain) const {
    return domain < counts_.size() ? &counts_[domain] : nullptr;
  }
  // This shard's count of intact copies of one message.
  uint64_t ReceiveCount(uint32_t domain, uint64_t seq) const;
  // Copies beyond the third of a message, keyed by PackId(domain, seq).
  const std::unordered_map<uint64_t, uint64_t>& extra_copies() const { return extra_copies_; }
  uint64_t reordered() const { return reordered_; }
  uint64_t corrupt() const { return corrupt_; }
  uint64_t unexpected() const { return unexpected_; }
  const std::vector<MessageId>& reordered_examples() const { return reordered_examples_; }
  const std::vector<MessageId>& corrupt_examples() const { return corrupt_examples_; }

  static uint64_t PackId(uint32_t domain, uint64_t seq) { return (uint64_t{domain} << 40) | seq; }

 private:
  // The last seq seen in `session` for one domain. The current session lives here; other
  // sessions' cursors wait in stale_cursors_ in case their messages are still trickling in.
  struct Cursor {
    uint32_t session = 0;
    uint64_t last_seq_plus_one = 0;  // 0: nothing seen in this session yet
  };

  void GrowDomains(uint32_t domain);
  void SwitchSession(uint32_t domain, uint32_t session);

  std::vector<TwoBitArray> counts_;
  std::vector<Cursor> cursors_;
  std::unordered_map<uint64_t, uint64_t> stale_cursors_;  // (session << 32 | domain) -> last+1
  std::unordered_map<uint64_t, uint64_t> extra_copies_;
  uint64_t reordered_ = 0;
  uint64_t corrupt_ = 0;
  uint64_t unexpected_ = 0;
  std::vector<MessageId> reordered_examples_;
  std::vector<MessageId> corrupt_examples_;
};

// What Classify needs to know about each domain beyond the shards.
struct DomainInfo {
  std::string name;  // e.g. "p1/orders/3"; used in example ids
  // The consumers read everything the broker held for this domain before the drain deadline,
  // so a message that was not received will not be received.
  bool caught_up = false;
};

// Counts per delivery category. Every message that was sent with a recorded outcome or received
// intact lands in exactly one of: ok, recovered, unknown, failed, phantom, lost, unseen,
// duplicated, unacked_received. `duplicated` takes precedence over every other category: an
// acked message received twice is duplicated and NOT ok (it is not lost either, and no verdict
// rule needs its send outcome). So if nothing arrived without a recorded outcome,
// ok + recovered + unknown + failed + phantom + lost + unseen + duplicated == sent.
struct DeliveryReport {
  // Messages with a recorded send outcome. Not in ToJson(): the workload result already has a
  // top-level "sent".
  uint64_t sent = 0;
  uint64_t ok = 0;                // acked, received exactly once
  uint64_t recovered = 0;         // indeterminate, received once
  uint64_t unknown = 0;           // indeterminate, not received
  uint64_t failed = 0;            // nacked, not received
  uint64_t phantom = 0;           // nacked, yet received once
  uint64_t lost = 0;              // acked, not received, domain caught up; lost_gap + lost_tail
  uint64_t lost_gap = 0;          // ... and a later seq of the same domain was received
  uint64_t lost_tail = 0;         // ... and no later seq of the domain was received
  // Of `lost`, how many the broker still stored when it was read after the drain (see
  // CountLostStored): kept, but never delivered to the group, rather than lost by the broker.
  // -1: not read (nothing was lost, or the broker cannot list what it stores); ToJson() then
  // leaves it out.
  int64_t lost_stored = -1;
  uint64_t unseen = 0;            // acked, not received, domain not caught up
  uint64_t duplicated = 0;        // messages received more than once, whatever their outcome
  uint64_t duplicate_copies = 0;  // copies beyond the first, summed over duplicated messages
  // Received once, but the producer recorded no outcome: in flight when the producer stopped,
  // or a gap in the engine's bookkeeping. Such a message received twice is `duplicated`.
  uint64_t unacked_received = 0;
  uint64_t reordered = 0;   // backward steps within one (consumer session, domain)
  uint64_t corrupt = 0;     // copies with a checksum mismatch
  uint64_t unexpected = 0;  // copies not sent by this run (incl. ids outside the known domains)
  // Category -> up to max_examples ids "<domain name>#<seq>": lowest domain and seq first, except
  // reordered and corrupt, which come in the order the consumers met them. Only non-empty
  // categories appear; lost_gap and lost_tail share "lost"; ok and unexpected have none;
  // "lost_stored" lists lost messages the broker still stored.
  std::map<std::string, std::vector<std::string>> examples;

  // {"ok":..,"recovered":..,"unknown":..,"failed":..,"phantom":..,"lost":..,"lost_gap":..,
  //  "lost_tail":..,"unseen":..,"duplicated":..,"duplicate_copies":..,"unacked_received":..,
  //  "reordered":..,"corrupt":..,"unexpected":..,"examples":{..}}, and "lost_stored" once it
  //  was read: the result's "delivery".
  nlohmann::json ToJson() const;
};

// Merges the shards and classifies every message. `domains[d]` describes domain d; a domain that
// a SendShard recorded but `domains` does not describe is named "domain-<d>" and treated as not
// caught up; receives in a domain no one sent to count as unexpected. Receive counts add up
// across shards: a message read once by each of two consumers was received twice.
// Preconditions: see the file comment (writers finished).
DeliveryReport Classify(const std::vector<const SendShard*>& sends,
                        const std::vector<const ReceiveShard*>& receives,
                        const std::vector<DomainInfo>& domains, size_t max_examples = 10);

// Sets report->lost_stored: how many of the messages Classify() counted as lost (acked, never
// received intact, domain caught up) `stored` holds, and lists up to max_examples of them, lowest
// domain and seq first, under examples["lost_stored"]. `stored` records what the broker still
// stored for the topic when it was read after the drain, independently of any consumer group.
void CountLostStored(const std::vector<const SendShard*>& sends,
                     const std::vector<const ReceiveShard*>& receives,
                     const std::vector<DomainInfo>& domains, const ReceiveShard& stored,
                     DeliveryReport* report, size_t max_examples = 10);

}  // namespace drone::verify
