// --history FILE: every send attempt and every receive as one JSON object per line, so that
// anyone can re-derive the verdict without trusting Drone. Threads append to buffers of their
// own (HistoryBuffer) that are written out in large chunks under one mutex.
// Thread-safety: HistoryWriter is thread-safe; each HistoryBuffer belongs to one thread.
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"

namespace drone::workload {

class HistoryWriter {
 public:
  static Result<std::unique_ptr<HistoryWriter>> Open(const std::string& path);
  ~HistoryWriter();

  void Write(std::string_view chunk);
  Status Close();

 private:
  explicit HistoryWriter(FILE* file) : file_(file) {}
  std::mutex mu_;
  FILE* file_;  // guarded by mu_
};

class HistoryBuffer {
 public:
  explicit HistoryBuffer(HistoryWriter* writer) : writer_(writer) {}
  ~HistoryBuffer() { Flush(); }
  bool enabled() const { return writer_ != nullptr; }
  std::string& line() { return buf_; }  // append a complete line, then call Commit()
  void Commit() {
    if (buf_.size() >= kChunk) Flush();
  }
  void Flush() {
    if (writer_ != nullptr && !buf_.empty()) writer_->Write(buf_);
    buf_.clear();
  }

 private:
  static constexpr size_t kChunk = size_t{256} * 1024;
  HistoryWriter* writer_;
  std::string buf_;
};

}  // namespace drone::workload
