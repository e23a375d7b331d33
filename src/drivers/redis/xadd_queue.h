// XaddQueue: XADD commands of one stream, formatted in RESP as they are queued, waiting to be
// written. The producer formats the next batch while the previous one is on the wire, then
// hands any leading run of commands to hiredis as one contiguous block of bytes. Each command is
// `XADD <stream> * <field> <payload>`, byte for byte what redisFormatCommandArgv makes of that
// argv; the part before the payload's length is formatted once, in the constructor.
//
// Thread-safety: none; one producer thread owns a queue.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace drone::drivers::redis {

class XaddQueue {
 public:
  XaddQueue(std::string_view stream, std::string_view field);

  // Queues `XADD <stream> * <field> <payload>`.
  void Push(std::string_view payload);
  // Commands queued.
  size_t size() const { return ends_.size() - head_; }
  bool empty() const { return size() == 0; }
  // The RESP bytes of the first `n` queued commands (n <= size()), valid until the next Push,
  // Pop or Clear.
  std::string_view Front(size_t n) const;
  // Drops the first `n` queued commands (n <= size()).
  void Pop(size_t n);
  void Clear();

 private:
  std::string prefix_;       // "*5\r\n$4\r\nXADD\r\n$<n>\r\n<stream>\r\n$1\r\n*\r\n$<n>\r\n<field>\r\n$"
  std::string bytes_;        // the queued commands, from begin_ on
  size_t begin_ = 0;         // offset of the first queued command in bytes_
  std::vector<size_t> ends_;  // end offset of each command in bytes_, from head_ on
  size_t head_ = 0;
};

}  // namespace drone::drivers::redis
