#include "verify/delivery_ledger.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <nlohmann/json.hpp>

namespace drone::verify {
namespace {

// Strength of each SendOutcome value when one message is recorded twice.
constexpr uint8_t kOutcomeRank[4] = {
    /*kNone=*/0, /*kAck=*/3, /*kNack=*/1, /*kIndeterminate=*/2};

// A word whose 32 cells are all 1: all acked (send side) or all received once (receive side).
constexpr uint64_t kAllOnes = 0x5555555555555555ULL;

template <typename Map>
size_t UnorderedMapBytes(const Map& map) {
  // Buckets plus one node (next pointer, cached hash, key, value) per element.
  return map.bucket_count() * sizeof(void*) +
         map.size() * (2 * sizeof(void*) + sizeof(typename Map::value_type));
}

// Outcome word of word `w` merged over the shards that sent to one domain: usually one shard, so
// the merge per cell is the rare path.
uint64_t MergeSendWord(const std::vector<const TwoBitArray*>& arrays, uint64_t w) {
  if (arrays.empty()) return 0;
  uint64_t merged = arrays[0]->Word(w);
  for (size_t a = 1; a < arrays.size(); ++a) {
    const uint64_t other = arrays[a]->Word(w);
    if (other == 0) continue;
    for (int shift = 0; shift < 64; shift += 2) {
      const uint64_t mine = (merged >> shift) & 3;
      const uint64_t theirs = (other >> shift) & 3;
      if (kOutcomeRank[theirs] > kOutcomeRank[mine]) merged ^= (mine ^ theirs) << shift;
    }
  }
  return merged;
}

// Receive-count word `w` summed over the shards that read one domain, saturating each cell at 3;
// copies beyond that are added to *overflow.
uint64_t MergeReceiveWord(const std::vector<const TwoBitArray*>& arrays, uint64_t w,
                          uint64_t* overflow) {
  if (arrays.empty()) return 0;
  uint64_t merged = arrays[0]->Word(w);
  for (size_t a = 1; a < arrays.size(); ++a) {
    const uint64_t other = arrays[a]->Word(w);
    if (other == 0) continue;
    if (merged == 0) {
      merged = other;
      continue;
    }
    for (int shift = 0; shift < 64; shift += 2) {
      const uint64_t sum = ((merged >> shift) & 3) + ((other >> shift) & 3);
      const uint64_t kept = std::min<uint64_t>(sum, 3);
      *overflow += sum - kept;
      merged = (merged & ~(uint64_t{3} << shift)) | (kept << shift);
    }
  }
  return merged;
}

// Sum of the 32 counts in a receive-count word.
uint64_t CellSum(uint64_t word) {
  return static_cast<uint64_t>(std::popcount(word & kAllOnes)) +
         2 * static_cast<uint64_t>(std::popcount(word & ~kAllOnes));
}

class Classifier {
 public:
  Classifier(const std::vector<DomainInfo>& domains, size_t max_examples, DeliveryReport* report)
      : domains_(domains), max_examples_(max_examples), report_(*report) {}

  std::string Name(uint32_t domain) const {
    if (domain < domains_.size()) return domains_[domain].name;
    return "domain-" + std::to_string(domain);
  }

  std::map<const char*, std::vector<std::string>*> example_lists_;

  void Example(const char* category, uint32_t domain, uint64_t seq) {
    if (max_examples_ == 0) return;
    // Called for every message that is not ok: look the list up by the literal's address, so a
    // full list costs no string construction.
    std::vector<std::string>*& list = example_lists_[category];
    if (list == nullptr) list = &report_.examples[category];
    if (list->size() < max_examples_) list->push_back(Name(domain) + "#" + std::to_string(seq));
  }

  // Classifies the 32 messages of one word the slow way.
  void Cells(uint32_t domain, uint64_t first_seq, uint64_t sends, uint64_t counts, bool caught_up,
             uint64_t received_end) {
    DeliveryReport& r = report_;
    for (int i = 0; i < 32; ++i) {
      const auto outcome = static_cast<SendOutcome>((sends >> (2 * i)) & 3);
      const uint64_t count = (counts >> (2 * i)) & 3;
      if (outcome == SendOutcome::kNone && count == 0) continue;
      const uint64_t seq = first_seq + static_cast<uint64_t>(i);
      if (outcome != SendOutcome::kNone) ++r.sent;
      if (count >= 2) {
        ++r.duplicated;
        r.duplicate_copies += count - 1;
        Example("duplicated", domain, seq);
        continue;
      }
      switch (outcome) {
        case SendOutcome::kNone:  // count == 1
          ++r.unacked_received;
          Example("unacked_received", domain, seq);
          break;
        case SendOutcome::kAck:
          if (count == 1) {
            ++r.ok;
          } else if (!caught_up) {
            ++r.unseen;
            Example("unseen", domain, seq);
          } else {
            ++r.lost;
            ++(seq + 1 < received_end ? r.lost_gap : r.lost_tail);
            Example("lost", domain, seq);
          }
          break;
        case SendOutcome::kIndeterminate:
          if (count == 1) {
            ++r.recovered;
            Example("recovered", domain, seq);
          } else {
            ++r.unknown;
            Example("unknown", domain, seq);
          }
          break;
        case SendOutcome::kNack:
          if (count == 1) {
            ++r.phantom;
            Example("phantom", domain, seq);
          } else {
            ++r.failed;
            Example("failed", domain, seq);
          }
          break;
      }
    }
  }

 private:
  const std::vector<DomainInfo>& domains_;
  size_t max_examples_;
  DeliveryReport& report_;
};

}  // namespace

void SendShard::Record(uint32_t domain, uint64_t seq, SendOutcome outcome) {
  // The engine assigns domains and seqs densely from 0; ids this large mean a bookkeeping bug.
  assert(domain < kMaxDomains && seq < kMaxSeq);
  if (domain >= domains_.size()) [[unlikely]] {
    domains_.resize(domain + 1);
  }
  uint64_t& word = domains_[domain].MutableWord(seq);
  const int shift = TwoBitArray::Shift(seq);
  const uint64_t old_value = (word >> shift) & 3;
  const uint64_t new_value = static_cast<uint64_t>(outcome) & 3;
  if (kOutcomeRank[new_value] > kOutcomeRank[old_value]) word ^= (old_value ^ new_value) << shift;
}

size_t SendShard::MemoryBytes() const {
  size_t bytes = sizeof(*this) + domains_.capacity() * sizeof(TwoBitArray);
  for (const TwoBitArray& cells : domains_) bytes += cells.HeapBytes();
  return bytes;
}

void SendShard::Merge(const SendShard& other) {
  if (other.domains_.size() > domains_.size()) domains_.resize(other.domains_.size());
  for (uint32_t domain = 0; domain < other.domains_.size(); ++domain) {
    const TwoBitArray& theirs = other.domains_[domain];
    TwoBitArray& mine = domains_[domain];
    const std::vector<const TwoBitArray*> both = {&mine, &theirs};
    for (uint64_t w = 0; w < theirs.word_count(); ++w) {
      if (theirs.Word(w) == 0) continue;
      mine.SetWord(w, MergeSendWord(both, w));
    }
    mine.ExtendSize(theirs.size());
  }
}

void ReceiveShard::Merge(const ReceiveShard& other) {
  if (other.counts_.size() > counts_.size()) GrowDomains(static_cast<uint32_t>(other.counts_.size() - 1));
  for (uint32_t domain = 0; domain < other.counts_.size(); ++domain) {
    const TwoBitArray& theirs = other.counts_[domain];
    TwoBitArray& mine = counts_[domain];
    for (uint64_t w = 0; w < theirs.word_count(); ++w) {
      const uint64_t b = theirs.Word(w);
      if (b == 0) continue;
      uint64_t a = mine.Word(w);
      if (a == 0) {
        mine.SetWord(w, b);
        continue;
      }
      for (int i = 0; i < 32; ++i) {
        const int shift = 2 * i;
        const uint64_t sum = ((a >> shift) & 3) + ((b >> shift) & 3);
        const uint64_t kept = std::min<uint64_t>(sum, 3);
        if (sum > kept) extra_copies_[PackId(domain, w * TwoBitArray::kCellsPerWord + i)] += sum - kept;
        a = (a & ~(uint64_t{3} << shift)) | (kept << shift);
      }
      mine.SetWord(w, a);
    }
    mine.ExtendSize(theirs.size());
  }
  for (const auto& [id, extra] : other.extra_copies_) extra_copies_[id] += extra;
  reordered_ += other.reordered_;
  corrupt_ += other.corrupt_;
  unexpected_ += other.unexpected_;
  for (const MessageId& id : other.reordered_examples_) {
    if (reordered_examples_.size() < kMaxStoredExamples) reordered_examples_.push_back(id);
  }
  for (const MessageId& id : other.corrupt_examples_) {
    if (corrupt_examples_.size() < kMaxStoredExamples) corrupt_examples_.push_back(id);
  }
}

void ReceiveShard::Record(uint32_t domain, uint64_t seq, uint32_t session) {
  if (domain >= kMaxDomains || seq >= kMaxSeq) [[unlikely]] {
    ++unexpected_;
    return;
  }
  if (domain >= counts_.size()) [[unlikely]] {
    GrowDomains(domain);
  }
  uint64_t& word = counts_[domain].MutableWord(seq);
  const int shift = TwoBitArray::Shift(seq);
  if (((word >> shift) & 3) < 3) [[likely]] {
    word += uint64_t{1} << shift;  // no carry out of the cell: it was below 3
  } else {
    ++extra_copies_[PackId(domain, seq)];
  }

  Cursor* cursor = &cursors_[domain];
  if (cursor->session != session) [[unlikely]] {
    SwitchSession(domain, session);
  }
  if (seq + 1 < cursor->last_seq_plus_one) [[unlikely]] {
    ++reordered_;
    if (reordered_examples_.size() < kMaxStoredExamples) {
      reordered_examples_.push_back({domain, seq});
    }
  }
  // Comparing with the previous message (not the highest so far) counts backward steps: one
  // late message costs one, not one per message that overtook it.
  cursor->last_seq_plus_one = seq + 1;
}

void ReceiveShard::RecordCorrupt(uint32_t domain, uint64_t seq) {
  ++corrupt_;
  if (corrupt_examples_.size() < kMaxStoredExamples) corrupt_examples_.push_back({domain, seq});
}

void ReceiveShard::GrowDomains(uint32_t domain) {
  counts_.resize(domain + 1);
  cursors_.resize(domain + 1);
}

void ReceiveShard::SwitchSession(uint32_t domain, uint32_t session) {
  Cursor& cursor = cursors_[domain];
  if (cursor.last_seq_plus_one != 0) {
    stale_cursors_[(uint64_t{cursor.session} << 32) | domain] = cursor.last_seq_plus_one;
  }
  cursor.session = session;
  cursor.last_seq_plus_one = 0;
  auto it = stale_cursors_.find((uint64_t{session} << 32) | domain);
  if (it != stale_cursors_.end()) {
    cursor.last_seq_plus_one = it->second;
    stale_cursors_.erase(it);
  }
}

uint64_t ReceiveShard::ReceiveCount(uint32_t domain, uint64_t seq) const {
  const TwoBitArray* cells = counts(domain);
  if (cells == nullptr) return 0;
  uint64_t count = cells->Get(seq);
  if (count == 3 && domain < kMaxDomains && seq < kMaxSeq) {
    auto it = extra_copies_.find(PackId(domain, seq));
    if (it != extra_copies_.end()) count += it->second;
  }
  return count;
}

size_t ReceiveShard::MemoryBytes() const {
  size_t bytes =
      sizeof(*this) + counts_.capacity() * sizeof(TwoBitArray) +
      cursors_.capacity() * sizeof(Cursor) + UnorderedMapBytes(stale_cursors_) +
      UnorderedMapBytes(extra_copies_) +
      (reordered_examples_.capacity() + corrupt_examples_.capacity()) * sizeof(MessageId);
  for (const TwoBitArray& cells : counts_) bytes += cells.HeapBytes();
  return bytes;
}

nlohmann::json DeliveryReport::ToJson() const {
  nlohmann::json examples_json = nlohmann::json::object();
  for (const auto& [category, ids] : examples) examples_json[category] = ids;
  nlohmann::json out = {
      {"ok", ok},
      {"recovered", recovered},
      {"unknown", unknown},
      {"failed", failed},
      {"phantom", phantom},
      {"lost", lost},
      {"lost_gap", lost_gap},
      {"lost_tail", lost_tail},
      {"unseen", unseen},
      {"duplicated", duplicated},
      {"duplicate_copies", duplicate_copies},
      {"unacked_received", unacked_received},
      {"reordered", reordered},
      {"corrupt", corrupt},
      {"unexpected", unexpected},
      {"examples", std::move(examples_json)},
  };
  if (lost_stored >= 0) out["lost_stored"] = lost_stored;
  return out;
}

DeliveryReport Classify(const std::vector<const SendShard*>& sends,
                        const std::vector<const ReceiveShard*>& receives,
                        const std::vector<DomainInfo>& domains, size_t max_examples) {
  DeliveryReport report;
  Classifier classifier(domains, max_examples, &report);

  uint32_t domain_count = static_cast<uint32_t>(std::min<size_t>(domains.size(), kMaxDomains));
  for (const SendShard* shard : sends) domain_count = std::max(domain_count, shard->domain_count());

  std::vector<const TwoBitArray*> send_arrays;
  std::vector<const TwoBitArray*> receive_arrays;
  for (uint32_t domain = 0; domain < domain_count; ++domain) {
    send_arrays.clear();
    receive_arrays.clear();
    uint64_t end = 0;           // one past the highest seq sent or received
    uint64_t received_end = 0;  // one past the highest seq received
    for (const SendShard* shard : sends) {
      const TwoBitArray* cells = shard->outcomes(domain);
      if (cells == nullptr || cells->size() == 0) continue;
      send_arrays.push_back(cells);
      end = std::max(end, cells->size());
    }
    for (const ReceiveShard* shard : receives) {
      const TwoBitArray* cells = shard->counts(domain);
      if (cells == nullptr || cells->size() == 0) continue;
      receive_arrays.push_back(cells);
      received_end = std::max(received_end, cells->size());
    }
    end = std::max(end, received_end);
    const bool caught_up = domain < domains.size() && domains[domain].caught_up;
    const uint64_t words = (end + TwoBitArray::kCellsPerWord - 1) / TwoBitArray::kCellsPerWord;
    for (uint64_t w = 0; w < words; ++w) {
      const uint64_t sends_word = MergeSendWord(send_arrays, w);
      const uint64_t counts_word = MergeReceiveWord(receive_arrays, w, &report.duplicate_copies);
      if (sends_word == kAllOnes && counts_word == kAllOnes) [[likely]] {
        report.ok += 32;
        report.sent += 32;
        continue;
      }
      classifier.Cells(domain, w * TwoBitArray::kCellsPerWord, sends_word, counts_word, caught_up,
                       received_end);
    }
  }

  for (const ReceiveShard* shard : receives) {
    report.reordered += shard->reordered();
    report.corrupt += shard->corrupt();
    report.unexpected += shard->unexpected();
    for (const auto& [id, extra] : shard->extra_copies()) {
      // Copies beyond the third belong to a message that is already counted as duplicated,
      // unless its domain is unknown, in which case every copy is unexpected.
      (static_cast<uint32_t>(id >> 40) < domain_count ? report.duplicate_copies
                                                      : report.unexpected) += extra;
    }
    for (uint32_t domain = domain_count; domain < shard->domain_count(); ++domain) {
      const TwoBitArray& cells = *shard->counts(domain);
      for (uint64_t w = 0; w < cells.word_count(); ++w) report.unexpected += CellSum(cells.Word(w));
    }
    for (const MessageId& id : shard->reordered_examples()) {
      classifier.Example("reordered", id.domain, id.seq);
    }
    for (const MessageId& id : shard->corrupt_examples()) {
      classifier.Example("corrupt", id.domain, id.seq);
    }
  }
  return report;
}

void CountLostStored(const std::vector<const SendShard*>& sends,
                     const std::vector<const ReceiveShard*>& receives,
                     const std::vector<DomainInfo>& domains, const ReceiveShard& stored,
                     DeliveryReport* report, size_t max_examples) {
  report->lost_stored = 0;
  std::vector<std::string>* examples = nullptr;
  const uint32_t domain_count = std::min<uint32_t>(stored.domain_count(), static_cast<uint32_t>(domains.size()));
  for (uint32_t domain = 0; domain < domain_count; ++domain) {
    if (!domains[domain].caught_up) continue;  // its missing messages are unseen, not lost
    const TwoBitArray* held = stored.counts(domain);
    if (held == nullptr) continue;
    for (uint64_t w = 0; w < held->word_count(); ++w) {
      const uint64_t word = held->Word(w);
      if (word == 0) continue;
      for (int i = 0; i < 32; ++i) {
        if (((word >> (2 * i)) & 3) == 0) continue;
        const uint64_t seq = w * TwoBitArray::kCellsPerWord + static_cast<uint64_t>(i);
        // Lost: acked by some producer shard (the strongest outcome wins, see SendShard::Merge),
        // and no consumer received an intact copy.
        const bool acked = std::any_of(sends.begin(), sends.end(), [&](const SendShard* s) {
          return s->outcome(domain, seq) == SendOutcome::kAck;
        });
        if (!acked) continue;
        const bool received = std::any_of(receives.begin(), receives.end(), [&](const ReceiveShard* r) {
          return r->ReceiveCount(domain, seq) > 0;
        });
        if (received) continue;
        ++report->lost_stored;
        if (max_examples == 0) continue;
        if (examples == nullptr) examples = &report->examples["lost_stored"];
        if (examples->size() < max_examples) examples->push_back(domains[domain].name + "#" + std::to_string(seq));
      }
    }
  }
}

}  // namespace drone::verify
