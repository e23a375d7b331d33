#include "workload/part.h"

#include <gtest/gtest.h>

#include "core/testutil.h"

namespace drone::workload {
namespace {

WorkloadPart SamplePart() {
  WorkloadPart part;
  part.result.sent = 10;
  part.result.acked = 8;
  part.result.failed = 1;
  part.result.indeterminate = 1;
  part.result.received = 9;
  part.result.bytes_sent = 1000;
  part.result.started_ns = 1'700'000'000'000'000'000;
  part.result.load_end_ns = part.result.started_ns + 5;
  part.result.finished_ns = part.result.started_ns + 9;
  part.result.lanes = 2;
  part.result.publish.Record(1'500'000);
  part.result.end_to_end.Record(3'000'000);
  for (uint64_t seq = 0; seq < 10; ++seq) part.sends.Record(2, seq, verify::SendOutcome::kAck);
  for (uint64_t seq = 0; seq < 9; ++seq) part.receives.Record(2, seq, 1);
  part.skipped_per_lane = {0, 3};
  part.had_consumers = true;
  SeriesPoint p;
  p.t_s = 1;
  p.sent = 10;
  p.acked = 8;
  p.received = 9;
  p.lag = -1;
  part.result.series = {p};
  metrics::Histogram h;
  h.Record(1'500'000);
  part.seconds = {{h.Serialize(), metrics::Histogram().Serialize()}};
  part.result.failures.Add(true, "no responders");
  part.result.failures.Add(false, "no delivery report");
  return part;
}

TEST(WorkloadPartTest, RoundTripsToTheSameBytes) {
  const std::string bytes = SerializePart(SamplePart());
  Result<WorkloadPart> back = DeserializePart(bytes);
  ASSERT_OK(back.status());
  EXPECT_EQ(SerializePart(*back), bytes);
  EXPECT_EQ(back->result.sent, 10u);
  EXPECT_EQ(back->result.started_ns, 1'700'000'000'000'000'000);
  EXPECT_EQ(back->result.series[0].publish.count, 1u);
  EXPECT_EQ(back->skipped_per_lane, (std::vector<uint64_t>{0, 3}));
  EXPECT_EQ(back->result.failures.counts(), SamplePart().result.failures.counts());
}

TEST(WorkloadPartTest, DeserializeRejectsEveryTruncation) {
  const std::string bytes = SerializePart(SamplePart());
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DeserializePart(bytes.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(DeserializePart(bytes + "z").ok());
}

TEST(WorkloadPartTest, MergeAddsCountsAndMarksSkippedLanesNotCaughtUp) {
  WorkloadPart a = SamplePart();
  WorkloadPart b;
  b.result.sent = 5;
  b.result.started_ns = a.result.started_ns - 3;
  b.result.lanes = 2;
  for (uint64_t seq = 0; seq < 5; ++seq) b.sends.Record(0, seq, verify::SendOutcome::kAck);
  for (uint64_t seq = 0; seq < 5; ++seq) b.receives.Record(0, seq, 1);
  SeriesPoint p;
  p.t_s = 1;
  p.sent = 5;
  p.acked = 5;
  p.received = 5;
  b.result.series = {p, p};
  b.seconds = {{}, {}};
  b.result.failures.Add(true, "no responders", 4);
  std::vector<verify::DomainInfo> domains = {{"p1/t/0", true}, {"p1/t/1", true}, {"p2/t/0", true},
                                             {"p2/t/1", true}};
  WorkloadResult r = MergeParts({&a, &b}, domains, true);
  EXPECT_EQ(r.sent, 15u);
  EXPECT_EQ(r.started_ns, b.result.started_ns);
  EXPECT_EQ(r.delivery.ok, 14u);
  // Domain 2 is on lane 0 (not skipped) and caught up: its missing acked message is lost.
  EXPECT_EQ(r.delivery.lost, 1u);
  ASSERT_EQ(r.series.size(), 2u);
  EXPECT_EQ(r.series[0].sent, 15u);
  EXPECT_EQ(r.series[0].lag, -1 + 0);  // acked 13 - received 14
  EXPECT_EQ(r.series[1].lag, -1);
  EXPECT_FALSE(r.drain_caught_up);  // a part skipped offsets
  ASSERT_FALSE(r.failures.empty());
  EXPECT_EQ(r.failures.Top(1)[0].error, "no responders");
  EXPECT_EQ(r.failures.Top(1)[0].count, 5u);
}

}  // namespace
}  // namespace drone::workload
