// ReplyRecorder on hiredis's reader, fed the bytes a server sends: every top-level reply is
// recorded in order with its type, integer and error or status text, across partial reads, and
// nothing of the reader's default reply objects is needed.
#include "drivers/redis/reply_recorder.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace drone::drivers::redis {
namespace {

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
using Reader = std::unique_ptr<redisReader, ReaderDeleter>;

Reader NewReader(ReplyRecorder& recorder) {
  Reader r(redisReaderCreate());
  recorder.Attach(r.get());
  return r;
}

void Feed(redisReader* r, const std::string& bytes) {
  ASSERT_EQ(redisReaderFeed(r, bytes.data(), bytes.size()), REDIS_OK);
}

TEST(ReplyRecorderTest, RecordsEachKindOfReplyInOrder) {
  ReplyRecorder recorder;
  Reader reader = NewReader(recorder);
  Feed(reader.get(),
       "$15\r\n1700000000000-0\r\n"                                    // XADD's entry id
       ":2\r\n"                                                       // WAIT
       "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
       "+OK\r\n"
       "$-1\r\n"
       "*-1\r\n"
       "*2\r\n$1\r\na\r\n:5\r\n"                                      // nested: one reply
       ":-7\r\n");
  ASSERT_TRUE(recorder.ReadAll(reader.get()));
  ASSERT_EQ(recorder.size(), 8u);
  EXPECT_EQ(recorder[0].type, REDIS_REPLY_STRING);
  EXPECT_EQ(recorder[0].text, "") << "entry ids are not kept";
  EXPECT_EQ(recorder[1].type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(recorder[1].integer, 2);
  EXPECT_EQ(recorder[2].type, REDIS_REPLY_ERROR);
  EXPECT_EQ(recorder[2].text, "WRONGTYPE Operation against a key holding the wrong kind of value");
  EXPECT_EQ(recorder[3].type, REDIS_REPLY_STATUS);
  EXPECT_EQ(recorder[3].text, "OK");
  EXPECT_EQ(recorder[4].type, REDIS_REPLY_NIL);
  EXPECT_EQ(recorder[5].type, REDIS_REPLY_NIL);
  EXPECT_EQ(recorder[6].type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(recorder[7].type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(recorder[7].integer, -7);
}

TEST(ReplyRecorderTest, APartialReplyWaitsForTheRestOfItsBytes) {
  ReplyRecorder recorder;
  Reader reader = NewReader(recorder);
  Feed(reader.get(), ":1\r\n-ERR some");
  ASSERT_TRUE(recorder.ReadAll(reader.get()));
  ASSERT_EQ(recorder.size(), 1u);
  Feed(reader.get(), "thing\r\n*2\r\n:1\r\n");
  ASSERT_TRUE(recorder.ReadAll(reader.get()));
  ASSERT_EQ(recorder.size(), 2u) << "the array is not whole yet";
  EXPECT_EQ(recorder[1].text, "ERR something");
  Feed(reader.get(), ":2\r\n");
  ASSERT_TRUE(recorder.ReadAll(reader.get()));
  ASSERT_EQ(recorder.size(), 3u);
  EXPECT_EQ(recorder[2].type, REDIS_REPLY_ARRAY);
}

TEST(ReplyRecorderTest, ClearReusesSlotsWithoutStaleText) {
  ReplyRecorder recorder;
  Reader reader = NewReader(recorder);
  Feed(reader.get(), "-ERR first\r\n");
  ASSERT_TRUE(recorder.ReadAll(reader.get()));
  recorder.Clear();
  EXPECT_TRUE(recorder.empty());
  Feed(reader.get(), "$2\r\nid\r\n");
  ASSERT_TRUE(recorder.ReadAll(reader.get()));
  ASSERT_EQ(recorder.size(), 1u);
  EXPECT_EQ(recorder[0].type, REDIS_REPLY_STRING);
  EXPECT_EQ(recorder[0].text, "");
}

TEST(ReplyRecorderTest, AProtocolErrorIsReported) {
  ReplyRecorder recorder;
  Reader reader = NewReader(recorder);
  Feed(reader.get(), ":1\r\n?what\r\n");
  EXPECT_FALSE(recorder.ReadAll(reader.get()));
  ASSERT_EQ(recorder.size(), 1u) << "what came before the error is kept";
  EXPECT_EQ(recorder[0].integer, 1);
}

TEST(ReplyRecorderTest, AReaderFreedWithAPartialArrayDoesNotNeedTheRecorder) {
  // The reader's clean-up goes through the object functions; they must not touch the recorder.
  auto recorder = std::make_unique<ReplyRecorder>();
  Reader reader = NewReader(*recorder);
  Feed(reader.get(), "*3\r\n:1\r\n");
  ASSERT_TRUE(recorder->ReadAll(reader.get()));
  EXPECT_EQ(recorder->size(), 0u) << "an array counts once all its elements are read";
  recorder.reset();
  reader.reset();
}

}  // namespace
}  // namespace drone::drivers::redis
