#include "workload/history.h"

#include <cerrno>
#include <cstring>

namespace drone::workload {

Result<std::unique_ptr<HistoryWriter>> HistoryWriter::Open(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return InvalidArgument("cannot write history file " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<HistoryWriter>(new HistoryWriter(f));
}

HistoryWriter::~HistoryWriter() { (void)Close(); }

void HistoryWriter::Write(std::string_view chunk) {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ != nullptr) std::fwrite(chunk.data(), 1, chunk.size(), file_);
}

Status HistoryWriter::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr) return Status::Ok();
  bool ok = std::fflush(file_) == 0;
  ok = std::fclose(file_) == 0 && ok;
  file_ = nullptr;
  if (!ok) return Internal(std::string("writing the history file: ") + std::strerror(errno));
  return Status::Ok();
}

}  // namespace drone::workload
