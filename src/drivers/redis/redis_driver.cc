#include "drivers/redis/redis_driver.h"

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <thread>

#include "core/clock.h"
#include "drivers/redis/redis_client.h"
#include "drivers/redis/reply_recorder.h"
#include "drivers/redis/xadd_queue.h"

namespace drone::drivers {
namespace {

using redis::Context;
using redis::Reply;
using redis::Topology;

constexpr int64_t kConnectTimeoutNs = 2 * kNsPerSec;
constexpr int64_t kReconnectBackoffNs = 100 * kNsPerMs;
constexpr int64_t kCommandTimeoutNs = 5 * kNsPerSec;
// The field that carries the payload in every stream entry Drone writes.
constexpr std::string_view kPayloadField = "d";

Result<int64_t> ParseInt(const std::string& scope, const std::string& key, const std::string& value,
                         int64_t min, int64_t max) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || ptr != value.data() + value.size() || v < min || v > max) {
    return InvalidArgument("redis " + scope + "." + key + ": expected an integer " + std::to_string(min) +
                           ".." + std::to_string(max) + ", got '" + value + "'");
  }
  return v;
}

Status UnknownKey(const std::string& scope, const std::string& key, const std::string& known) {
  return InvalidArgument("redis " + scope + ": unknown setting '" + key + "'; known: " + known);
}

std::string Str(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                          r->type == REDIS_REPLY_ERROR)
             ? std::string(r->str, r->len)
             : std::string();
}

Result<Topology> EndpointTopology(const Endpoint& endpoint) {
  auto it = endpoint.properties.find(kRedisSentinelMaster);
  return redis::TopologyOf(endpoint.bootstrap, it == endpoint.properties.end() ? "" : it->second);
}

class RedisAdmin : public Admin {
 public:
  explicit RedisAdmin(Topology topology) : topology_(std::move(topology)) {}

  Status Ping(int64_t timeout_ns) override {
    ASSIGN_OR_RETURN(Context c, redis::ConnectPrimary(topology_, timeout_ns));
    ASSIGN_OR_RETURN(Reply r, redis::Command(c.get(), {"PING"}));
    if (r->type == REDIS_REPLY_ERROR) return Unavailable("redis PING: " + Str(r.get()));
    return Status::Ok();
  }

  Status CreateTopic(const TopicRequest& request, int64_t timeout_ns) override {
    ASSIGN_OR_RETURN(Reply exists, Run({"EXISTS", request.name}, timeout_ns));
    if (exists->type == REDIS_REPLY_INTEGER && exists->integer > 0) {
      return Status(StatusCode::kAlreadyExists, "stream " + request.name + " exists");
    }
    // A stream cannot be created empty except through a consumer group: create one and drop it.
    ASSIGN_OR_RETURN(Reply created, Run({"XGROUP", "CREATE", request.name, "drone-create", "$", "MKSTREAM"},
                                        timeout_ns));
    if (created->type == REDIS_REPLY_ERROR) return Internal("XGROUP CREATE: " + Str(created.get()));
    ASSIGN_OR_RETURN(Reply dropped, Run({"XGROUP", "DESTROY", request.name, "drone-create"}, timeout_ns));
    if (dropped->type == REDIS_REPLY_ERROR) return Internal("XGROUP DESTROY: " + Str(dropped.get()));
    return Status::Ok();
  }

  Result<TopicInfo> DescribeTopic(const std::string& name, int64_t timeout_ns) override {
    ASSIGN_OR_RETURN(Reply type, Run({"TYPE", name}, timeout_ns));
    const std::string t = Str(type.get());
    if (t == "none") return NotFound("stream " + name + " does not exist");
    if (t != "stream") return FailedPrecondition(name + " is a Redis " + t + ", not a stream");
    return TopicInfo{name, 1, 1};
  }

  Result<int64_t> Backlog(const std::string& topic, const std::string& group, int64_t timeout_ns) override {
    ASSIGN_OR_RETURN(Reply r, Run({"XINFO", "GROUPS", topic}, timeout_ns));
    if (r->type == REDIS_REPLY_ERROR) return NotFound("XINFO GROUPS " + topic + ": " + Str(r.get()));
    if (r->type != REDIS_REPLY_ARRAY) return Internal("unexpected XINFO GROUPS reply");
    for (size_t g = 0; g < r->elements; ++g) {
      const redisReply* info = r->element[g];
      if (info->type != REDIS_REPLY_ARRAY) continue;
      std::string name;
      int64_t pending = -1, lag = -1;
      bool lag_known = false;
      for (size_t i = 0; i + 1 < info->elements; i += 2) {
        const std::string field = Str(info->element[i]);
        const redisReply* v = info->element[i + 1];
        if (field == "name") name = Str(v);
        if (field == "pending" && v->type == REDIS_REPLY_INTEGER) pending = v->integer;
        if (field == "lag" && v->type == REDIS_REPLY_INTEGER) {
          lag = v->integer;
          lag_known = true;
        }
      }
      if (name != group) continue;
      // Redis cannot always compute the lag (e.g. after entries were deleted); then the backlog
      // is unknown rather than 0.
      if (!lag_known || pending < 0) return Unavailable("redis cannot tell the lag of group " + group);
      return pending + lag;
    }
    return NotFound("stream " + topic + " has no group " + group);
  }

  // XRANGE in pages of 1000 entries, from the start of the stream on the current primary.
  Status ReadStored(const std::string& topic, int64_t timeout_ns,
                    const std::function<void(std::string_view)>& each) override {
    const int64_t deadline = MonotonicNs() + timeout_ns;
    std::string start = "-";
    while (true) {
      const int64_t left = deadline - MonotonicNs();
      if (left <= 0) return DeadlineExceeded("redis: reading stream " + topic + " took too long");
      ASSIGN_OR_RETURN(Reply r, Run({"XRANGE", topic, start, "+", "COUNT", "1000"}, left));
      if (r->type == REDIS_REPLY_ERROR) return Internal("XRANGE " + topic + ": " + Str(r.get()));
      if (r->type != REDIS_REPLY_ARRAY) return Internal("unexpected XRANGE reply");
      for (size_t e = 0; e < r->elements; ++e) {
        // [id, [field, value, ...]]
        const redisReply* entry = r->element[e];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) continue;
        const redisReply* fields = entry->element[1];
        for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
          if (Str(fields->element[i]) != kPayloadField) continue;
          const redisReply* v = fields->element[i + 1];
          if (v->type == REDIS_REPLY_STRING) each(std::string_view(v->str, v->len));
        }
      }
      if (r->elements < 1000) return Status::Ok();
      // The next page starts after the last id ("(" makes the range exclusive, Redis 6.2+).
      start = "(" + Str(r->element[r->elements - 1]->element[0]);
    }
  }

 private:
  Result<Reply> Run(const std::vector<std::string>& argv, int64_t timeout_ns) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!c_) {
        ASSIGN_OR_RETURN(c_, redis::ConnectPrimary(topology_, timeout_ns));
      }
      Result<Reply> r = redis::Command(c_.get(), argv);
      if (r.ok()) {
        // After a failover the old primary may still answer, read-only.
        if ((*r)->type == REDIS_REPLY_ERROR && Str(r->get()).rfind("READONLY", 0) == 0) {
          c_.reset();
          continue;
        }
        return r;
      }
      c_.reset();  // a dead connection: find the primary again
      if (attempt == 1) return r.status();
    }
    return Unavailable("redis: no primary");
  }

  const Topology topology_;
  Context c_;
};

// Pipelining, double-buffered: at most `pipeline` XADDs are on the connection (written, waiting
// for their replies) while up to as many more wait in queue_, already formatted. When replies free
// room on the connection, the next batch is written before those replies are accounted for, so the
// server works on it while this thread settles the last one and formats the one after.
class RedisProducer : public Producer {
 public:
  RedisProducer(Topology topology, const ProducerOptions& options, RedisProducerSettings settings,
                int wait_replicas, DeliveryHandler& handler)
      : topology_(std::move(topology)),
        message_timeout_ns_(options.message_timeout_ns),
        pipeline_(static_cast<size_t>(settings.pipeline)),
        wait_timeout_ms_(settings.wait_timeout_ms),
        wait_replicas_(wait_replicas),
        handler_(handler),
        queue_(options.topic, kPayloadField) {}

  Status Connect(int64_t timeout_ns) {
    ASSIGN_OR_RETURN(c_, redis::ConnectPrimary(topology_, timeout_ns));
    replies_.Attach(c_->reader);
    return Status::Ok();
  }

  int Lanes() const override { return 1; }

  Status Send(int /*lane*/, std::string_view /*key*/, std::string_view payload, uint64_t token) override {
    if (!EnsureConnected()) return Unavailable("not connected to the redis primary");
    // Full: the replies that make room come through Poll(), which the caller runs before retrying.
    if (queue_.size() >= pipeline_) return Unavailable("queue full");
    queue_.Push(payload);
    queued_.push_back(token);
    ++xadds_in_flight_;
    // Enough is queued to fill the connection: write now rather than at the next Poll.
    if (on_wire_ < pipeline_ && queue_.size() >= pipeline_ - on_wire_) Write();
    return Status::Ok();
  }

  void Poll(int timeout_ms) override { Service(timeout_ms); }

  size_t Flush(int64_t timeout_ns) override {
    const int64_t deadline = MonotonicNs() + timeout_ns;
    while (xadds_in_flight_ > 0 && MonotonicNs() < deadline) {
      if (!c_) {
        Fail("connection lost");
        break;
      }
      Service(10);
    }
    return xadds_in_flight_;
  }

  size_t InFlight() const override { return xadds_in_flight_; }

 private:
  // One command on the connection, in the order they were written: an XADD (token) or a WAIT.
  struct Command {
    uint64_t token = 0;
    bool wait = false;
    int64_t written_ns = 0;
  };

  bool EnsureConnected() {
    if (c_) return true;
    const int64_t now = MonotonicNs();
    if (now < next_connect_ns_) return false;
    next_connect_ns_ = now + kReconnectBackoffNs;
    Result<Context> c = redis::ConnectPrimary(topology_, kConnectTimeoutNs);
    if (!c.ok()) return false;
    c_ = std::move(*c);
    replies_.Attach(c_->reader);
    return true;
  }

  void Write() {
    std::string error;
    if (!WriteQueued(&error)) Fail(error);
  }

  // Moves what fits of the queue onto the connection (and a WAIT, when asked for and none is out) and
  // writes hiredis's output buffer out. False, with the reason, when the connection failed.
  bool WriteQueued(std::string* error) {
    if (!c_) return true;
    const size_t n = std::min(queue_.size(), pipeline_ - on_wire_);
    if (n > 0) {
      const std::string_view bytes = queue_.Front(n);
      if (redisAppendFormattedCommand(c_.get(), bytes.data(), bytes.size()) != REDIS_OK) {
        *error = "redis: cannot queue XADD";
        return false;
      }
      const int64_t now = MonotonicNs();
      for (size_t i = 0; i < n; ++i) {
        commands_.push_back(Command{queued_.front(), false, now});
        queued_.pop_front();
      }
      queue_.Pop(n);
      on_wire_ += n;
      unwaited_ += wait_replicas_ > 0 ? n : 0;
    }
    // One WAIT on the connection at a time, after the XADDs it is to confirm: WAIT blocks the
    // connection until the replicas answer or its timeout passes, so a WAIT per write would
    // serialise those waits (one XADD per timeout while a replica lags). XADDs written while a
    // WAIT is out get the next one, sent when its answer comes.
    if (unwaited_ > 0 && !wait_out_) {
      const std::string replicas = std::to_string(wait_replicas_);
      const std::string timeout = std::to_string(wait_timeout_ms_);
      const char* argv[] = {"WAIT", replicas.c_str(), timeout.c_str()};
      const size_t lens[] = {4, replicas.size(), timeout.size()};
      if (redisAppendCommandArgv(c_.get(), 3, argv, lens) != REDIS_OK) {
        *error = "redis: cannot queue WAIT";
        return false;
      }
      commands_.push_back(Command{0, true, MonotonicNs()});
      wait_out_ = true;
      unwaited_ = 0;
    }
    int done = 0;
    while (done == 0) {
      if (redisBufferWrite(c_.get(), &done) != REDIS_OK) {
        *error = std::string("redis write: ") + c_->errstr;
        return false;
      }
    }
    return true;
  }

  void Service(int timeout_ms) {
    if (!c_) {
      if (!EnsureConnected()) {
        if (timeout_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, 10)));
        return;
      }
    }
    Write();
    if (!c_) return;
    if (commands_.empty()) return;
    ReadReplies(timeout_ms);
    if (c_ && !commands_.empty() && MonotonicNs() - commands_.front().written_ns > message_timeout_ns_) {
      Fail("no reply within the message timeout");
    }
  }

  // Reads what has arrived (waiting up to `timeout_ms` for the first bytes) and settles it.
  void ReadReplies(int timeout_ms) {
    pollfd p{c_->fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return;
    if (redisBufferRead(c_.get()) != REDIS_OK) {
      Fail(std::string("redis read: ") + c_->errstr);
      return;
    }
    const bool protocol_error = !replies_.ReadAll(c_->reader);
    // The replies answer the oldest commands: the XADDs among them leave the connection, and the
    // queue refills it before anything is settled.
    bool written = true;
    std::string write_error;
    if (!protocol_error && !replies_.empty()) {
      for (size_t i = 0; i < replies_.size() && i < commands_.size(); ++i) {
        if (!commands_[i].wait) --on_wire_;
      }
      written = WriteQueued(&write_error);
    }
    for (size_t i = 0; i < replies_.size(); ++i) Handle(replies_[i]);
    replies_.Clear();
    if (protocol_error) {
      Fail("redis protocol error");
    } else if (!written) {
      Fail(write_error);
    } else if (unwaited_ > 0 && !wait_out_) {
      Write();  // a WAIT answered: the XADDs written after it get theirs
    }
  }

  void Handle(const redis::ReplyRecorder::Reply& reply) {
    if (commands_.empty()) return;  // impossible: replies follow commands one to one
    Command cmd = commands_.front();
    commands_.pop_front();
    if (cmd.wait) {
      wait_out_ = false;
      // WAIT answers how many replicas have everything this connection wrote so far.
      const bool enough = reply.type == REDIS_REPLY_INTEGER && reply.integer >= wait_replicas_;
      if (enough) {
        for (uint64_t t : held_) Settle(t, Outcome::kAck, "");
      } else {
        error_ = reply.type == REDIS_REPLY_INTEGER
                     ? "WAIT: " + std::to_string(reply.integer) + " of " + std::to_string(wait_replicas_) +
                           " replicas acknowledged"
                     : "WAIT: " + reply.text;
        for (uint64_t t : held_) Settle(t, Outcome::kIndeterminate, error_);
      }
      held_.clear();
      return;
    }
    if (reply.type == REDIS_REPLY_ERROR) {
      error_ = reply.text;
      Settle(cmd.token, Outcome::kNack, error_);
    } else if (wait_replicas_ > 0) {
      held_.push_back(cmd.token);
    } else {
      Settle(cmd.token, Outcome::kAck, "");
    }
  }

  void Settle(uint64_t token, Outcome outcome, std::string_view error) {
    --xadds_in_flight_;
    Delivery d;
    d.token = token;
    d.outcome = outcome;
    d.lane = 0;
    d.error = error;
    handler_.OnDelivery(d);
  }

  // The connection is gone (or hangs): whatever was written may or may not have been applied;
  // what was still queued never left this process.
  void Fail(const std::string& why) {
    error_ = why;
    std::vector<uint64_t> open = held_;
    for (const Command& c : commands_) {
      if (!c.wait) open.push_back(c.token);
    }
    const std::vector<uint64_t> unsent(queued_.begin(), queued_.end());
    commands_.clear();
    held_.clear();
    queued_.clear();
    queue_.Clear();
    on_wire_ = 0;
    unwaited_ = 0;
    wait_out_ = false;
    c_.reset();
    next_connect_ns_ = MonotonicNs() + kReconnectBackoffNs;
    for (uint64_t t : open) Settle(t, Outcome::kIndeterminate, error_);
    const std::string unsent_error = "not written before the connection failed: " + why;
    for (uint64_t t : unsent) Settle(t, Outcome::kNack, unsent_error);
  }

  const Topology topology_;
  const int64_t message_timeout_ns_;
  const size_t pipeline_;  // XADDs on the connection at most, and XADDs queued at most
  const int64_t wait_timeout_ms_;
  const int wait_replicas_;  // 0: no WAIT
  DeliveryHandler& handler_;
  Context c_;
  int64_t next_connect_ns_ = 0;
  redis::XaddQueue queue_;      // formatted, not yet written
  std::deque<uint64_t> queued_;  // the tokens of queue_'s commands
  std::deque<Command> commands_;  // written, waiting for their replies
  redis::ReplyRecorder replies_;  // read, not yet handled
  std::vector<uint64_t> held_;  // XADDs applied on the primary, waiting for their WAIT
  size_t on_wire_ = 0;          // XADDs in commands_
  size_t unwaited_ = 0;         // XADDs written after the last WAIT (with wait_replicas_ > 0)
  bool wait_out_ = false;       // a WAIT is in commands_
  size_t xadds_in_flight_ = 0;  // XADDs without an outcome yet: queued, on the connection, held
  std::string error_;           // keeps the text a Delivery points at
};

class RedisConsumer : public Consumer {
 public:
  RedisConsumer(Topology topology, ConsumerOptions options, RedisConsumerSettings settings)
      : topology_(std::move(topology)), options_(std::move(options)), settings_(settings) {}

  Status Connect(int64_t timeout_ns) {
    ASSIGN_OR_RETURN(Context c, redis::ConnectPrimary(topology_, timeout_ns));
    RETURN_IF_ERROR(Join(c.get()));
    c_ = std::move(c);
    return Status::Ok();
  }

  Result<size_t> Poll(int timeout_ms, ReceiveHandler& handler) override {
    if (!c_) {
      const int64_t now = MonotonicNs();
      if (now < next_connect_ns_) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(
            next_connect_ns_ - now, static_cast<int64_t>(std::max(timeout_ms, 1)) * kNsPerMs)));
        return size_t{0};
      }
      next_connect_ns_ = now + kReconnectBackoffNs;
      if (!Connect(kConnectTimeoutNs).ok()) return size_t{0};
    }
    // After (re)connecting, first what this consumer was given but never acknowledged.
    const std::string block = std::to_string(std::max(timeout_ms, 1));
    const std::string count = std::to_string(settings_.count);
    std::vector<std::string> argv = {"XREADGROUP", "GROUP", options_.group, options_.client_id, "COUNT", count};
    if (!read_pending_) {
      argv.push_back("BLOCK");
      argv.push_back(block);
    }
    argv.push_back("STREAMS");
    argv.push_back(options_.topic);
    argv.push_back(read_pending_ ? "0" : ">");
    Result<Reply> r = redis::Command(c_.get(), argv);
    if (!r.ok()) {
      Drop();
      return size_t{0};
    }
    const redisReply& reply = **r;
    if (reply.type == REDIS_REPLY_ERROR) {
      const std::string e = Str(&reply);
      // A new primary that never had the group (it was promoted before the group reached it):
      // recreate it; reading from the start redelivers rather than skips.
      if (e.rfind("NOGROUP", 0) == 0 || e.rfind("READONLY", 0) == 0) {
        Drop();
        return size_t{0};
      }
      return Internal("XREADGROUP: " + e);
    }
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements == 0) return size_t{0};  // nil: timed out
    const redisReply* stream = reply.element[0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2) return size_t{0};
    const redisReply* entries = stream->element[1];
    std::vector<std::string> ack = {"XACK", options_.topic, options_.group};
    size_t delivered = 0;
    for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; ++i) {
      const redisReply* entry = entries->element[i];
      if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2) continue;
      ack.push_back(Str(entry->element[0]));
      const redisReply* fields = entry->element[1];
      if (fields->type != REDIS_REPLY_ARRAY) continue;  // pending, but deleted meanwhile
      for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (Str(fields->element[f]) != kPayloadField) continue;
        Received m;
        m.payload = std::string_view(fields->element[f + 1]->str, fields->element[f + 1]->len);
        m.lane = 0;
        m.redelivered = read_pending_;
        handler.OnReceive(m);
        ++delivered;
      }
    }
    if (read_pending_ && (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)) read_pending_ = false;
    if (ack.size() > 3) {
      Result<Reply> acked = redis::Command(c_.get(), ack);
      if (!acked.ok()) Drop();  // unacknowledged entries stay pending: read again after reconnecting
    }
    return delivered;
  }

  uint32_t Session() const override { return session_; }
  int AssignedLanes() const override { return joined_ ? 1 : 0; }
  void Close() override { c_.reset(); }

 private:
  Status Join(redisContext* c) {
    // From the start of the stream ("0"), so that a group created late still reads everything;
    // BUSYGROUP = it exists, which is fine.
    ASSIGN_OR_RETURN(Reply r, redis::Command(c, {"XGROUP", "CREATE", options_.topic, options_.group, "0", "MKSTREAM"}));
    if (r->type == REDIS_REPLY_ERROR && Str(r.get()).rfind("BUSYGROUP", 0) != 0) {
      return Unavailable("XGROUP CREATE: " + Str(r.get()));
    }
    read_pending_ = true;
    joined_ = true;
    ++session_;
    return Status::Ok();
  }

  void Drop() {
    c_.reset();
    next_connect_ns_ = MonotonicNs() + kReconnectBackoffNs;
  }

  const Topology topology_;
  const ConsumerOptions options_;
  const RedisConsumerSettings settings_;
  Context c_;
  int64_t next_connect_ns_ = 0;
  bool read_pending_ = true;
  bool joined_ = false;
  uint32_t session_ = 0;
};

class RedisDriver : public Driver {
 public:
  std::string Name() const override { return "redis"; }

  Status ValidateOptions(OptionScope scope, const std::map<std::string, std::string>& options) const override {
    switch (scope) {
      case OptionScope::kTopic:
        if (!options.empty()) {
          return InvalidArgument("redis streams take no topic config; remove '" + options.begin()->first + "'");
        }
        return Status::Ok();
      case OptionScope::kProducer:
        return ParseRedisProducerSettings(options).status();
      case OptionScope::kConsumer:
        return ParseRedisConsumerSettings(options).status();
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Admin>> NewAdmin(const Endpoint& endpoint) override {
    ASSIGN_OR_RETURN(Topology t, EndpointTopology(endpoint));
    return std::unique_ptr<Admin>(new RedisAdmin(std::move(t)));
  }

  Result<std::unique_ptr<Producer>> NewProducer(const Endpoint& endpoint, const ProducerOptions& options,
                                                DeliveryHandler& handler) override {
    ASSIGN_OR_RETURN(Topology t, EndpointTopology(endpoint));
    ASSIGN_OR_RETURN(RedisProducerSettings s, ParseRedisProducerSettings(options.extra));
    int wait = s.wait_replicas;
    if (wait < 0) {
      wait = 0;
      auto it = endpoint.properties.find(kRedisReplicas);
      if (options.acks == "all" && it != endpoint.properties.end()) wait = std::atoi(it->second.c_str());
    }
    auto p = std::make_unique<RedisProducer>(std::move(t), options, s, wait, handler);
    RETURN_IF_ERROR(p->Connect(10 * kNsPerSec));
    return std::unique_ptr<Producer>(std::move(p));
  }

  Result<std::unique_ptr<Consumer>> NewConsumer(const Endpoint& endpoint, const ConsumerOptions& options) override {
    ASSIGN_OR_RETURN(Topology t, EndpointTopology(endpoint));
    ASSIGN_OR_RETURN(RedisConsumerSettings s, ParseRedisConsumerSettings(options.extra));
    auto c = std::make_unique<RedisConsumer>(std::move(t), options, s);
    RETURN_IF_ERROR(c->Connect(10 * kNsPerSec));
    return std::unique_ptr<Consumer>(std::move(c));
  }
};

}  // namespace

Result<RedisProducerSettings> ParseRedisProducerSettings(const std::map<std::string, std::string>& config) {
  RedisProducerSettings s;
  for (const auto& [k, v] : config) {
    if (k == "pipeline") {
      ASSIGN_OR_RETURN(int64_t n, ParseInt("producer_config", k, v, 1, 100000));
      s.pipeline = static_cast<int>(n);
    } else if (k == "wait_replicas") {
      ASSIGN_OR_RETURN(int64_t n, ParseInt("producer_config", k, v, 0, 100));
      s.wait_replicas = static_cast<int>(n);
    } else if (k == "wait_timeout_ms") {
      ASSIGN_OR_RETURN(s.wait_timeout_ms, ParseInt("producer_config", k, v, 1, 3'600'000));
    } else {
      return UnknownKey("producer_config", k, "pipeline, wait_replicas, wait_timeout_ms");
    }
  }
  return s;
}

Result<RedisConsumerSettings> ParseRedisConsumerSettings(const std::map<std::string, std::string>& config) {
  RedisConsumerSettings s;
  for (const auto& [k, v] : config) {
    if (k == "count") {
      ASSIGN_OR_RETURN(int64_t n, ParseInt("consumer_config", k, v, 1, 100000));
      s.count = static_cast<int>(n);
    } else {
      return UnknownKey("consumer_config", k, "count");
    }
  }
  return s;
}

std::unique_ptr<Driver> NewRedisDriver() { return std::make_unique<RedisDriver>(); }

}  // namespace drone::drivers
