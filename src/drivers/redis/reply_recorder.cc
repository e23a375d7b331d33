#include "drivers/redis/reply_recorder.h"

namespace drone::drivers::redis {
namespace {

// What the object functions hand back to the parser for every object: it only needs a non-null
// pointer (null means out of memory), and never looks into it.
char kParsed;

}  // namespace

redisReplyObjectFunctions ReplyRecorder::functions_ = {
    &ReplyRecorder::CreateString, &ReplyRecorder::CreateArray, &ReplyRecorder::CreateInteger,
    &ReplyRecorder::CreateNil, &ReplyRecorder::FreeObject};

void ReplyRecorder::Attach(redisReader* reader) {
  reader->fn = &functions_;
  reader->privdata = this;
}

bool ReplyRecorder::ReadAll(redisReader* reader) {
  while (true) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader, &reply) != REDIS_OK) return false;
    if (reply == nullptr) return true;
    ++size_;  // the slot TopLevel() filled is a whole reply now
  }
}

ReplyRecorder::Reply* ReplyRecorder::TopLevel(const redisReadTask* task) {
  if (task->parent != nullptr) return nullptr;
  // An array's slot is filled when its header is read and counted only once its elements are.
  auto* self = static_cast<ReplyRecorder*>(task->privdata);
  if (self->size_ == self->slots_.size()) self->slots_.emplace_back();
  Reply* r = &self->slots_[self->size_];
  r->type = task->type;
  r->integer = 0;
  r->text.clear();
  return r;
}

void* ReplyRecorder::CreateString(const redisReadTask* task, char* str, size_t len) {
  Reply* r = TopLevel(task);
  // An XADD's entry id is not kept: nothing downstream reads it.
  if (r != nullptr && (task->type == REDIS_REPLY_ERROR || task->type == REDIS_REPLY_STATUS)) {
    r->text.assign(str, len);
  }
  return &kParsed;
}

void* ReplyRecorder::CreateArray(const redisReadTask* task, int /*elements*/) {
  TopLevel(task);
  return &kParsed;
}

void* ReplyRecorder::CreateInteger(const redisReadTask* task, long long value) {
  if (Reply* r = TopLevel(task); r != nullptr) r->integer = value;
  return &kParsed;
}

void* ReplyRecorder::CreateNil(const redisReadTask* task) {
  // The task says which kind of nil it was (a bulk string or an array); the reply is nil.
  if (Reply* r = TopLevel(task); r != nullptr) r->type = REDIS_REPLY_NIL;
  return &kParsed;
}

void ReplyRecorder::FreeObject(void* /*object*/) {}

}  // namespace drone::drivers::redis
