// Histogram: a log-linear latency histogram in the style of HdrHistogram (written here, no
// third-party library). Values are int64 nanoseconds. Each power-of-two range ("bucket") is split
// into 2^ceil(log2(10^digits)) equal sub-buckets, so every value >= `lowest` is reported with a
// relative error of at most 10^-digits (0.1% for the default 3 digits). Memory is one 8-byte
// counter per sub-bucket: the default range (1 us .. 1 h, 3 digits) uses 33,421 counters, 267,456
// bytes (~261 KiB) per histogram, within 3% of the 32 x 1024 counters that accuracy needs (2
// digits: ~33 KB); see MemoryBytes(). Thread-safety: a Histogram has a single writer. Only the
// owning thread may call Record(), RecordN(), Merge(), Subtract(), Reset() or assign to it; the hot
// path takes no lock and issues no lock-prefixed instruction (relaxed atomic load + store). While
// the owner records, any other thread may call Snapshot() (or copy-construct) to get a
// self-consistent copy whose counts never go backwards from one snapshot to the next. Other const
// methods are data-race free from any thread but, while the owner records, may see a mix of old and
// new state; query a Snapshot() instead. To record from several threads, give each thread its own
// Histogram and Merge() them (HdrHistogram's interval-recorder pattern).
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace drone::metrics {

class Histogram {
 public:
  static constexpr int64_t kDefaultLowest = 1000;                // 1 us
  static constexpr int64_t kDefaultHighest = 3'600'000'000'000;  // 1 h
  static constexpr int kDefaultSignificantDigits = 3;
  // Keeps bucket arithmetic inside int64 (2^62 ns is ~146 years).
  static constexpr int64_t kMaxHighest = int64_t{1} << 62;

  // 1 us .. 1 h, 3 significant digits.
  Histogram();

  // Values in [lowest, highest] are tracked to `significant_digits` decimal digits. Values below
  // `lowest` (including negative values, which are recorded as 0) land in the first, linear
  // bucket; values above `highest` are recorded as `highest`. Precondition:
  // CheckConfig(lowest, highest, significant_digits).ok() (asserted).
  Histogram(int64_t lowest, int64_t highest, int significant_digits);

  // Returns InvalidArgument unless 1 <= lowest, 2 * lowest <= highest <= kMaxHighest and
  // 1 <= significant_digits <= 5. For configurations taken from user input.
  [[nodiscard]] static Status CheckConfig(int64_t lowest, int64_t highest, int significant_digits);

  // Copying has Snapshot() semantics: `other` may be recording on its owner thread.
  Histogram(const Histogram& other);
  Histogram& operator=(const Histogram& other);
  // A moved-from Histogram may only be destroyed or assigned to.
  Histogram(Histogram&& other) noexcept;
  Histogram& operator=(Histogram&& other) noexcept;
  ~Histogram() = default;

  // Owner thread only. Record(v) == RecordN(v, 1).
  void Record(int64_t value) { RecordN(value, 1); }
  void RecordN(int64_t value, uint64_t count) {
    if (count == 0) return;
    value = std::clamp(value, int64_t{0}, highest_);
    // Single writer: a relaxed load + store (two plain movs on x86) is an exact increment as
    // long as nobody else writes, and lets a reader load each counter without tearing.
    std::atomic<uint64_t>& slot = counts_[IndexOf(value)];
    slot.store(slot.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
    total_count_.store(total_count_.load(std::memory_order_relaxed) + count,
                       std::memory_order_relaxed);
    if (value < min_.load(std::memory_order_relaxed)) {
      min_.store(value, std::memory_order_relaxed);
    }
    if (value > max_.load(std::memory_order_relaxed)) {
      max_.store(value, std::memory_order_relaxed);
    }
  }

  uint64_t TotalCount() const { return total_count_.load(std::memory_order_relaxed); }
  // Exact smallest / largest recorded value (after clamping to [0, highest]); 0 when empty.
  int64_t Min() const;
  int64_t Max() const;
  // Mean of bucket midpoints (clamped to [Min(), Max()]): within 10^-digits / 2 relative of the
  // exact mean for values >= lowest. 0 when empty.
  double Mean() const;

  // The value at percentile `p` (clamped to [0, 100]) by the nearest-rank definition: the
  // highest value equivalent to the bucket holding the ceil(p% * count)-th smallest value, but
  // never more than Max(). p = 0 returns Min(), p = 100 returns Max(); 0 when empty.
  int64_t ValueAtPercentile(double p) const;

  // For each bound of `upper_bounds` (ascending), how many recorded values are <= it, counting a
  // value as <= b when it is equivalent to b (lies in b's sub-bucket): the cumulative `le`
  // buckets of a Prometheus histogram, within the histogram's precision. Bounds above highest()
  // count everything. One pass over the counters; query a Snapshot() while the owner records.
  std::vector<uint64_t> CumulativeCounts(const std::vector<int64_t>& upper_bounds) const;

  // Adds `other`'s counts. Owner thread only; `other` must have the same configuration
  // (asserted) and should not be recording (merge other.Snapshot() if it might be).
  void Merge(const Histogram& other);

  // this = this - earlier, where `earlier` is an earlier snapshot of this same cumulative
  // histogram (each of its counts <= ours; asserted, and saturates at 0 if violated). Turns
  // cumulative snapshots into interval histograms. Min()/Max() of the result are bounded by the
  // lowest / highest non-empty bucket and so may be approximate. Owner thread only.
  void Subtract(const Histogram& earlier);

  // A copy that is safe to take from another thread while the owner records: each counter is a
  // value the owner stored, TotalCount() is the sum of the copied counters (so successive
  // snapshots never decrease), and Min()/Max() are made consistent with the copied buckets.
  Histogram Snapshot() const { return Histogram(*this); }

  // Back to empty. Owner thread only; a concurrent Snapshot() may see a partly reset state.
  void Reset();

  // Compact binary form: magic, configuration, count, min, max, then (gap, count) varint pairs
  // for the non-empty buckets. Deserialize() accepts exactly what Serialize() produces and returns
  // InvalidArgument for anything else (truncation, trailing bytes, bad configuration,
  // inconsistent counts) without reading out of bounds. A forged header can make it allocate at
  // most what the largest valid configuration needs (~50 MB for 5 digits over 1 .. 2^62).
  std::string Serialize() const;
  static Result<Histogram> Deserialize(std::string_view bytes);

  // Same configuration, counts, min and max.
  bool operator==(const Histogram& other) const;

  int64_t lowest() const { return lowest_; }
  int64_t highest() const { return highest_; }
  int significant_digits() const { return significant_digits_; }
  // Heap + inline bytes used by this histogram.
  size_t MemoryBytes() const;

 private:
  // Index of the counter for a value in [0, highest_].
  size_t IndexOf(int64_t value) const {
    const uint64_t v = static_cast<uint64_t>(value);
    const int pow2_ceiling = 64 - std::countl_zero(v | sub_bucket_mask_);
    const int bucket = pow2_ceiling - unit_magnitude_ - (sub_bucket_half_count_magnitude_ + 1);
    const uint64_t sub_bucket = v >> (bucket + unit_magnitude_);
    return (static_cast<size_t>(bucket + 1) << sub_bucket_half_count_magnitude_) +
           static_cast<size_t>(sub_bucket) - sub_bucket_half_count_;
  }
  int64_t LowestEquivalent(size_t index) const;
  int64_t HighestEquivalent(size_t index) const;  // may exceed highest_ in the last bucket
  int64_t MedianEquivalent(size_t index) const;
  // Where scans may start: the index of Min() (0 if min_ is not a recorded value yet).
  size_t MinIndex() const;
  bool SameConfig(const Histogram& other) const;
  // Sets min_/max_ from the counters and the hints (exact extremes if they fall into the
  // lowest / highest non-empty bucket, else that bucket's bound), and total_count_ to `total`.
  void SetExtremes(uint64_t total, int64_t min_hint, int64_t max_hint);

  int64_t lowest_;
  int64_t highest_;
  int significant_digits_;
  int unit_magnitude_;                   // log2 of the width of a first-bucket sub-bucket
  int sub_bucket_half_count_magnitude_;  // log2 of the sub-buckets per power of two
  size_t sub_bucket_half_count_;
  uint64_t sub_bucket_mask_;
  size_t counts_len_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> total_count_{0};
  std::atomic<int64_t> min_{INT64_MAX};  // INT64_MAX / 0 when empty
  std::atomic<int64_t> max_{0};
};

// The usual latency digest of a histogram, in milliseconds.
struct LatencySummary {
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double p999_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
  uint64_t count = 0;
};

LatencySummary Summarize(const Histogram& histogram);

}  // namespace drone::metrics
