#include "workload/part.h"

#include <algorithm>
#include <bit>

#include "core/bytes.h"

namespace drone::workload {
namespace {

// Layout: "DWP2" then, in this order (varints unless noted; signed ones zig-zag):
//   sent acked failed indeterminate received bytes_sent bytes_received send_errors
//   started_ns* load_end_ns* finished_ns* skipped_offsets cancelled had_consumers lanes*
//   publish service end_to_end send_delay (length-prefixed histogram bytes)
//   send shard, receive shard (length-prefixed)
//   lane_count x skipped
//   point_count x (t_s as fixed64 double bits, sent acked failed indeterminate received
//                  bytes_sent lag*, publish, end_to_end (length-prefixed histogram bytes))
//   failure_count x (nack, error (length-prefixed), count)
// "DWP1" (no failures) is refused: worker and coordinator must be the same version.
constexpr std::string_view kMagic = "DWP2";

Status Bad(const std::string& what) { return InvalidArgument("serialized workload part: " + what); }

Result<metrics::Histogram> GetHistogram(ByteReader& in, const char* name) {
  std::string_view bytes;
  if (!in.Bytes(&bytes)) return Bad(std::string("truncated ") + name + " histogram");
  Result<metrics::Histogram> h = metrics::Histogram::Deserialize(bytes);
  if (!h.ok()) return h.status().WithContext(std::string("workload part ") + name);
  return h;
}

}  // namespace

std::string SerializePart(const WorkloadPart& part) {
  const WorkloadResult& r = part.result;
  ByteWriter out;
  out.Raw(kMagic);
  for (uint64_t v : {r.sent, r.acked, r.failed, r.indeterminate, r.received, r.bytes_sent,
                     r.bytes_received, r.send_errors}) {
    out.Varint(v);
  }
  out.SignedVarint(r.started_ns);
  out.SignedVarint(r.load_end_ns);
  out.SignedVarint(r.finished_ns);
  out.Varint(r.skipped_offsets);
  out.Varint(r.cancelled ? 1 : 0);
  out.Varint(part.had_consumers ? 1 : 0);
  out.SignedVarint(r.lanes);
  for (const metrics::Histogram* h : {&r.publish, &r.service, &r.end_to_end, &r.send_delay}) {
    out.Bytes(h->Serialize());
  }
  out.Bytes(part.sends.Serialize());
  out.Bytes(part.receives.Serialize());
  out.Varint(part.skipped_per_lane.size());
  for (uint64_t s : part.skipped_per_lane) out.Varint(s);
  out.Varint(r.series.size());
  for (size_t i = 0; i < r.series.size(); ++i) {
    const SeriesPoint& p = r.series[i];
    out.Fixed64(std::bit_cast<uint64_t>(p.t_s));
    for (uint64_t v : {p.sent, p.acked, p.failed, p.indeterminate, p.received, p.bytes_sent}) {
      out.Varint(v);
    }
    out.SignedVarint(p.lag);
    const PartSecond empty;
    const PartSecond& s = i < part.seconds.size() ? part.seconds[i] : empty;
    out.Bytes(s.publish.empty() ? metrics::Histogram().Serialize() : s.publish);
    out.Bytes(s.end_to_end.empty() ? metrics::Histogram().Serialize() : s.end_to_end);
  }
  out.Varint(r.failures.counts().size());
  for (const auto& [key, count] : r.failures.counts()) {
    out.Varint(key.first ? 1 : 0);
    out.Bytes(key.second);
    out.Varint(count);
  }
  return out.Take();
}

Result<WorkloadPart> DeserializePart(std::string_view bytes) {
  ByteReader in(bytes);
  if (!in.Expect(kMagic)) return InvalidArgument("not a serialized workload part: bad magic");
  WorkloadPart part;
  WorkloadResult& r = part.result;
  for (uint64_t* v : {&r.sent, &r.acked, &r.failed, &r.indeterminate, &r.received, &r.bytes_sent,
                      &r.bytes_received, &r.send_errors}) {
    if (!in.Varint(v)) return Bad("truncated counters");
  }
  uint64_t cancelled = 0, had_consumers = 0;
  int64_t lanes = 0;
  if (!in.SignedVarint(&r.started_ns) || !in.SignedVarint(&r.load_end_ns) ||
      !in.SignedVarint(&r.finished_ns) || !in.Varint(&r.skipped_offsets) ||
      !in.Varint(&cancelled) || !in.Varint(&had_consumers) || !in.SignedVarint(&lanes)) {
    return Bad("truncated header");
  }
  if (cancelled > 1 || had_consumers > 1 || lanes < 0 || lanes > (1 << 20)) return Bad("bad header");
  r.cancelled = cancelled == 1;
  part.had_consumers = had_consumers == 1;
  r.lanes = static_cast<int>(lanes);
  ASSIGN_OR_RETURN(r.publish, GetHistogram(in, "publish"));
  ASSIGN_OR_RETURN(r.service, GetHistogram(in, "service"));
  ASSIGN_OR_RETURN(r.end_to_end, GetHistogram(in, "end_to_end"));
  ASSIGN_OR_RETURN(r.send_delay, GetHistogram(in, "send_delay"));
  std::string_view shard;
  if (!in.Bytes(&shard)) return Bad("truncated send shard");
  ASSIGN_OR_RETURN(part.sends, verify::SendShard::Deserialize(shard));
  if (!in.Bytes(&shard)) return Bad("truncated receive shard");
  ASSIGN_OR_RETURN(part.receives, verify::ReceiveShard::Deserialize(shard));
  uint64_t lane_count = 0;
  if (!in.Varint(&lane_count) || lane_count > in.remaining()) return Bad("truncated lanes");
  part.skipped_per_lane.resize(lane_count);
  for (uint64_t& s : part.skipped_per_lane) {
    if (!in.Varint(&s)) return Bad("truncated lanes");
  }
  uint64_t points = 0;
  // A point takes at least 8 + 7 + 2 x (an empty histogram's bytes) > 20 bytes.
  if (!in.Varint(&points) || points > in.remaining() / 20) return Bad("truncated series");
  for (uint64_t i = 0; i < points; ++i) {
    SeriesPoint p;
    uint64_t t_bits = 0;
    if (!in.Fixed64(&t_bits)) return Bad("truncated series");
    p.t_s = std::bit_cast<double>(t_bits);
    for (uint64_t* v : {&p.sent, &p.acked, &p.failed, &p.indeterminate, &p.received, &p.bytes_sent}) {
      if (!in.Varint(v)) return Bad("truncated series");
    }
    if (!in.SignedVarint(&p.lag)) return Bad("truncated series");
    PartSecond s;
    std::string_view h;
    if (!in.Bytes(&h)) return Bad("truncated series");
    s.publish = std::string(h);
    if (!in.Bytes(&h)) return Bad("truncated series");
    s.end_to_end = std::string(h);
    ASSIGN_OR_RETURN(metrics::Histogram publish, metrics::Histogram::Deserialize(s.publish));
    ASSIGN_OR_RETURN(metrics::Histogram end_to_end, metrics::Histogram::Deserialize(s.end_to_end));
    p.publish = metrics::Summarize(publish);
    p.end_to_end = metrics::Summarize(end_to_end);
    r.series.push_back(p);
    part.seconds.push_back(std::move(s));
  }
  uint64_t failures = 0;
  if (!in.Varint(&failures) || failures > in.remaining() / 3) return Bad("truncated failures");
  for (uint64_t i = 0; i < failures; ++i) {
    uint64_t nack = 0, count = 0;
    std::string_view error;
    if (!in.Varint(&nack) || !in.Bytes(&error) || !in.Varint(&count)) return Bad("truncated failures");
    if (nack > 1) return Bad("bad failure outcome");
    r.failures.Add(nack == 1, error, count);
  }
  if (in.remaining() != 0) return Bad("trailing bytes");
  return part;
}

SeriesPoint MergeSecond(const std::vector<const SeriesPoint*>& points,
                        const std::vector<const PartSecond*>& seconds) {
  SeriesPoint out;
  metrics::Histogram publish, end_to_end;
  for (const SeriesPoint* p : points) {
    out.t_s = std::max(out.t_s, p->t_s);
    out.sent += p->sent;
    out.acked += p->acked;
    out.failed += p->failed;
    out.indeterminate += p->indeterminate;
    out.received += p->received;
    out.bytes_sent += p->bytes_sent;
  }
  for (const PartSecond* s : seconds) {
    // Parts were decoded (and so checked) before they are merged; a bad one adds nothing.
    if (Result<metrics::Histogram> h = metrics::Histogram::Deserialize(s->publish); h.ok()) {
      publish.Merge(*h);
    }
    if (Result<metrics::Histogram> h = metrics::Histogram::Deserialize(s->end_to_end); h.ok()) {
      end_to_end.Merge(*h);
    }
  }
  out.publish = metrics::Summarize(publish);
  out.end_to_end = metrics::Summarize(end_to_end);
  // The merged second's histograms, as a single process keeps them (workload/phases.h).
  out.publish_hist = publish.Serialize();
  out.end_to_end_hist = end_to_end.Serialize();
  return out;
}

WorkloadResult MergeParts(const std::vector<const WorkloadPart*>& parts,
                          std::vector<verify::DomainInfo> domains, bool consumed) {
  WorkloadResult r;
  r.started_ns = INT64_MAX;
  size_t points = 0;
  std::vector<const verify::SendShard*> sends;
  std::vector<const verify::ReceiveShard*> receives;
  for (const WorkloadPart* part : parts) {
    const WorkloadResult& p = part->result;
    r.sent += p.sent;
    r.acked += p.acked;
    r.failed += p.failed;
    r.indeterminate += p.indeterminate;
    r.received += p.received;
    r.bytes_sent += p.bytes_sent;
    r.bytes_received += p.bytes_received;
    r.send_errors += p.send_errors;
    r.failures.Merge(p.failures);
    r.skipped_offsets += p.skipped_offsets;
    r.started_ns = std::min(r.started_ns, p.started_ns);
    r.load_end_ns = std::max(r.load_end_ns, p.load_end_ns);
    r.finished_ns = std::max(r.finished_ns, p.finished_ns);
    r.cancelled = r.cancelled || p.cancelled;
    r.lanes = std::max(r.lanes, p.lanes);
    r.publish.Merge(p.publish);
    r.service.Merge(p.service);
    r.end_to_end.Merge(p.end_to_end);
    r.send_delay.Merge(p.send_delay);
    points = std::max(points, p.series.size());
    sends.push_back(&part->sends);
    receives.push_back(&part->receives);
    for (size_t lane = 0; lane < part->skipped_per_lane.size() && r.lanes > 0; ++lane) {
      if (part->skipped_per_lane[lane] == 0) continue;
      for (size_t d = lane; d < domains.size(); d += static_cast<size_t>(r.lanes)) {
        domains[d].caught_up = false;
      }
    }
  }
  if (parts.empty()) r.started_ns = 0;
  // Lag is cumulative: acked - received over every part up to the end of each second.
  int64_t acked = 0, received = 0;
  for (size_t i = 0; i < points; ++i) {
    std::vector<const SeriesPoint*> at;
    std::vector<const PartSecond*> seconds;
    for (const WorkloadPart* part : parts) {
      if (i >= part->result.series.size()) continue;
      at.push_back(&part->result.series[i]);
      if (i < part->seconds.size()) seconds.push_back(&part->seconds[i]);
    }
    SeriesPoint point = MergeSecond(at, seconds);
    acked += static_cast<int64_t>(point.acked);
    received += static_cast<int64_t>(point.received);
    point.lag = consumed ? acked - received : 0;
    r.series.push_back(point);
  }
  r.consumed = consumed;
  r.drain_caught_up = consumed && r.skipped_offsets == 0 &&
                      std::all_of(domains.begin(), domains.end(),
                                  [](const verify::DomainInfo& d) { return d.caught_up; });
  r.delivery = verify::Classify(sends, receives, domains);
  return r;
}

}  // namespace drone::workload
