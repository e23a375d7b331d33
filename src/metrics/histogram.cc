#include "metrics/histogram.h"

#include <cassert>
#include <cmath>
#include <limits>
#include <utility>

#include "core/bytes.h"

namespace drone::metrics {
namespace {

constexpr std::memory_order kRelaxed = std::memory_order_relaxed;

// Serialised layout (all integers unsigned LEB128 varints):
//   "DHG1" lowest highest significant_digits total_count min max entry_count
//   entry_count x (gap, count)
// where gap is the number of empty counters skipped since the previous non-empty one (or since
// index 0), and count > 0.
constexpr std::string_view kMagic = "DHG1";

int64_t Pow10(int digits) {
  int64_t p = 1;
  for (int i = 0; i < digits; ++i) p *= 10;
  return p;
}

}  // namespace

Histogram::Histogram() : Histogram(kDefaultLowest, kDefaultHighest, kDefaultSignificantDigits) {}

Histogram::Histogram(int64_t lowest, int64_t highest, int significant_digits)
    : lowest_(lowest), highest_(highest), significant_digits_(significant_digits) {
  // A bad configuration is a programming error: user-supplied ones go through CheckConfig().
  assert(CheckConfig(lowest, highest, significant_digits).ok());
  const auto precision = static_cast<uint64_t>(Pow10(significant_digits));
  // 2^ceil(log2(10^digits)) sub-buckets per power of two: a bucket's width is at most
  // 10^-digits of the values it holds.
  sub_bucket_half_count_magnitude_ = std::bit_width(precision - 1);
  sub_bucket_half_count_ = size_t{1} << sub_bucket_half_count_magnitude_;
  // Unlike HdrHistogram (unit = lowest), the first bucket's unit is the largest power of two
  // <= lowest / 10^digits, so the relative precision holds from `lowest` up rather than only
  // from 1024 x lowest. Values below `lowest` are then kept at least as finely.
  const uint64_t unit = static_cast<uint64_t>(lowest) / precision;
  unit_magnitude_ = unit == 0 ? 0 : std::bit_width(unit) - 1;
  sub_bucket_mask_ = ((uint64_t{2} << sub_bucket_half_count_magnitude_) - 1) << unit_magnitude_;
  // Only up to the counter of `highest`: clamped values never index past it.
  counts_len_ = IndexOf(highest) + 1;
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(counts_len_);
}

Status Histogram::CheckConfig(int64_t lowest, int64_t highest, int significant_digits) {
  if (lowest < 1) return InvalidArgument("histogram lowest value must be >= 1");
  if (highest > kMaxHighest) return InvalidArgument("histogram highest value must be <= 2^62");
  if (highest / 2 < lowest) {
    return InvalidArgument("histogram highest value must be >= 2 x lowest value");
  }
  if (significant_digits < 1 || significant_digits > 5) {
    return InvalidArgument("histogram significant digits must be in [1, 5]");
  }
  return Status::Ok();
}

Histogram::Histogram(const Histogram& other)
    : lowest_(other.lowest_),
      highest_(other.highest_),
      significant_digits_(other.significant_digits_),
      unit_magnitude_(other.unit_magnitude_),
      sub_bucket_half_count_magnitude_(other.sub_bucket_half_count_magnitude_),
      sub_bucket_half_count_(other.sub_bucket_half_count_),
      sub_bucket_mask_(other.sub_bucket_mask_),
      counts_len_(other.counts_len_),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(counts_len_)) {
  // The owner may be recording: the total is recomputed from the counters actually copied so
  // the copy is self-consistent, and min/max are reconciled with those counters.
  const int64_t min_hint = other.min_.load(kRelaxed);
  const int64_t max_hint = other.max_.load(kRelaxed);
  uint64_t total = 0;
  for (size_t i = 0; i < counts_len_; ++i) {
    const uint64_t c = other.counts_[i].load(kRelaxed);
    counts_[i].store(c, kRelaxed);
    total += c;
  }
  SetExtremes(total, min_hint, max_hint);
}

Histogram& Histogram::operator=(const Histogram& other) {
  if (this != &other) *this = Histogram(other);
  return *this;
}

Histogram::Histogram(Histogram&& other) noexcept
    : lowest_(other.lowest_),
      highest_(other.highest_),
      significant_digits_(other.significant_digits_),
      unit_magnitude_(other.unit_magnitude_),
      sub_bucket_half_count_magnitude_(other.sub_bucket_half_count_magnitude_),
      sub_bucket_half_count_(other.sub_bucket_half_count_),
      sub_bucket_mask_(other.sub_bucket_mask_),
      counts_len_(other.counts_len_),
      counts_(std::move(other.counts_)),
      total_count_(other.total_count_.load(kRelaxed)),
      min_(other.min_.load(kRelaxed)),
      max_(other.max_.load(kRelaxed)) {
  other.counts_len_ = 0;
  other.total_count_.store(0, kRelaxed);
  other.min_.store(INT64_MAX, kRelaxed);
  other.max_.store(0, kRelaxed);
}

Histogram& Histogram::operator=(Histogram&& other) noexcept {
  if (this == &other) return *this;
  lowest_ = other.lowest_;
  highest_ = other.highest_;
  significant_digits_ = other.significant_digits_;
  unit_magnitude_ = other.unit_magnitude_;
  sub_bucket_half_count_magnitude_ = other.sub_bucket_half_count_magnitude_;
  sub_bucket_half_count_ = other.sub_bucket_half_count_;
  sub_bucket_mask_ = other.sub_bucket_mask_;
  counts_len_ = other.counts_len_;
  counts_ = std::move(other.counts_);
  total_count_.store(other.total_count_.load(kRelaxed), kRelaxed);
  min_.store(other.min_.load(kRelaxed), kRelaxed);
  max_.store(other.max_.load(kRelaxed), kRelaxed);
  other.counts_len_ = 0;
  other.total_count_.store(0, kRelaxed);
  other.min_.store(INT64_MAX, kRelaxed);
  other.max_.store(0, kRelaxed);
  return *this;
}

int64_t Histogram::Min() const { return TotalCount() == 0 ? 0 : min_.load(kRelaxed); }

int64_t Histogram::Max() const { return TotalCount() == 0 ? 0 : max_.load(kRelaxed); }

int64_t Histogram::LowestEquivalent(size_t index) const {
  int bucket = static_cast<int>(index >> sub_bucket_half_count_magnitude_) - 1;
  size_t sub_bucket = (index & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
  if (bucket < 0) {  // the lower half of the first bucket
    sub_bucket -= sub_bucket_half_count_;
    bucket = 0;
  }
  return static_cast<int64_t>(sub_bucket) << (bucket + unit_magnitude_);
}

int64_t Histogram::HighestEquivalent(size_t index) const {
  const int bucket = std::max(0, static_cast<int>(index >> sub_bucket_half_count_magnitude_) - 1);
  return LowestEquivalent(index) + (int64_t{1} << (bucket + unit_magnitude_)) - 1;
}

int64_t Histogram::MedianEquivalent(size_t index) const {
  const int bucket = std::max(0, static_cast<int>(index >> sub_bucket_half_count_magnitude_) - 1);
  return LowestEquivalent(index) + ((int64_t{1} << (bucket + unit_magnitude_)) >> 1);
}

size_t Histogram::MinIndex() const {
  const int64_t m = min_.load(kRelaxed);
  return m >= 0 && m <= highest_ ? IndexOf(m) : 0;
}

bool Histogram::SameConfig(const Histogram& other) const {
  return lowest_ == other.lowest_ && highest_ == other.highest_ &&
         significant_digits_ == other.significant_digits_ && counts_len_ == other.counts_len_;
}

void Histogram::SetExtremes(uint64_t total, int64_t min_hint, int64_t max_hint) {
  total_count_.store(total, kRelaxed);
  if (total == 0) {
    min_.store(INT64_MAX, kRelaxed);
    max_.store(0, kRelaxed);
    return;
  }
  size_t lo = 0;
  while (counts_[lo].load(kRelaxed) == 0) ++lo;
  size_t hi = counts_len_ - 1;
  while (counts_[hi].load(kRelaxed) == 0) --hi;
  const auto in_bucket = [this](int64_t v, size_t index) {
    return v >= 0 && v <= highest_ && IndexOf(v) == index;
  };
  int64_t min = in_bucket(min_hint, lo) ? min_hint : LowestEquivalent(lo);
  int64_t max = in_bucket(max_hint, hi) ? max_hint : std::min(HighestEquivalent(hi), highest_);
  if (min > max) {  // hints read from different moments of a concurrent writer
    min = LowestEquivalent(lo);
    max = std::min(HighestEquivalent(hi), highest_);
  }
  min_.store(min, kRelaxed);
  max_.store(max, kRelaxed);
}

double Histogram::Mean() const {
  const uint64_t total = TotalCount();
  if (total == 0) return 0;
  const int64_t min = Min();
  const int64_t max = Max();
  double sum = 0;
  uint64_t seen = 0;
  for (size_t i = MinIndex(); i < counts_len_ && seen < total; ++i) {
    const uint64_t c = counts_[i].load(kRelaxed);
    if (c == 0) continue;
    sum += static_cast<double>(c) * static_cast<double>(std::clamp(MedianEquivalent(i), min, max));
    seen += c;
  }
  return seen == 0 ? 0 : sum / static_cast<double>(seen);
}

int64_t Histogram::ValueAtPercentile(double p) const {
  const uint64_t total = TotalCount();
  if (total == 0) return 0;
  if (!(p > 0)) return Min();  // also catches NaN
  if (p >= 100) return Max();
  // Nearest rank; the relative epsilon keeps e.g. 99.9% of 100000 at rank 99900 despite 99.9
  // not being exact in binary.
  const double r = p * static_cast<double>(total) / 100.0;
  auto rank = static_cast<uint64_t>(std::ceil(r - r * 1e-12));
  rank = std::clamp<uint64_t>(rank, 1, total);
  const int64_t max = Max();
  uint64_t cumulative = 0;
  for (size_t i = MinIndex(); i < counts_len_; ++i) {
    cumulative += counts_[i].load(kRelaxed);
    if (cumulative >= rank) return std::min(HighestEquivalent(i), max);
  }
  return max;
}

std::vector<uint64_t> Histogram::CumulativeCounts(const std::vector<int64_t>& upper_bounds) const {
  assert(std::is_sorted(upper_bounds.begin(), upper_bounds.end()));
  std::vector<uint64_t> out;
  out.reserve(upper_bounds.size());
  uint64_t cumulative = 0;
  size_t next = 0;  // the first counter not yet added
  for (int64_t bound : upper_bounds) {
    if (bound < 0) {
      out.push_back(0);
      continue;
    }
    const size_t last = bound >= highest_ ? counts_len_ - 1 : IndexOf(bound);
    for (; next <= last && next < counts_len_; ++next) cumulative += counts_[next].load(kRelaxed);
    out.push_back(cumulative);
  }
  return out;
}

void Histogram::Merge(const Histogram& other) {
  // Merging histograms of different layouts would add unrelated counters.
  assert(SameConfig(other));
  const size_t n = std::min(counts_len_, other.counts_len_);
  uint64_t added = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t c = other.counts_[i].load(kRelaxed);
    if (c == 0) continue;
    counts_[i].store(counts_[i].load(kRelaxed) + c, kRelaxed);
    added += c;
  }
  if (added == 0) return;
  total_count_.store(total_count_.load(kRelaxed) + added, kRelaxed);
  const int64_t other_min = other.min_.load(kRelaxed);
  const int64_t other_max = other.max_.load(kRelaxed);
  if (other_min < min_.load(kRelaxed)) min_.store(other_min, kRelaxed);
  if (other_max > max_.load(kRelaxed)) max_.store(other_max, kRelaxed);
}

void Histogram::Subtract(const Histogram& earlier) {
  // Only an earlier snapshot of this same histogram has a meaningful difference.
  assert(SameConfig(earlier));
  uint64_t total = 0;
  for (size_t i = 0; i < counts_len_; ++i) {
    const uint64_t c = counts_[i].load(kRelaxed);
    const uint64_t e = i < earlier.counts_len_ ? earlier.counts_[i].load(kRelaxed) : 0;
    // Counters of a cumulative histogram never decrease, so `earlier` cannot exceed us.
    assert(e <= c);
    const uint64_t d = c > e ? c - e : 0;
    counts_[i].store(d, kRelaxed);
    total += d;
  }
  // Our min/max bound every value ever recorded, so they stay exact whenever they fall in the
  // interval's extreme buckets; otherwise those buckets' bounds are the best we know.
  SetExtremes(total, min_.load(kRelaxed), max_.load(kRelaxed));
}

void Histogram::Reset() {
  for (size_t i = 0; i < counts_len_; ++i) counts_[i].store(0, kRelaxed);
  total_count_.store(0, kRelaxed);
  min_.store(INT64_MAX, kRelaxed);
  max_.store(0, kRelaxed);
}

std::string Histogram::Serialize() const {
  // Entries first, so the header's count is the sum of what was written even if misused on a
  // histogram that is being recorded.
  ByteWriter entries;
  uint64_t entry_count = 0;
  uint64_t total = 0;
  size_t next = 0;
  for (size_t i = 0; i < counts_len_; ++i) {
    const uint64_t c = counts_[i].load(kRelaxed);
    if (c == 0) continue;
    entries.Varint(i - next);
    entries.Varint(c);
    next = i + 1;
    ++entry_count;
    total += c;
  }
  ByteWriter out;
  out.Raw(kMagic);
  out.Varint(static_cast<uint64_t>(lowest_));
  out.Varint(static_cast<uint64_t>(highest_));
  out.Varint(static_cast<uint64_t>(significant_digits_));
  out.Varint(total);
  out.Varint(static_cast<uint64_t>(total == 0 ? 0 : min_.load(kRelaxed)));
  out.Varint(static_cast<uint64_t>(total == 0 ? 0 : max_.load(kRelaxed)));
  out.Varint(entry_count);
  out.Raw(entries.str());
  return out.Take();
}

Result<Histogram> Histogram::Deserialize(std::string_view bytes) {
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic) {
    return InvalidArgument("not a serialized histogram: bad magic");
  }
  ByteReader in(bytes.substr(kMagic.size()));
  uint64_t lowest = 0, highest = 0, digits = 0, total = 0, min = 0, max = 0, entry_count = 0;
  if (!in.Varint(&lowest) || !in.Varint(&highest) || !in.Varint(&digits) || !in.Varint(&total) ||
      !in.Varint(&min) || !in.Varint(&max) || !in.Varint(&entry_count)) {
    return InvalidArgument("serialized histogram: truncated or malformed header");
  }
  constexpr auto kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (lowest > kInt64Max || highest > kInt64Max || digits > 5) {
    return InvalidArgument("serialized histogram: configuration out of range");
  }
  const Status config = CheckConfig(static_cast<int64_t>(lowest), static_cast<int64_t>(highest),
                                    static_cast<int>(digits));
  if (!config.ok()) return config.WithContext("serialized histogram");
  // Each entry takes at least two bytes; checked before allocating anything.
  if (entry_count > in.remaining() / 2) {
    return InvalidArgument("serialized histogram: truncated entries");
  }
  if (min > max || max > highest) {
    return InvalidArgument("serialized histogram: min/max out of range");
  }

  Histogram h(static_cast<int64_t>(lowest), static_cast<int64_t>(highest),
              static_cast<int>(digits));
  uint64_t sum = 0;
  size_t next = 0;
  size_t first = 0;
  size_t last = 0;
  for (uint64_t e = 0; e < entry_count; ++e) {
    uint64_t gap = 0, count = 0;
    if (!in.Varint(&gap) || !in.Varint(&count)) {
      return InvalidArgument("serialized histogram: truncated entries");
    }
    if (gap >= h.counts_len_ - next) {
      return InvalidArgument("serialized histogram: bucket index out of range");
    }
    if (count == 0 || count > std::numeric_limits<uint64_t>::max() - sum) {
      return InvalidArgument("serialized histogram: bad bucket count");
    }
    const size_t index = next + static_cast<size_t>(gap);
    h.counts_[index].store(count, kRelaxed);
    sum += count;
    if (e == 0) first = index;
    last = index;
    next = index + 1;
  }
  if (in.remaining() != 0) return InvalidArgument("serialized histogram: trailing bytes");
  if (sum != total) return InvalidArgument("serialized histogram: counts do not sum to total");
  if (total == 0) {
    if (min != 0 || max != 0) return InvalidArgument("serialized histogram: empty with min/max");
    return h;
  }
  if (h.IndexOf(static_cast<int64_t>(min)) != first ||
      h.IndexOf(static_cast<int64_t>(max)) != last) {
    return InvalidArgument("serialized histogram: min/max disagree with buckets");
  }
  h.total_count_.store(total, kRelaxed);
  h.min_.store(static_cast<int64_t>(min), kRelaxed);
  h.max_.store(static_cast<int64_t>(max), kRelaxed);
  return h;
}

bool Histogram::operator==(const Histogram& other) const {
  if (!SameConfig(other) || TotalCount() != other.TotalCount() || Min() != other.Min() ||
      Max() != other.Max()) {
    return false;
  }
  for (size_t i = 0; i < counts_len_; ++i) {
    if (counts_[i].load(kRelaxed) != other.counts_[i].load(kRelaxed)) return false;
  }
  return true;
}

size_t Histogram::MemoryBytes() const {
  return sizeof(*this) + counts_len_ * sizeof(std::atomic<uint64_t>);
}

LatencySummary Summarize(const Histogram& histogram) {
  constexpr double kNsPerMs = 1e6;
  LatencySummary s;
  s.p50_ms = static_cast<double>(histogram.ValueAtPercentile(50)) / kNsPerMs;
  s.p90_ms = static_cast<double>(histogram.ValueAtPercentile(90)) / kNsPerMs;
  s.p99_ms = static_cast<double>(histogram.ValueAtPercentile(99)) / kNsPerMs;
  s.p999_ms = static_cast<double>(histogram.ValueAtPercentile(99.9)) / kNsPerMs;
  s.max_ms = static_cast<double>(histogram.Max()) / kNsPerMs;
  s.mean_ms = histogram.Mean() / kNsPerMs;
  s.count = histogram.TotalCount();
  return s;
}

}  // namespace drone::metrics
