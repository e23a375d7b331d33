#include "drivers/redis/xadd_queue.h"

#include <cassert>
#include <charconv>

namespace drone::drivers::redis {
namespace {

void AppendBulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out.append(s);
  out += "\r\n";
}

// Popped commands are dropped from the buffer's front in one move once they are this many and
// outnumber the ones left, so the buffer stays bounded without moving bytes per Pop.
constexpr size_t kCompactAfter = 64;

}  // namespace

XaddQueue::XaddQueue(std::string_view stream, std::string_view field) {
  prefix_ = "*5\r\n";
  AppendBulk(prefix_, "XADD");
  AppendBulk(prefix_, stream);
  AppendBulk(prefix_, "*");
  AppendBulk(prefix_, field);
  prefix_ += '$';
}

void XaddQueue::Push(std::string_view payload) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), payload.size());
  assert(ec == std::errc());  // a size_t always fits in 24 digits
  bytes_.append(prefix_);
  bytes_.append(digits, end);
  bytes_.append("\r\n", 2);
  bytes_.append(payload);
  bytes_.append("\r\n", 2);
  ends_.push_back(bytes_.size());
}

std::string_view XaddQueue::Front(size_t n) const {
  assert(n <= size());
  if (n == 0) return {};
  return std::string_view(bytes_).substr(begin_, ends_[head_ + n - 1] - begin_);
}

void XaddQueue::Pop(size_t n) {
  assert(n <= size());
  if (n == 0) return;
  head_ += n;
  if (head_ == ends_.size()) {
    Clear();  // the usual case: whole batches leave together; keeps the capacity
    return;
  }
  begin_ = ends_[head_ - 1];
  if (head_ >= kCompactAfter && head_ * 2 >= ends_.size()) {
    bytes_.erase(0, begin_);
    ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(head_));
    for (size_t& e : ends_) e -= begin_;
    begin_ = 0;
    head_ = 0;
  }
}

void XaddQueue::Clear() {
  bytes_.clear();
  ends_.clear();
  begin_ = 0;
  head_ = 0;
}

}  // namespace drone::drivers::redis
