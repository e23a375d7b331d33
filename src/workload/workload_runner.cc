#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <random>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "workload/envelope.h"
#include "workload/drain_tracker.h"
#include "workload/stored_audit.h"
#include "workload/history.h"
#include "workload/part.h"
#include "workload/workload.h"

namespace drone::workload {
namespace {

constexpr int64_t kSecond = kNsPerSec;
constexpr int64_t kStickyWindowNs = 5 * kNsPerMs;
constexpr int kStickyMax = 1000;

// Single-writer counter readable from other threads: a relaxed load+store, no locked instruction.
class Counter {
 public:
  void Add(uint64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// What a producer remembers of a message between Send() and its delivery report. Slots are
// reused through a free list, so memory is bounded by the messages in flight.
struct PendingSend {
  uint32_t lane = 0;
  uint64_t seq = 0;
  int64_t intended_ns = 0;
  int64_t sent_ns = 0;
  uint32_t size = 0;
  bool live = false;
};

class PendingTable {
 public:
  uint64_t Add(const PendingSend& p) {
    uint64_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
      slots_[slot] = p;
    } else {
      slot = slots_.size();
      slots_.push_back(p);
    }
    slots_[slot].live = true;
    ++live_;
    return slot;
  }
  PendingSend& at(uint64_t slot) { return slots_[slot]; }
  void Remove(uint64_t slot) {
    slots_[slot].live = false;
    free_.push_back(slot);
    --live_;
  }
  template <typename F>
  void ForEachLive(F f) {
    for (uint64_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].live) f(i, slots_[i]);
    }
  }
  size_t live() const { return live_; }

 private:
  std::deque<PendingSend> slots_;
  std::vector<uint64_t> free_;
  size_t live_ = 0;
};

verify::SendOutcome ToLedger(drivers::Outcome o) {
  switch (o) {
    case drivers::Outcome::kAck: return verify::SendOutcome::kAck;
    case drivers::Outcome::kNack: return verify::SendOutcome::kNack;
    case drivers::Outcome::kIndeterminate: return verify::SendOutcome::kIndeterminate;
  }
  return verify::SendOutcome::kIndeterminate;
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::vector<int> AllIndices(int n) {
  std::vector<int> ids(static_cast<size_t>(std::max(n, 0)));
  for (int i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = i;
  return ids;
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

}  // namespace

class WorkloadRunner::Impl {
 public:
  Impl(drivers::Driver& driver, drivers::Endpoint endpoint, WorkloadOptions options,
       WorkloadObserver* observer, HistoryWriter* history)
      : driver_(driver),
        endpoint_(std::move(endpoint)),
        opt_(std::move(options)),
        observer_(observer),
        history_(history) {}

  struct ProducerState : public drivers::DeliveryHandler {
    Impl* impl = nullptr;
    int index = 0;
    std::unique_ptr<drivers::Producer> client;
    PendingTable pending;
    verify::SendShard shard;
    metrics::Histogram publish, service, send_delay;
    Counter sent, acked, failed, indeterminate, bytes;
    uint64_t send_errors = 0;
    SendFailures failures;
    std::unique_ptr<HistoryBuffer> history;
    // Delivery reports served by one Poll() arrived together: one clock read serves them all
    // (0 = read the clock per report, as during Flush()).
    int64_t poll_now = 0;
    bool batch_clock = false;

    void OnDelivery(const drivers::Delivery& d) override { impl->Delivered(*this, d); }
    void Poll(int timeout_ms) {
      poll_now = 0;
      batch_clock = true;
      client->Poll(timeout_ms);
      batch_clock = false;
    }
  };

  struct ConsumerState : public drivers::ReceiveHandler {
    Impl* impl = nullptr;
    int index = 0;
    std::unique_ptr<drivers::Consumer> client;
    verify::ReceiveShard shard;
    metrics::Histogram end_to_end;
    Counter received, bytes;
    std::unique_ptr<HistoryBuffer> history;
    std::string error;
    // Per lane, the last offset this consumer read in its current session, and how many offsets
    // it jumped over: a consumer never skips offsets on its own, so a jump means the broker
    // deleted messages before they were read (retention) or the position was reset.
    std::vector<int64_t> last_offset;
    std::vector<uint64_t> skipped;
    uint32_t offsets_session = 0;

    void OnReceive(const drivers::Received& r) override { impl->Received(*this, r); }
  };

  Status Run(const CancelToken& cancel, WorkloadResult& result);
  bool Progress(RunnerProgress* out) const;
  void SetControl(WorkloadControl* control) { control_ = control; }
  WorkloadPart& part() {
    if (!part_) part_ = std::make_unique<WorkloadPart>();
    return *part_;
  }

  WorkloadRunner::Live LiveCounters() const {
    WorkloadRunner::Live live{};
    for (const auto& p : producers_) {
      live.sent += p->sent.Get();
      live.acked += p->acked.Get();
      live.failed += p->failed.Get();
      live.indeterminate += p->indeterminate.Get();
    }
    for (const auto& c : consumers_) live.received += c->received.Get();
    return live;
  }

 private:
  Status CreateClients();
  bool WaitForConsumers(const CancelToken& cancel);
  void ProducerLoop(ProducerState& p, const CancelToken& cancel);
  void ConsumerLoop(ConsumerState& c);
  void SamplerLoop();
  void Drain(const CancelToken& cancel, WorkloadResult& result);
  void Delivered(ProducerState& p, const drivers::Delivery& d);
  void Received(ConsumerState& c, const drivers::Received& r);
  void Settle(ProducerState& p, uint64_t slot, verify::SendOutcome outcome, int64_t done_ns,
              int32_t lane, int64_t offset, std::string_view error);
  std::string DomainName(uint32_t domain) const {
    return "p" + std::to_string(domain / lanes_ + 1) + "/" + opt_.topic + "/" +
           std::to_string(domain % lanes_);
  }
  SeriesPoint Sample(double t_s, metrics::Histogram& prev_publish, metrics::Histogram& prev_e2e,
                     WorkloadRunner::Live& prev, PartSecond* second);
  void BuildPart(const WorkloadResult& result);

  drivers::Driver& driver_;
  const drivers::Endpoint endpoint_;
  const WorkloadOptions opt_;
  WorkloadObserver* observer_;
  HistoryWriter* history_;

  int lanes_ = 0;
  int64_t load_start_ns_ = 0;
  std::vector<std::unique_ptr<ProducerState>> producers_;
  std::vector<std::unique_ptr<ConsumerState>> consumers_;
  std::unique_ptr<std::atomic<int64_t>[]> next_offset_;  // per lane, max consumed offset + 1
  // Per domain, the highest acknowledged sequence (written by the domain's producer only) and
  // the highest received one (any consumer); -1 = none. The drain's last resort (see Drain()).
  std::unique_ptr<std::atomic<int64_t>[]> max_acked_seq_;
  std::unique_ptr<std::atomic<int64_t>[]> max_received_seq_;
  std::atomic<bool> stop_consumers_{false};
  std::atomic<bool> stop_sampler_{false};
  std::atomic<bool> draining_{false};
  std::mutex sampler_mu_;
  std::condition_variable sampler_cv_;
  std::vector<SeriesPoint> series_;  // written by the sampler thread, read after it is joined
  uint64_t prev_bytes_ = 0;          // sampler thread only
  std::vector<verify::DomainInfo> domains_;
  WorkloadControl* control_ = nullptr;
  std::vector<PartSecond> seconds_;  // with a control: interval histograms per series point
  std::unique_ptr<WorkloadPart> part_;
  // Guards the client vectors' lifetime against Progress() from other threads.
  mutable std::mutex live_mu_;
  bool live_ = false;  // guarded by live_mu_
};

Status WorkloadRunner::Impl::CreateClients() {
  for (int i : opt_.consumer_ids.value_or(AllIndices(opt_.consumers))) {
    auto c = std::make_unique<ConsumerState>();
    c->impl = this;
    c->index = i;
    drivers::ConsumerOptions co;
    co.client_id = "drone-" + opt_.name + "-c" + std::to_string(i + 1);
    co.topic = opt_.topic;
    co.group = opt_.group;
    co.extra = opt_.consumer_config;
    ASSIGN_OR_RETURN(c->client, driver_.NewConsumer(endpoint_, co));
    if (history_ != nullptr) c->history = std::make_unique<HistoryBuffer>(history_);
    consumers_.push_back(std::move(c));
  }
  for (int i : opt_.producer_ids.value_or(AllIndices(opt_.producers))) {
    auto p = std::make_unique<ProducerState>();
    p->impl = this;
    p->index = i;
    drivers::ProducerOptions po = opt_.producer;
    po.client_id = "drone-" + opt_.name + "-p" + std::to_string(i + 1);
    po.topic = opt_.topic;
    ASSIGN_OR_RETURN(p->client, driver_.NewProducer(endpoint_, po, *p));
    int lanes = p->client->Lanes();
    if (lanes <= 0) return Internal("topic " + opt_.topic + " has no partitions");
    if (lanes_ != 0 && lanes != lanes_) {
      return Internal("producers disagree on the partition count of " + opt_.topic);
    }
    lanes_ = lanes;
    if (history_ != nullptr) p->history = std::make_unique<HistoryBuffer>(history_);
    producers_.push_back(std::move(p));
  }
  if (lanes_ == 0) {
    // Consume-only workloads learn the lane count from the admin API.
    ASSIGN_OR_RETURN(auto admin, driver_.NewAdmin(endpoint_));
    ASSIGN_OR_RETURN(drivers::TopicInfo info, admin->DescribeTopic(opt_.topic, 10 * kSecond));
    lanes_ = info.partitions;
  }
  next_offset_ = std::make_unique<std::atomic<int64_t>[]>(lanes_);
  for (int l = 0; l < lanes_; ++l) next_offset_[l].store(-1);
  const size_t domains = static_cast<size_t>(opt_.producers) * static_cast<size_t>(lanes_);
  max_acked_seq_ = std::make_unique<std::atomic<int64_t>[]>(domains);
  max_received_seq_ = std::make_unique<std::atomic<int64_t>[]>(domains);
  for (size_t d = 0; d < domains; ++d) {
    max_acked_seq_[d].store(-1);
    max_received_seq_[d].store(-1);
  }
  for (auto& c : consumers_) {
    c->last_offset.assign(lanes_, -1);
    c->skipped.assign(lanes_, 0);
  }
  return Status::Ok();
}

bool WorkloadRunner::Impl::WaitForConsumers(const CancelToken& cancel) {
  if (consumers_.empty()) return true;
  const int want_each = static_cast<int>(consumers_.size()) <= lanes_ ? 1 : 0;
  int64_t deadline = MonotonicNs() + opt_.consumer_ready_timeout_ns;
  while (MonotonicNs() < deadline) {
    int total = 0;
    bool each = true;
    for (const auto& c : consumers_) {
      total += c->client->AssignedLanes();
      each = each && c->client->AssignedLanes() >= want_each;
    }
    if (total >= lanes_ && each) return true;
    if (cancel.WaitFor(20 * kNsPerMs)) return false;
  }
  LogWarn("workload " + opt_.name + ": consumers did not get all partitions within " +
          std::to_string(opt_.consumer_ready_timeout_ns / kSecond) + "s; starting anyway");
  return true;
}

void WorkloadRunner::Impl::Settle(ProducerState& p, uint64_t slot, verify::SendOutcome outcome,
                                  int64_t done_ns, int32_t lane, int64_t offset,
                                  std::string_view error) {
  PendingSend& ps = p.pending.at(slot);
  uint32_t domain = static_cast<uint32_t>(p.index * lanes_) + ps.lane;
  p.shard.Record(domain, ps.seq, outcome);
  switch (outcome) {
    case verify::SendOutcome::kAck:
      p.acked.Add(1);
      if (static_cast<int64_t>(ps.seq) > max_acked_seq_[domain].load(std::memory_order_relaxed)) {
        max_acked_seq_[domain].store(static_cast<int64_t>(ps.seq), std::memory_order_relaxed);
      }
      p.publish.Record(done_ns - ps.intended_ns);
      p.service.Record(done_ns - ps.sent_ns);
      break;
    case verify::SendOutcome::kNack:
      p.failed.Add(1);
      p.failures.Add(true, error);
      break;
    default:
      p.indeterminate.Add(1);
      p.failures.Add(false, error);
      break;
  }
  if (p.history) {
    std::string& out = p.history->line();
    out += R"({"t":"send","workload":)";
    AppendJsonString(out, opt_.name);
    out += R"(,"id":)";
    AppendJsonString(out, DomainName(domain) + "#" + std::to_string(ps.seq));
    out += R"(,"domain":)";
    AppendJsonString(out, DomainName(domain));
    out += ",\"seq\":" + std::to_string(ps.seq) + ",\"attempt\":1,\"outcome\":\"";
    out += outcome == verify::SendOutcome::kAck    ? "ack"
           : outcome == verify::SendOutcome::kNack ? "nack"
                                                   : "indeterminate";
    out += "\",\"intended_ns\":" + std::to_string(ps.intended_ns) +
           ",\"sent_ns\":" + std::to_string(ps.sent_ns) + ",\"done_ns\":" + std::to_string(done_ns);
    if (offset >= 0) out += ",\"position\":\"" + std::to_string(lane) + ":" + std::to_string(offset) + "\"";
    if (!error.empty()) {
      out += ",\"error\":";
      AppendJsonString(out, error);
    }
    out += "}\n";
    p.history->Commit();
  }
  p.pending.Remove(slot);
}

void WorkloadRunner::Impl::Delivered(ProducerState& p, const drivers::Delivery& d) {
  int64_t now;
  if (p.batch_clock) {
    if (p.poll_now == 0) p.poll_now = NowNs();
    now = p.poll_now;
  } else {
    now = NowNs();
  }
  Settle(p, d.token, ToLedger(d.outcome), now, d.lane, d.offset, d.error);
}

void WorkloadRunner::Impl::ProducerLoop(ProducerState& p, const CancelToken& cancel) {
  const int64_t interval =
      opt_.rate > 0 ? static_cast<int64_t>(std::llround(1e9 * opt_.producers / opt_.rate)) : 0;
  // Spread producers over one interval so their sends do not all fall on the same instant.
  const int64_t start = load_start_ns_ + (interval * p.index) / std::max(1, opt_.producers);
  std::optional<uint64_t> limit;
  if (opt_.messages) {
    uint64_t total = static_cast<uint64_t>(*opt_.messages);
    limit = total / opt_.producers + (static_cast<uint64_t>(p.index) < total % opt_.producers ? 1 : 0);
  }
  const int64_t end = opt_.duration_ns ? load_start_ns_ + *opt_.duration_ns : INT64_MAX;
  SleepUntilNs(start);  // also unlimited-rate producers begin at the load's start, not before

  std::mt19937_64 rng(opt_.seed * 1000003 + static_cast<uint64_t>(p.index));
  int64_t max_size = opt_.size.kind == SizeDistribution::Kind::kFixed ? opt_.size.bytes : opt_.size.max;
  std::string payload(static_cast<size_t>(std::max<int64_t>(max_size, kEnvelopeSize)), '\0');
  for (size_t i = kEnvelopeSize; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + rng() % 26);
  std::uniform_int_distribution<int64_t> uniform(opt_.size.min, std::max(opt_.size.min, opt_.size.max));
  std::normal_distribution<double> normal(static_cast<double>(opt_.size.mean),
                                          static_cast<double>(std::max<int64_t>(opt_.size.stddev, 1)));
  std::vector<uint64_t> next_seq(lanes_, 0);
  std::string key;
  uint32_t round_robin_lane = static_cast<uint32_t>(p.index) % lanes_;
  int64_t sticky_since = start;
  int sticky_count = 0;

  for (uint64_t i = 0;; ++i) {
    if (cancel.cancelled() || (limit && i >= *limit)) break;
    int64_t now = NowNs();
    int64_t intended = interval > 0 ? start + static_cast<int64_t>(i) * interval : now;
    if (intended >= end) break;
    if (now < intended) {
      // Early: serve delivery reports, then sleep the rest (short waits spin on poll).
      p.Poll(0);
      while ((now = NowNs()) < intended) {
        int64_t wait = intended - now;
        if (wait > 200 * kNsPerUs) {
          SleepUntilNs(now + std::min<int64_t>(wait - 100 * kNsPerUs, kNsPerMs));
        }
      }
    } else if ((i & 63) == 0) {
      p.Poll(0);
    }
    int64_t size = opt_.size.bytes;
    switch (opt_.size.kind) {
      case SizeDistribution::Kind::kFixed: break;
      case SizeDistribution::Kind::kUniform: size = uniform(rng); break;
      case SizeDistribution::Kind::kNormal:
        size = std::clamp<int64_t>(std::llround(normal(rng)), opt_.size.min, opt_.size.max);
        break;
    }
    size = std::clamp<int64_t>(size, kEnvelopeSize, static_cast<int64_t>(payload.size()));
    uint32_t lane = 0;
    key.clear();
    switch (opt_.keys.mode) {
      case KeyOptions::Mode::kNone:
        // Sticky round-robin, like Kafka clients' sticky partitioner: stay on a lane for one
        // batching window of intended send time (or kStickyMax messages), then move on, so that
        // batches fill while every lane still gets traffic.
        if (intended - sticky_since >= kStickyWindowNs || sticky_count >= kStickyMax) {
          round_robin_lane = (round_robin_lane + 1) % lanes_;
          sticky_since = intended;
          sticky_count = 0;
        }
        ++sticky_count;
        lane = round_robin_lane;
        break;
      case KeyOptions::Mode::kRoundRobin:
        key = "k" + std::to_string(i % static_cast<uint64_t>(opt_.keys.count));
        lane = static_cast<uint32_t>(Fnv1a(key) % lanes_);
        break;
      case KeyOptions::Mode::kRandom:
        key = "k" + std::to_string(rng() % static_cast<uint64_t>(opt_.keys.count));
        lane = static_cast<uint32_t>(Fnv1a(key) % lanes_);
        break;
    }
    uint64_t seq = next_seq[lane]++;
    Envelope env{opt_.run_id, static_cast<uint32_t>(p.index), static_cast<uint32_t>(p.index * lanes_) + lane,
                 seq, intended};
    EncodeEnvelope(env, payload.data(), static_cast<size_t>(size));
    uint64_t slot =
        p.pending.Add(PendingSend{lane, seq, intended, now, static_cast<uint32_t>(size), true});
    Status s;
    while (true) {
      s = p.client->Send(static_cast<int>(lane), key, std::string_view(payload.data(), size), slot);
      if (s.code() != StatusCode::kUnavailable || cancel.cancelled()) break;
      p.Poll(1);  // client queue full: back-pressure shows up as latency, by design
    }
    // `now` is when this message's turn came: the send delay is how late that was.
    const int64_t sent_ns = now;
    p.send_delay.Record(std::max<int64_t>(sent_ns - intended, 0));
    p.sent.Add(1);
    p.bytes.Add(static_cast<uint64_t>(size));
    if (!s.ok()) {
      ++p.send_errors;
      Settle(p, slot, verify::SendOutcome::kNack, sent_ns, -1, -1, s.message());
    }
  }
  // Wait for the outstanding delivery reports; what is still open then is indeterminate.
  // Interrupted runs wait only briefly: what is still open is recorded as indeterminate.
  // A hurried stop (a second SIGINT) ends the wait at once, so it is taken in short slices.
  const int64_t flush_until =
      MonotonicNs() + (cancel.aborted() ? 2 * kSecond : opt_.producer.message_timeout_ns + 5 * kSecond);
  while (!cancel.hurried() && MonotonicNs() < flush_until &&
         p.client->Flush(std::min<int64_t>(100 * kNsPerMs, flush_until - MonotonicNs())) > 0) {
  }
  int64_t now = NowNs();
  std::vector<uint64_t> open;
  p.pending.ForEachLive([&](uint64_t slot, PendingSend&) { open.push_back(slot); });
  for (uint64_t slot : open) {
    Settle(p, slot, verify::SendOutcome::kIndeterminate, now, -1, -1, "no delivery report");
  }
  if (p.history) p.history->Flush();
}

void WorkloadRunner::Impl::Received(ConsumerState& c, const drivers::Received& r) {
  int64_t now = NowNs();
  c.received.Add(1);
  c.bytes.Add(r.payload.size());
  if (r.lane >= 0 && r.lane < lanes_ && r.offset >= 0) {
    std::atomic<int64_t>& next = next_offset_[r.lane];
    int64_t cur = next.load(std::memory_order_relaxed);
    while (cur < r.offset + 1 && !next.compare_exchange_weak(cur, r.offset + 1)) {
    }
    if (c.offsets_session != c.client->Session()) {
      // A new assignment resumes from the committed offset: no jump can be judged across it.
      c.offsets_session = c.client->Session();
      std::fill(c.last_offset.begin(), c.last_offset.end(), -1);
    }
    int64_t& last = c.last_offset[r.lane];
    if (last >= 0 && r.offset > last + 1) c.skipped[r.lane] += static_cast<uint64_t>(r.offset - last - 1);
    last = std::max(last, r.offset);
  }
  Envelope env;
  DecodeResult d = DecodeEnvelope(r.payload, &env);
  const uint32_t domains = static_cast<uint32_t>(opt_.producers * lanes_);
  bool ours = d != DecodeResult::kForeign && env.run_id == opt_.run_id && env.domain < domains;
  if (!ours) {
    c.shard.RecordUnexpected();
    return;
  }
  if (d == DecodeResult::kCorrupt) {
    c.shard.RecordCorrupt(env.domain, env.seq);
  } else {
    c.shard.Record(env.domain, env.seq, c.client->Session());
    std::atomic<int64_t>& max_seq = max_received_seq_[env.domain];
    int64_t seen = max_seq.load(std::memory_order_relaxed);
    const int64_t seq = static_cast<int64_t>(env.seq);
    while (seen < seq && !max_seq.compare_exchange_weak(seen, seq, std::memory_order_relaxed)) {
    }
    c.end_to_end.Record(std::max<int64_t>(now - env.intended_ns, 0));
  }
  if (c.history) {
    std::string& out = c.history->line();
    std::string domain = DomainName(env.domain);
    out += R"({"t":"recv","workload":)";
    AppendJsonString(out, opt_.name);
    out += R"(,"id":)";
    AppendJsonString(out, domain + "#" + std::to_string(env.seq));
    out += R"(,"domain":)";
    AppendJsonString(out, domain);
    out += ",\"seq\":" + std::to_string(env.seq) + ",\"consumer\":\"c" + std::to_string(c.index + 1) +
           "\",\"ns\":" + std::to_string(now) + ",\"position\":\"" + std::to_string(r.lane) + ":" +
           std::to_string(r.offset) + "\",\"redelivered\":" + (r.redelivered ? "true" : "false") +
           ",\"checksum_ok\":" + (d == DecodeResult::kOk ? "true" : "false") + "}\n";
    c.history->Commit();
  }
}

void WorkloadRunner::Impl::ConsumerLoop(ConsumerState& c) {
  while (!stop_consumers_.load(std::memory_order_acquire)) {
    Result<size_t> n = c.client->Poll(50, c);
    if (!n.ok()) {
      c.error = n.status().ToString();
      LogWarn("workload " + opt_.name + " consumer c" + std::to_string(c.index + 1) + ": " + c.error);
      break;
    }
  }
  c.client->Close();
  if (c.history) c.history->Flush();
}

SeriesPoint WorkloadRunner::Impl::Sample(double t_s, metrics::Histogram& prev_publish,
                                         metrics::Histogram& prev_e2e, WorkloadRunner::Live& prev,
                                         PartSecond* second) {
  SeriesPoint point;
  point.t_s = t_s;
  metrics::Histogram publish, e2e;
  uint64_t bytes = 0;
  for (const auto& p : producers_) {
    publish.Merge(p->publish.Snapshot());
    bytes += p->bytes.Get();
  }
  for (const auto& c : consumers_) e2e.Merge(c->end_to_end.Snapshot());
  WorkloadRunner::Live live = LiveCounters();
  point.sent = live.sent - prev.sent;
  point.acked = live.acked - prev.acked;
  point.failed = live.failed - prev.failed;
  point.indeterminate = live.indeterminate - prev.indeterminate;
  point.received = live.received - prev.received;
  point.lag = consumers_.empty() ? 0 : static_cast<int64_t>(live.acked) - static_cast<int64_t>(live.received);
  point.bytes_sent = bytes - prev_bytes_;
  prev_bytes_ = bytes;
  metrics::Histogram interval_publish = publish;
  interval_publish.Subtract(prev_publish);
  metrics::Histogram interval_e2e = e2e;
  interval_e2e.Subtract(prev_e2e);
  point.publish = metrics::Summarize(interval_publish);
  point.end_to_end = metrics::Summarize(interval_e2e);
  point.publish_hist = interval_publish.Serialize();
  point.end_to_end_hist = interval_e2e.Serialize();
  if (second != nullptr) {
    second->publish = point.publish_hist;
    second->end_to_end = point.end_to_end_hist;
  }
  prev_publish = std::move(publish);
  prev_e2e = std::move(e2e);
  prev = live;
  return point;
}

void WorkloadRunner::Impl::SamplerLoop() {
  metrics::Histogram prev_publish, prev_e2e;
  WorkloadRunner::Live prev{};
  for (int64_t tick = 1;; ++tick) {
    int64_t due = load_start_ns_ + tick * kSecond;
    {
      std::unique_lock<std::mutex> lock(sampler_mu_);
      sampler_cv_.wait_for(lock, std::chrono::nanoseconds(std::max<int64_t>(due - NowNs(), 0)),
                           [this] { return stop_sampler_.load(); });
    }
    bool last = stop_sampler_.load();
    double t_s = static_cast<double>(std::min(NowNs(), due) - load_start_ns_) / kSecond;
    PartSecond second;
    SeriesPoint point = Sample(t_s, prev_publish, prev_e2e, prev, control_ != nullptr ? &second : nullptr);
    series_.push_back(point);
    if (control_ != nullptr) seconds_.push_back(std::move(second));
    if (observer_ != nullptr) {
      observer_->OnSecond(point, prev, t_s, draining_.load());
      // Sample() left the cumulative histograms in prev_*.
      observer_->OnHistograms(prev_publish, prev_e2e);
    }
    if (last) break;
  }
}

void WorkloadRunner::Impl::Drain(const CancelToken& cancel, WorkloadResult& result) {
  draining_.store(true);
  const uint32_t domain_count = static_cast<uint32_t>(opt_.producers * lanes_);
  DrainTracker tracker(driver_, endpoint_, opt_.name, opt_.topic, opt_.group, lanes_, domain_count);
  int64_t deadline = MonotonicNs() + opt_.drain_timeout_ns;
  RunnerProgress progress;
  while (true) {
    Progress(&progress);
    if (tracker.CaughtUp(progress.drain) || MonotonicNs() >= deadline || cancel.aborted()) break;
    // Not cancel.WaitFor(): a graceful stop (the flow ended) must still let the drain finish.
    std::this_thread::sleep_for(std::chrono::nanoseconds(tracker.ProbeIntervalNs()));
  }
  stop_consumers_.store(true);
  const std::vector<bool> caught_up = tracker.DomainsCaughtUp();
  std::vector<verify::DomainInfo> domains;
  for (uint32_t d = 0; d < domain_count; ++d) {
    domains.push_back(verify::DomainInfo{DomainName(d), caught_up[d]});
  }
  result.drain_caught_up = std::all_of(domains.begin(), domains.end(),
                                       [](const verify::DomainInfo& d) { return d.caught_up; });
  domains_ = std::move(domains);
}

bool WorkloadRunner::Impl::Progress(RunnerProgress* out) const {
  std::lock_guard<std::mutex> lock(live_mu_);
  if (!live_) return false;
  out->totals = LiveCounters();
  const size_t domains = static_cast<size_t>(opt_.producers) * static_cast<size_t>(lanes_);
  out->drain.next_offset.resize(static_cast<size_t>(lanes_));
  for (int l = 0; l < lanes_; ++l) out->drain.next_offset[l] = next_offset_[l].load(std::memory_order_relaxed);
  out->drain.max_acked_seq.resize(domains);
  out->drain.max_received_seq.resize(domains);
  for (size_t d = 0; d < domains; ++d) {
    out->drain.max_acked_seq[d] = max_acked_seq_[d].load(std::memory_order_relaxed);
    out->drain.max_received_seq[d] = max_received_seq_[d].load(std::memory_order_relaxed);
  }
  out->drain.received = out->totals.received;
  out->consumer_lanes.clear();
  for (const auto& c : consumers_) out->consumer_lanes.push_back(c->client->AssignedLanes());
  return true;
}

void WorkloadRunner::Impl::BuildPart(const WorkloadResult& result) {
  WorkloadPart& out = part();
  for (const auto& p : producers_) out.sends.Merge(p->shard);
  for (const auto& c : consumers_) out.receives.Merge(c->shard);
  out.skipped_per_lane.assign(static_cast<size_t>(lanes_), 0);
  for (const auto& c : consumers_) {
    for (int l = 0; l < lanes_; ++l) out.skipped_per_lane[l] += c->skipped[l];
  }
  out.had_consumers = !consumers_.empty();
  out.result.sent = result.sent;
  out.result.acked = result.acked;
  out.result.failed = result.failed;
  out.result.indeterminate = result.indeterminate;
  out.result.received = result.received;
  out.result.bytes_sent = result.bytes_sent;
  out.result.bytes_received = result.bytes_received;
  out.result.send_errors = result.send_errors;
  out.result.failures = result.failures;
  out.result.started_ns = result.started_ns;
  out.result.load_end_ns = result.load_end_ns;
  out.result.finished_ns = result.finished_ns;
  out.result.skipped_offsets = result.skipped_offsets;
  out.result.cancelled = result.cancelled;
  out.result.lanes = result.lanes;
  out.result.publish = result.publish;
  out.result.service = result.service;
  out.result.end_to_end = result.end_to_end;
  out.result.send_delay = result.send_delay;
  out.result.series = result.series;
  out.seconds = std::move(seconds_);
}

Status WorkloadRunner::Impl::Run(const CancelToken& cancel, WorkloadResult& result) {
  {
    Status created = CreateClients();
    std::lock_guard<std::mutex> lock(live_mu_);
    if (!created.ok()) {
      producers_.clear();
      consumers_.clear();
      return created;
    }
    live_ = true;
  }
  result.lanes = lanes_;
  std::vector<std::thread> consumer_threads;
  for (auto& c : consumers_) consumer_threads.emplace_back([this, &c] { ConsumerLoop(*c); });
  bool ready = true;
  std::optional<int64_t> start_at;
  if (control_ != nullptr) {
    start_at = control_->AwaitStart(cancel);
    ready = start_at.has_value();
  } else {
    ready = WaitForConsumers(cancel);
  }

  load_start_ns_ = start_at.value_or(NowNs() + 10 * kNsPerMs);
  result.started_ns = load_start_ns_;
  std::thread sampler;
  if (ready && !cancel.cancelled()) {
    if (observer_ != nullptr) observer_->OnStarted();
    sampler = std::thread([this] { SamplerLoop(); });
    std::vector<std::thread> producer_threads;
    for (auto& p : producers_) producer_threads.emplace_back([this, &p, &cancel] { ProducerLoop(*p, cancel); });
    for (std::thread& t : producer_threads) t.join();
  }
  result.load_end_ns = NowNs();
  if (control_ != nullptr) {
    // The coordinator drains: it sees every process's consumers.
    draining_.store(true);
    control_->AwaitDrainEnd(cancel);
    stop_consumers_.store(true);
  } else if (!consumers_.empty() && !cancel.aborted()) {
    Drain(cancel, result);
  } else {
    for (uint32_t d = 0; d < static_cast<uint32_t>(opt_.producers * lanes_); ++d) {
      domains_.push_back(verify::DomainInfo{DomainName(d), false});
    }
  }
  stop_consumers_.store(true);
  for (std::thread& t : consumer_threads) t.join();
  // Lanes whose consumers skipped offsets did not read everything the broker held: their missing
  // messages are unseen (deleted before they were read), not lost by the broker's fault.
  for (const auto& c : consumers_) {
    for (int l = 0; l < lanes_; ++l) {
      if (c->skipped[l] == 0) continue;
      result.skipped_offsets += c->skipped[l];
      // Domain ids are producer * lanes + lane.
      for (size_t d = static_cast<size_t>(l); d < domains_.size(); d += static_cast<size_t>(lanes_)) {
        domains_[d].caught_up = false;
      }
    }
  }
  if (result.skipped_offsets > 0) {
    result.drain_caught_up = false;
    LogWarn("workload " + opt_.name + ": consumers skipped " + std::to_string(result.skipped_offsets) +
            " offsets the broker no longer held (retention); their messages count as unseen");
  }
  {
    std::lock_guard<std::mutex> lock(sampler_mu_);
    stop_sampler_.store(true);
  }
  sampler_cv_.notify_all();
  if (sampler.joinable()) sampler.join();
  result.finished_ns = NowNs();
  result.cancelled = cancel.aborted();  // a graceful stop yields a complete, if shorter, result

  std::vector<const verify::SendShard*> sends;
  std::vector<const verify::ReceiveShard*> receives;
  for (const auto& p : producers_) {
    sends.push_back(&p->shard);
    result.sent += p->sent.Get();
    result.acked += p->acked.Get();
    result.failed += p->failed.Get();
    result.indeterminate += p->indeterminate.Get();
    result.bytes_sent += p->bytes.Get();
    result.send_errors += p->send_errors;
    result.failures.Merge(p->failures);
    result.publish.Merge(p->publish);
    result.service.Merge(p->service);
    result.send_delay.Merge(p->send_delay);
  }
  for (const auto& c : consumers_) {
    receives.push_back(&c->shard);
    result.received += c->received.Get();
    result.bytes_received += c->bytes.Get();
    result.end_to_end.Merge(c->end_to_end);
  }
  result.consumed = !consumers_.empty();
  result.series = std::move(series_);
  if (control_ != nullptr) {
    BuildPart(result);  // the coordinator classifies, over every process's shards
  } else {
    result.delivery = verify::Classify(sends, receives, domains_);
    if (!result.cancelled) AuditLostMessages(driver_, endpoint_, opt_, sends, receives, domains_, &result.delivery);
  }
  std::lock_guard<std::mutex> lock(live_mu_);
  live_ = false;
  producers_.clear();  // destroys clients before the cluster goes away
  consumers_.clear();
  return Status::Ok();
}

WorkloadRunner::WorkloadRunner(drivers::Driver& driver, drivers::Endpoint endpoint,
                               WorkloadOptions options, WorkloadObserver* observer,
                               HistoryWriter* history)
    : impl_(std::make_unique<Impl>(driver, std::move(endpoint), std::move(options), observer, history)) {}

WorkloadRunner::~WorkloadRunner() = default;

Status WorkloadRunner::Run(const CancelToken& cancel) { return impl_->Run(cancel, result_); }

void WorkloadRunner::SetControl(WorkloadControl* control) { impl_->SetControl(control); }

bool WorkloadRunner::Progress(RunnerProgress* out) const { return impl_->Progress(out); }

WorkloadPart& WorkloadRunner::part() { return impl_->part(); }


}  // namespace drone::workload
