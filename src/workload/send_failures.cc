#include "workload/send_failures.h"

#include <algorithm>

namespace drone::workload {

void SendFailures::Add(bool nack, std::string_view error, uint64_t count) {
  if (count == 0) return;
  std::pair<bool, std::string> key{nack, std::string(error.empty() ? kNoReason : error)};
  auto it = counts_.find(key);
  if (it == counts_.end() && counts_.size() >= kMaxDistinct) {
    key.second = std::string(kOtherErrors);
    it = counts_.find(key);
  }
  if (it == counts_.end()) {
    counts_.emplace(std::move(key), count);
  } else {
    it->second += count;
  }
}

void SendFailures::Merge(const SendFailures& other) {
  for (const auto& [key, count] : other.counts_) Add(key.first, key.second, count);
}

std::vector<SendFailure> SendFailures::Top(size_t n) const {
  std::vector<SendFailure> all;
  for (const auto& [key, count] : counts_) all.push_back(SendFailure{key.first, key.second, count});
  std::sort(all.begin(), all.end(), [](const SendFailure& a, const SendFailure& b) {
    if (a.count != b.count) return a.count > b.count;
    if (a.nack != b.nack) return a.nack;
    return a.error < b.error;
  });
  if (all.size() > n) all.resize(n);
  return all;
}

}  // namespace drone::workload
