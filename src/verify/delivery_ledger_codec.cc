// Binary forms of the ledger shards (delivery_ledger.h): what a worker process sends to the
// coordinator of a distributed workload.
//
// Layout (varints are unsigned LEB128, words fixed 64-bit little-endian):
//   array  := size (cells) run_count run_count x (repeat, word); the repeats sum to the word count
//   "DLS1" domain_count domain_count x array
//   "DLR1" domain_count domain_count x array
//          extra_count extra_count x (packed id, copies) reordered corrupt unexpected
//          reordered_example_count x (domain, seq) corrupt_example_count x (domain, seq)
#include <algorithm>

#include "core/bytes.h"
#include "verify/delivery_ledger.h"

namespace drone::verify {
namespace {

constexpr std::string_view kSendMagic = "DLS1";
constexpr std::string_view kReceiveMagic = "DLR1";

void PutArray(ByteWriter& out, const TwoBitArray& cells) {
  out.Varint(cells.size());
  const uint64_t words = cells.word_count();
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for (uint64_t w = 0; w < words; ++w) {
    const uint64_t word = cells.Word(w);
    if (!runs.empty() && runs.back().second == word) {
      ++runs.back().first;
    } else {
      runs.emplace_back(1, word);
    }
  }
  out.Varint(runs.size());
  for (const auto& [repeat, word] : runs) {
    out.Varint(repeat);
    out.Fixed64(word);
  }
}

// Reads one array into `cells`; counts its non-zero words into *budget_used.
Status GetArray(ByteReader& in, TwoBitArray& cells, uint64_t* budget_used, std::string_view what) {
  uint64_t size = 0, run_count = 0;
  if (!in.Varint(&size) || !in.Varint(&run_count)) {
    return InvalidArgument(std::string(what) + ": truncated");
  }
  if (size > kMaxSeq) return InvalidArgument(std::string(what) + ": domain larger than 2^40 cells");
  const uint64_t words = (size + TwoBitArray::kCellsPerWord - 1) / TwoBitArray::kCellsPerWord;
  // Each run takes at least nine bytes: checked before looping over a forged count.
  if (run_count > in.remaining() / 9 || run_count > words) {
    return InvalidArgument(std::string(what) + ": truncated runs");
  }
  uint64_t w = 0;
  uint64_t previous_word = 0;
  for (uint64_t r = 0; r < run_count; ++r) {
    uint64_t repeat = 0, word = 0;
    if (!in.Varint(&repeat) || !in.Fixed64(&word)) {
      return InvalidArgument(std::string(what) + ": truncated runs");
    }
    // Runs are maximal, as PutArray() writes them: one byte string per shard.
    if (r > 0 && word == previous_word) {
      return InvalidArgument(std::string(what) + ": runs not maximal");
    }
    previous_word = word;
    if (repeat == 0 || repeat > words - w) {
      return InvalidArgument(std::string(what) + ": runs do not match the size");
    }
    if (word != 0) {
      *budget_used += repeat;
      if (*budget_used > kMaxDecodedWords) {
        return InvalidArgument(std::string(what) + ": more than 2^27 non-zero words");
      }
      for (uint64_t i = 0; i < repeat; ++i) cells.SetWord(w + i, word);
    }
    w += repeat;
  }
  if (w != words) return InvalidArgument(std::string(what) + ": runs do not match the size");
  // Cells at or past size() were never written.
  const uint64_t used_in_last = size % TwoBitArray::kCellsPerWord;
  if (used_in_last != 0 && (cells.Word(words - 1) >> (2 * used_in_last)) != 0) {
    return InvalidArgument(std::string(what) + ": cells set past the size");
  }
  cells.ExtendSize(size);
  return Status::Ok();
}

void PutExamples(ByteWriter& out, const std::vector<MessageId>& ids) {
  out.Varint(ids.size());
  for (const MessageId& id : ids) {
    out.Varint(id.domain);
    out.Varint(id.seq);
  }
}

bool GetExamples(ByteReader& in, std::vector<MessageId>* ids, size_t max) {
  uint64_t n = 0;
  if (!in.Varint(&n) || n > max) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t domain = 0, seq = 0;
    if (!in.Varint(&domain) || !in.Varint(&seq) || domain >= kMaxDomains || seq >= kMaxSeq) {
      return false;
    }
    ids->push_back({static_cast<uint32_t>(domain), seq});
  }
  return true;
}

}  // namespace

std::string SendShard::Serialize() const {
  ByteWriter out;
  out.Raw(kSendMagic);
  out.Varint(domains_.size());
  for (const TwoBitArray& cells : domains_) PutArray(out, cells);
  return out.Take();
}

Result<SendShard> SendShard::Deserialize(std::string_view bytes) {
  ByteReader in(bytes);
  if (!in.Expect(kSendMagic)) return InvalidArgument("not a serialized send shard: bad magic");
  uint64_t domain_count = 0;
  // Each domain takes at least two bytes.
  if (!in.Varint(&domain_count) || domain_count > kMaxDomains || domain_count > in.remaining() / 2) {
    return InvalidArgument("serialized send shard: bad domain count");
  }
  SendShard shard;
  shard.domains_.resize(domain_count);
  uint64_t budget = 0;
  for (TwoBitArray& cells : shard.domains_) {
    RETURN_IF_ERROR(GetArray(in, cells, &budget, "serialized send shard"));
  }
  if (in.remaining() != 0) return InvalidArgument("serialized send shard: trailing bytes");
  return shard;
}

std::string ReceiveShard::Serialize() const {
  ByteWriter out;
  out.Raw(kReceiveMagic);
  out.Varint(counts_.size());
  for (const TwoBitArray& cells : counts_) PutArray(out, cells);
  // Sorted, so that equal shards serialise to equal bytes.
  std::vector<std::pair<uint64_t, uint64_t>> extra(extra_copies_.begin(), extra_copies_.end());
  std::sort(extra.begin(), extra.end());
  out.Varint(extra.size());
  for (const auto& [id, copies] : extra) {
    out.Varint(id);
    out.Varint(copies);
  }
  out.Varint(reordered_);
  out.Varint(corrupt_);
  out.Varint(unexpected_);
  PutExamples(out, reordered_examples_);
  PutExamples(out, corrupt_examples_);
  return out.Take();
}

Result<ReceiveShard> ReceiveShard::Deserialize(std::string_view bytes) {
  ByteReader in(bytes);
  if (!in.Expect(kReceiveMagic)) return InvalidArgument("not a serialized receive shard: bad magic");
  uint64_t domain_count = 0;
  if (!in.Varint(&domain_count) || domain_count > kMaxDomains || domain_count > in.remaining() / 2) {
    return InvalidArgument("serialized receive shard: bad domain count");
  }
  ReceiveShard shard;
  if (domain_count > 0) shard.GrowDomains(static_cast<uint32_t>(domain_count - 1));
  uint64_t budget = 0;
  for (TwoBitArray& cells : shard.counts_) {
    RETURN_IF_ERROR(GetArray(in, cells, &budget, "serialized receive shard"));
  }
  uint64_t extra_count = 0;
  if (!in.Varint(&extra_count) || extra_count > in.remaining() / 2) {
    return InvalidArgument("serialized receive shard: truncated extra copies");
  }
  uint64_t previous_id = 0;
  for (uint64_t i = 0; i < extra_count; ++i) {
    uint64_t id = 0, copies = 0;
    if (!in.Varint(&id) || !in.Varint(&copies)) {
      return InvalidArgument("serialized receive shard: truncated extra copies");
    }
    // Ascending, as Serialize() writes them: one byte string per shard.
    if (i > 0 && id <= previous_id) {
      return InvalidArgument("serialized receive shard: extra copies out of order");
    }
    previous_id = id;
    const auto domain = static_cast<uint32_t>(id >> 40);
    const uint64_t seq = id & (kMaxSeq - 1);
    // Copies beyond the third exist only for messages counted three times.
    if (copies == 0 || domain >= shard.counts_.size() || shard.counts_[domain].Get(seq) != 3) {
      return InvalidArgument("serialized receive shard: inconsistent extra copies");
    }
    shard.extra_copies_.emplace(id, copies);
  }
  if (!in.Varint(&shard.reordered_) || !in.Varint(&shard.corrupt_) ||
      !in.Varint(&shard.unexpected_) ||
      !GetExamples(in, &shard.reordered_examples_, kMaxStoredExamples) ||
      !GetExamples(in, &shard.corrupt_examples_, kMaxStoredExamples)) {
    return InvalidArgument("serialized receive shard: truncated counters or examples");
  }
  if (in.remaining() != 0) return InvalidArgument("serialized receive shard: trailing bytes");
  return shard;
}

}  // namespace drone::verify
