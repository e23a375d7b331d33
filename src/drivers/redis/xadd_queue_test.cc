// XaddQueue against hiredis's own formatter: every command it queues must be byte for byte what
// redisFormatCommandArgv makes of the same argv, in order, across pops and compaction.
#include "drivers/redis/xadd_queue.h"

#include <hiredis/hiredis.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace drone::drivers::redis {
namespace {

std::string HiredisXadd(const std::string& stream, const std::string& field, const std::string& payload) {
  const char* argv[] = {"XADD", stream.data(), "*", field.data(), payload.data()};
  const size_t lens[] = {4, stream.size(), 1, field.size(), payload.size()};
  char* cmd = nullptr;
  const int len = redisFormatCommandArgv(&cmd, 5, argv, lens);
  EXPECT_GT(len, 0);
  std::string out(cmd, static_cast<size_t>(len));
  redisFreeCommand(cmd);
  return out;
}

// Payloads of varied sizes (so the length field takes 1 to 4 digits) with bytes that must pass
// through untouched: NUL, CR, LF, '$' and '*'.
std::string Payload(size_t i) {
  std::string p((i * 37) % 1200, 'a');
  for (size_t j = 0; j < p.size(); j += 7) p[j] = "\0\r\n$*"[(i + j) % 5];
  return p;
}

TEST(XaddQueueTest, OneCommandIsWhatHiredisFormats) {
  XaddQueue q("orders", "d");
  const std::string payload("x\0y\r\nz", 6);
  q.Push(payload);
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q.Front(1), HiredisXadd("orders", "d", payload));
  q.Pop(1);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.Front(0), "");
}

TEST(XaddQueueTest, EmptyPayloadAndLongStreamName) {
  const std::string stream(300, 's');
  XaddQueue q(stream, "field");
  q.Push("");
  EXPECT_EQ(q.Front(1), HiredisXadd(stream, "field", ""));
}

TEST(XaddQueueTest, FrontIsTheLeadingCommandsInOrderAcrossPopsAndCompaction) {
  XaddQueue q("s", "d");
  std::vector<std::string> expected;  // every command ever pushed, in order
  size_t popped = 0;
  size_t next = 0;
  // Uneven pushes and pops, enough of them for the buffer to be compacted many times.
  for (int round = 0; round < 400; ++round) {
    const size_t pushes = 1 + static_cast<size_t>(round) % 9;
    for (size_t k = 0; k < pushes; ++k, ++next) {
      q.Push(Payload(next));
      expected.push_back(HiredisXadd("s", "d", Payload(next)));
    }
    ASSERT_EQ(q.size(), expected.size() - popped);
    const size_t take = std::min(q.size(), static_cast<size_t>(round * 7) % 11);
    std::string want;
    for (size_t k = 0; k < take; ++k) want += expected[popped + k];
    ASSERT_EQ(q.Front(take), want) << "round " << round;
    q.Pop(take);
    popped += take;
  }
  std::string rest;
  for (size_t k = popped; k < expected.size(); ++k) rest += expected[k];
  EXPECT_EQ(q.Front(q.size()), rest);
}

TEST(XaddQueueTest, KeepsTheRestWhenMostIsPoppedWithoutEmptying) {
  // Never empty, so the buffer can only stay bounded by dropping its popped front.
  XaddQueue q("s", "d");
  for (size_t i = 0; i < 100; ++i) q.Push(Payload(i));
  for (int k = 0; k < 7; ++k) q.Pop(10);
  q.Push(Payload(100));
  std::string want;
  for (size_t i = 70; i <= 100; ++i) want += HiredisXadd("s", "d", Payload(i));
  ASSERT_EQ(q.size(), 31u);
  EXPECT_EQ(q.Front(31), want);
  EXPECT_EQ(q.Front(1), HiredisXadd("s", "d", Payload(70)));
}

TEST(XaddQueueTest, ClearDropsEverythingAndTheQueueIsReusable) {
  XaddQueue q("s", "d");
  for (int i = 0; i < 5; ++i) q.Push("abc");
  q.Pop(2);
  q.Clear();
  EXPECT_TRUE(q.empty());
  q.Push("after");
  EXPECT_EQ(q.Front(1), HiredisXadd("s", "d", "after"));
}

}  // namespace
}  // namespace drone::drivers::redis
