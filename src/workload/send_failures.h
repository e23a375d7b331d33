// Why sends failed: the error text each nack or indeterminate outcome came with, counted. A
// workload's result says `failed 5422`; this says what the broker or the client answered
// ("nats: no responders", "WAIT: 0 of 1 replicas acknowledged", "no delivery report").
//
// Thread-safety: one writer (a producer thread); Merge() and Top() after the writers finished.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace drone::workload {

struct SendFailure {
  bool nack = false;  // a definite failure; else indeterminate
  std::string error;
  uint64_t count = 0;
};

class SendFailures {
 public:
  // Distinct (outcome, error) pairs kept; the others are counted under kOtherErrors, so that
  // error texts carrying ids or addresses cannot grow the tally without bound.
  static constexpr size_t kMaxDistinct = 32;
  static constexpr std::string_view kOtherErrors = "(other errors)";
  static constexpr std::string_view kNoReason = "(no reason given)";

  void Add(bool nack, std::string_view error, uint64_t count = 1);
  void Merge(const SendFailures& other);
  bool empty() const { return counts_.empty(); }
  // The `n` most frequent, most frequent first (ties: nacks first, then by text).
  std::vector<SendFailure> Top(size_t n) const;
  // Every entry, in key order: for serialization.
  const std::map<std::pair<bool, std::string>, uint64_t>& counts() const { return counts_; }

 private:
  std::map<std::pair<bool, std::string>, uint64_t> counts_;
};

}  // namespace drone::workload
