// ReplyRecorder: what a producer needs of each reply on its connection (type, integer, error
// text), read with hiredis's own parser but without a redisReply object per reply. The recorder
// replaces the reader's object functions (hiredis's documented extension point): each top-level
// reply is recorded into a reused slot, nothing is allocated for an XADD's entry id, and error or
// status text is copied into a slot's reused string. Nested array elements are parsed and
// dropped; a producer's XADD and WAIT never get arrays.
//
// Thread-safety: none; the thread that owns the connection owns its recorder.
#pragma once

#include <hiredis/hiredis.h>

#include <cstddef>
#include <string>
#include <vector>

namespace drone::drivers::redis {

class ReplyRecorder {
 public:
  struct Reply {
    int type = 0;           // REDIS_REPLY_STRING, _ERROR, _STATUS, _INTEGER, _NIL, _ARRAY
    long long integer = 0;  // REDIS_REPLY_INTEGER
    std::string text;       // REDIS_REPLY_ERROR and REDIS_REPLY_STATUS only
  };

  ReplyRecorder() = default;
  ReplyRecorder(const ReplyRecorder&) = delete;
  ReplyRecorder& operator=(const ReplyRecorder&) = delete;

  // Makes `reader` record into this recorder from now on. The recorder must outlive the reader's
  // use (the reader calls back into it while parsing); freeing the reader is fine either way.
  void Attach(redisReader* reader);
  // Parses every complete reply in the reader's buffer and appends it; false on a protocol
  // error (the reader is then unusable). A partial reply stays in the reader for the next call.
  bool ReadAll(redisReader* reader);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Reply& operator[](size_t i) const { return slots_[i]; }
  // Forgets the recorded replies; their slots (and text capacity) are reused.
  void Clear() { size_ = 0; }

 private:
  static void* CreateString(const redisReadTask* task, char* str, size_t len);
  static void* CreateArray(const redisReadTask* task, int elements);
  static void* CreateInteger(const redisReadTask* task, long long value);
  static void* CreateNil(const redisReadTask* task);
  static void FreeObject(void* object);
  static redisReplyObjectFunctions functions_;

  // The slot of the top-level reply being parsed, or nullptr for a nested element.
  static Reply* TopLevel(const redisReadTask* task);

  std::vector<Reply> slots_;
  size_t size_ = 0;
};

}  // namespace drone::drivers::redis
