#include "drivers/rabbitmq/rabbitmq_driver.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <deque>
#include <optional>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/log.h"

namespace drone::drivers {
namespace {

constexpr amqp_channel_t kChannel = 1;
// A connect attempt per address: loopback refuses a dead node at once, but a paused node accepts
// the TCP handshake and then never answers the AMQP one.
constexpr int64_t kConnectTimeoutNs = 2 * kNsPerSec;
// Reconnect attempts of one client are spaced so a dead cluster is not hammered in a loop.
constexpr int64_t kReconnectIntervalNs = 250 * kNsPerMs;

// Spaces a client's reconnect attempts kReconnectIntervalNs apart; an attempt gets
// kConnectTimeoutNs. Attempt() runs `connect` (given its deadline) when one is due, and returns
// its status, or nullopt when it is too early to try again.
class ReconnectPacer {
 public:
  template <typename Connect>
  std::optional<Status> Attempt(Connect&& connect) {
    int64_t now = MonotonicNs();
    if (now < next_attempt_ns_) return std::nullopt;
    next_attempt_ns_ = now + kReconnectIntervalNs;
    return connect(now + kConnectTimeoutNs);
  }

 private:
  int64_t next_attempt_ns_ = 0;
};
constexpr int kMaxFramesPerPoll = 4096;
constexpr int kMaxMessagesPerPoll = 512;

timeval Tv(int64_t ns) {
  ns = std::max<int64_t>(ns, 0);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ns / kNsPerSec);
  tv.tv_usec = static_cast<suseconds_t>((ns % kNsPerSec) / kNsPerUs);
  return tv;
}

amqp_bytes_t Bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

std::string Text(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

size_t AmqpStartIndex(const std::string& client_id, size_t addresses) {
  if (addresses == 0) return 0;
  size_t end = client_id.size();
  size_t begin = end;
  while (begin > 0 && client_id[begin - 1] >= '0' && client_id[begin - 1] <= '9') --begin;
  if (begin < end && end - begin < 9) {
    size_t k = static_cast<size_t>(std::stoul(client_id.substr(begin)));
    if (k > 0) return (k - 1) % addresses;
  }
  return Fnv1a(client_id) % addresses;
}

namespace {

void SleepMs(int ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 100)));
}

Status ServerCloseStatus(uint16_t code, const std::string& text, const std::string& context) {
  std::string m = context + ": " + std::to_string(code) + " " + text;
  switch (code) {
    case 404:
      return NotFound(m);
    case 403:
      return FailedPrecondition(m);  // ACCESS_REFUSED: credentials or permissions
    case 406:
      return InvalidArgument(m);  // PRECONDITION_FAILED: e.g. inequivalent queue args
    case 320:                     // CONNECTION_FORCED: the node shuts down
    case 541:
      return Unavailable(m);
    default:
      return Internal(m);
  }
}

// Translates a rabbitmq-c RPC reply into a Status at the driver boundary.
Status ReplyStatus(const amqp_rpc_reply_t& r, const std::string& context) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return Status::Ok();
    case AMQP_RESPONSE_NONE:
      return Internal(context + ": no RPC reply");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      if (r.library_error == AMQP_STATUS_TIMEOUT) {
        return DeadlineExceeded(context + ": " + amqp_error_string2(r.library_error));
      }
      return Unavailable(context + ": " + amqp_error_string2(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return ServerCloseStatus(m->reply_code, Text(m->reply_text), context);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return ServerCloseStatus(m->reply_code, Text(m->reply_text), context);
      }
      return Internal(context + ": unexpected server method");
  }
  return Internal(context + ": unknown reply");
}

bool IsChannelClose(const amqp_rpc_reply_t& r) {
  return r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD;
}

Result<bool> ParseBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "yes" || v == "1" || v == "on") return true;
  if (v == "false" || v == "no" || v == "0" || v == "off") return false;
  return InvalidArgument(key + ": expected true or false, got '" + v + "'");
}

Result<int64_t> ParseInt(const std::string& key, const std::string& v, int64_t min, int64_t max) {
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size() || out < min || out > max) {
    return InvalidArgument(key + ": expected an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "], got '" + v + "'");
  }
  return out;
}

Status CheckKeys(const std::map<std::string, std::string>& config,
                 const std::set<std::string>& allowed, const std::string& what, bool allow_x_args) {
  for (const auto& [k, v] : config) {
    if (allowed.count(k) != 0 || (allow_x_args && k.rfind("x-", 0) == 0)) continue;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    if (allow_x_args) list += ", x-<queue argument>";
    return InvalidArgument("RabbitMQ " + what + ": unknown setting '" + k + "' (accepted: " + list +
                           ")");
  }
  return Status::Ok();
}

const std::set<std::string> kConnectionKeys = {"heartbeat", "username", "password", "vhost"};

std::set<std::string> With(std::set<std::string> a, std::initializer_list<std::string> more) {
  a.insert(more);
  return a;
}

// Connection settings shared by every client: credentials, vhost, heartbeat.
struct ClientSettings {
  std::string username = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  // Heartbeats are what notices a paused (SIGSTOPped) node: the socket stays open, the peer is
  // silent, and rabbitmq-c gives up after two missed intervals.
  int heartbeat_s = 5;
};

Status ApplyConnectionSettings(const std::map<std::string, std::string>& m, ClientSettings& s) {
  for (const auto& [k, v] : m) {
    if (k == "username") s.username = v;
    if (k == "password") s.password = v;
    if (k == "vhost") s.vhost = v;
    if (k == "heartbeat") {
      ASSIGN_OR_RETURN(int64_t h, ParseInt(k, v, 0, 3600));
      s.heartbeat_s = static_cast<int>(h);
    }
  }
  return Status::Ok();
}

// One AMQP connection with channel kChannel open. Not thread-safe; owned by one client.
class Connection {
 public:
  Connection() = default;
  ~Connection() { Close(false); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Tries each address once, starting at `first`; on success `index()` names the node.
  Status Open(const std::vector<AmqpAddress>& addrs, size_t first, const ClientSettings& s,
              int64_t deadline_ns) {
    Close(false);
    Status last = Unavailable("no address");
    for (size_t i = 0; i < addrs.size(); ++i) {
      size_t idx = (first + i) % addrs.size();
      int64_t left = deadline_ns - MonotonicNs();
      if (left <= 0 && i > 0) break;
      last = OpenOne(addrs[idx], s, std::clamp<int64_t>(left, 100 * kNsPerMs, kConnectTimeoutNs));
      if (last.ok()) {
        index_ = idx;
        peer_ = addrs[idx].host + ":" + std::to_string(addrs[idx].port);
        return last;
      }
      // Bad credentials are the same on every node: trying the others only hides the reason.
      if (last.code() == StatusCode::kFailedPrecondition) break;
    }
    return last;
  }

  // graceful: send connection.close and wait (bounded by the RPC timeout) for its answer.
  void Close(bool graceful) {
    if (conn_ == nullptr) return;
    if (graceful) amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
    conn_ = nullptr;
  }

  // After the broker closed the channel (e.g. a passive declare of a missing queue): acknowledge
  // and open it again, so the connection stays usable.
  Status ReopenChannel() {
    amqp_channel_close_ok_t ok{};
    amqp_send_method(conn_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    amqp_channel_open(conn_, kChannel);
    return ReplyStatus(amqp_get_rpc_reply(conn_), "reopen channel");
  }

  bool open() const { return conn_ != nullptr; }
  amqp_connection_state_t get() const { return conn_; }
  size_t index() const { return index_; }
  const std::string& peer() const { return peer_; }

 private:
  Status OpenOne(const AmqpAddress& a, const ClientSettings& s, int64_t timeout_ns) {
    std::string where = "RabbitMQ at " + a.host + ":" + std::to_string(a.port);
    amqp_connection_state_t conn = amqp_new_connection();
    if (conn == nullptr) return Internal("rabbitmq-c: out of memory");
    amqp_socket_t* socket = amqp_tcp_socket_new(conn);
    if (socket == nullptr) {
      amqp_destroy_connection(conn);
      return Internal("rabbitmq-c: cannot create a socket");
    }
    timeval tv = Tv(timeout_ns);
    int rc = amqp_socket_open_noblock(socket, a.host.c_str(), a.port, &tv);
    if (rc != AMQP_STATUS_OK) {
      amqp_destroy_connection(conn);
      return Unavailable("connect to " + where + ": " + amqp_error_string2(rc));
    }
    amqp_set_handshake_timeout(conn, &tv);
    amqp_set_rpc_timeout(conn, &tv);
    amqp_rpc_reply_t r = amqp_login(conn, s.vhost.c_str(), 0, 131072, s.heartbeat_s,
                                    AMQP_SASL_METHOD_PLAIN, s.username.c_str(), s.password.c_str());
    Status st = ReplyStatus(r, "login to " + where);
    if (st.ok()) {
      amqp_channel_open(conn, kChannel);
      st = ReplyStatus(amqp_get_rpc_reply(conn), "open a channel on " + where);
    }
    if (!st.ok()) {
      amqp_destroy_connection(conn);
      if (st.code() == StatusCode::kInternal || st.code() == StatusCode::kDeadlineExceeded) {
        return Unavailable(st.message());
      }
      return st;
    }
    conn_ = conn;
    return Status::Ok();
  }

  amqp_connection_state_t conn_ = nullptr;
  size_t index_ = 0;
  std::string peer_;
};

// Passive queue.declare: the queue's ready message count, NotFound when it does not exist. A
// failed passive declare closes the channel; it is reopened so the connection stays usable.
Result<uint32_t> PassiveDeclare(Connection& c, const std::string& queue) {
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(c.get(), kChannel, Bytes(queue), 1, 0, 0, 0, amqp_empty_table);
  amqp_rpc_reply_t r = amqp_get_rpc_reply(c.get());
  if (ok != nullptr && r.reply_type == AMQP_RESPONSE_NORMAL) return ok->message_count;
  Status st = ReplyStatus(r, "queue " + queue);
  if (IsChannelClose(r)) {
    Status reopened = c.ReopenChannel();
    if (!reopened.ok()) c.Close(false);
  } else {
    c.Close(false);
  }
  return st;
}

// Outcome reports wait here until the owner's Poll()/Flush() hands them to the handler, so that
// callbacks only ever run there (as the Producer contract says).
struct Report {
  uint64_t token;
  Outcome outcome;
  std::string error;
};

class RabbitMqProducer : public Producer {
 public:
  static Result<std::unique_ptr<Producer>> Create(const Endpoint& endpoint,
                                                  const ProducerOptions& options,
                                                  DeliveryHandler& handler) {
    RETURN_IF_ERROR(ValidateRabbitMqProducerConfig(options.extra));
    if (options.acks != "0" && options.acks != "1" && options.acks != "all") {
      return InvalidArgument("RabbitMQ producer: acks must be 0, 1 or all, got '" + options.acks +
                             "'");
    }
    auto p = std::unique_ptr<RabbitMqProducer>(new RabbitMqProducer());
    ASSIGN_OR_RETURN(p->addrs_, ParseAmqpBootstrap(endpoint.bootstrap));
    RETURN_IF_ERROR(ApplyConnectionSettings(endpoint.properties, p->settings_));
    RETURN_IF_ERROR(ApplyConnectionSettings(options.extra, p->settings_));
    for (const auto& [k, v] : options.extra) {
      if (k == "persistent") {
        ASSIGN_OR_RETURN(p->persistent_, ParseBool(k, v));
      }
      if (k == "mandatory") {
        ASSIGN_OR_RETURN(p->mandatory_, ParseBool(k, v));
      }
    }
    p->handler_ = &handler;
    p->queue_ = options.topic;
    p->confirms_ = options.acks != "0";
    p->message_timeout_ns_ = options.message_timeout_ns;
    p->next_index_ = AmqpStartIndex(options.client_id, p->addrs_.size());
    RETURN_IF_ERROR(p->Connect(MonotonicNs() + 10 * kNsPerSec));
    ASSIGN_OR_RETURN(uint32_t ready, PassiveDeclare(p->conn_, p->queue_));
    (void)ready;
    if (!p->conn_.open()) return Unavailable("RabbitMQ producer: connection lost while starting");
    return std::unique_ptr<Producer>(std::move(p));
  }

  ~RabbitMqProducer() override {
    handler_ = nullptr;
    conn_.Close(conn_.open());
  }

  int Lanes() const override { return 1; }

  Status Send(int /*lane*/, std::string_view /*key*/, std::string_view payload,
              uint64_t token) override {
    if (!conn_.open()) {
      Reconnect();
      if (!conn_.open()) {
        if (MonotonicNs() - down_since_ns_ < message_timeout_ns_) {
          return Unavailable("reconnecting: " + last_error_);
        }
        // Never handed to a broker: definitely not stored.
        return DeadlineExceeded("no RabbitMQ node reachable: " + last_error_);
      }
    }
    amqp_basic_properties_t props{};
    props._flags = 0;
    if (persistent_) {
      props._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
      props.delivery_mode = 2;
    }
    const bool mandatory = confirms_ && mandatory_;
    char id[24];
    if (mandatory) {
      // The delivery tag travels as the message id so that a basic.return names the publish.
      auto [end, ec] = std::to_chars(id, id + sizeof(id), next_tag_);
      (void)ec;
      props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
      props.message_id = amqp_bytes_t{static_cast<size_t>(end - id), id};
    }
    amqp_bytes_t body{payload.size(), const_cast<char*>(payload.data())};
    int rc = amqp_basic_publish(conn_.get(), kChannel, amqp_empty_bytes, Bytes(queue_),
                                mandatory ? 1 : 0, 0, &props, body);
    if (rc != AMQP_STATUS_OK) {
      // Part of the frames may have reached the broker: nobody can tell whether it stored it.
      reports_.push_back(
          {token, Outcome::kIndeterminate, std::string("publish: ") + amqp_error_string2(rc)});
      Disconnect(std::string("publish failed: ") + amqp_error_string2(rc));
      return Status::Ok();
    }
    if (confirms_) {
      unconfirmed_.push_back({token, MonotonicNs(), false, false});
      ++next_tag_;
      ++outstanding_;
    } else {
      // Without confirms the client library accepting the publish is all the application is told.
      reports_.push_back({token, Outcome::kAck, {}});
    }
    return Status::Ok();
  }

  void Poll(int timeout_ms) override {
    if (conn_.open()) {
      ReadFrames(timeout_ms);
    } else {
      SleepMs(timeout_ms);
    }
    ExpireOld();
    DeliverReports();
  }

  size_t Flush(int64_t timeout_ns) override {
    int64_t deadline = MonotonicNs() + timeout_ns;
    DeliverReports();
    while (InFlight() > 0 && MonotonicNs() < deadline) Poll(50);
    return InFlight();
  }

  size_t InFlight() const override { return outstanding_ + reports_.size(); }

 private:
  struct Unconfirmed {
    uint64_t token;
    int64_t sent_ns;
    bool returned;
    bool settled;
  };

  RabbitMqProducer() = default;

  Status Connect(int64_t deadline_ns) {
    RETURN_IF_ERROR(conn_.Open(addrs_, next_index_, settings_, deadline_ns));
    if (confirms_) {
      amqp_confirm_select(conn_.get(), kChannel);
      Status st = ReplyStatus(amqp_get_rpc_reply(conn_.get()), "confirm.select on " + conn_.peer());
      if (!st.ok()) {
        conn_.Close(false);
        return st;
      }
    }
    next_tag_ = 1;
    first_tag_ = 1;
    next_index_ = conn_.index();
    return Status::Ok();
  }

  void Reconnect() {
    std::optional<Status> st = pacer_.Attempt([this](int64_t deadline) { return Connect(deadline); });
    if (!st) return;
    if (st->ok()) {
      LogInfo("rabbitmq producer: connected to " + conn_.peer());
    } else {
      last_error_ = st->message();
    }
  }

  // Everything unconfirmed on a lost connection is indeterminate: the broker may have stored it.
  void Disconnect(const std::string& reason) {
    for (Unconfirmed& u : unconfirmed_) {
      if (!u.settled)
        reports_.push_back({u.token, Outcome::kIndeterminate, "connection lost: " + reason});
    }
    unconfirmed_.clear();
    outstanding_ = 0;
    LogInfo("rabbitmq producer: " + conn_.peer() + ": " + reason);
    conn_.Close(false);
    last_error_ = reason;
    down_since_ns_ = MonotonicNs();
    next_index_ = (next_index_ + 1) % addrs_.size();  // the node just failed: try another first
  }

  void Settle(Unconfirmed& u, Outcome outcome, std::string error) {
    if (u.settled) return;
    u.settled = true;
    --outstanding_;
    reports_.push_back({u.token, outcome, std::move(error)});
  }

  void Confirm(uint64_t tag, bool multiple, bool ack) {
    if (tag < first_tag_) return;
    uint64_t lo = multiple ? first_tag_ : tag;
    for (uint64_t t = lo; t <= tag; ++t) {
      uint64_t idx = t - first_tag_;
      if (idx >= unconfirmed_.size()) break;
      Unconfirmed& u = unconfirmed_[idx];
      if (!ack) {
        Settle(u, Outcome::kNack, "basic.nack");
      } else if (u.returned) {
        Settle(u, Outcome::kNack, "unroutable: returned by the broker");
      } else {
        Settle(u, Outcome::kAck, {});
      }
    }
    PopSettled();
  }

  void PopSettled() {
    while (!unconfirmed_.empty() && unconfirmed_.front().settled) {
      unconfirmed_.pop_front();
      ++first_tag_;
    }
  }

  void ExpireOld() {
    int64_t limit = MonotonicNs() - message_timeout_ns_;
    for (Unconfirmed& u : unconfirmed_) {
      if (u.sent_ns > limit) break;
      Settle(u, Outcome::kIndeterminate, "no confirm within the message timeout");
    }
    PopSettled();
  }

  void OnReturn(amqp_channel_t channel) {
    amqp_message_t msg;
    amqp_rpc_reply_t r = amqp_read_message(conn_.get(), channel, &msg, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      Disconnect("reading a returned message: " + ReplyStatus(r, "basic.return").message());
      return;
    }
    if ((msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) {
      std::string id = Text(msg.properties.message_id);
      uint64_t tag = 0;
      auto [ptr, ec] = std::from_chars(id.data(), id.data() + id.size(), tag);
      if (ec == std::errc() && tag >= first_tag_ && tag - first_tag_ < unconfirmed_.size()) {
        unconfirmed_[tag - first_tag_].returned = true;
      }
      (void)ptr;
    }
    amqp_destroy_message(&msg);
  }

  void ReadFrames(int timeout_ms) {
    for (int i = 0; i < kMaxFramesPerPoll && conn_.open(); ++i) {
      amqp_maybe_release_buffers(conn_.get());
      timeval tv = Tv(i == 0 ? static_cast<int64_t>(timeout_ms) * kNsPerMs : 0);
      amqp_frame_t frame;
      int rc = amqp_simple_wait_frame_noblock(conn_.get(), &frame, &tv);
      if (rc == AMQP_STATUS_TIMEOUT) break;
      if (rc != AMQP_STATUS_OK) {
        Disconnect(amqp_error_string2(rc));
        break;
      }
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
          auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
          Confirm(m->delivery_tag, m->multiple != 0, true);
          break;
        }
        case AMQP_BASIC_NACK_METHOD: {
          auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
          Confirm(m->delivery_tag, m->multiple != 0, false);
          break;
        }
        case AMQP_BASIC_RETURN_METHOD:
          OnReturn(frame.channel);
          break;
        case AMQP_CHANNEL_CLOSE_METHOD: {
          auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
          std::string why = "channel closed by the broker: " + std::to_string(m->reply_code) + " " +
                            Text(m->reply_text);
          amqp_channel_close_ok_t ok{};
          amqp_send_method(conn_.get(), frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
          Disconnect(why);
          break;
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
          auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
          std::string why = "connection closed by the broker: " + std::to_string(m->reply_code) +
                            " " + Text(m->reply_text);
          amqp_connection_close_ok_t ok{};
          amqp_send_method(conn_.get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
          Disconnect(why);
          break;
        }
        default:
          break;
      }
    }
  }

  void DeliverReports() {
    if (reports_.empty()) return;
    std::vector<Report> batch;
    batch.swap(reports_);
    for (const Report& r : batch) {
      if (handler_ == nullptr) continue;
      Delivery d;
      d.token = r.token;
      d.outcome = r.outcome;
      d.lane = 0;
      d.error = r.error;
      handler_->OnDelivery(d);
    }
  }

  std::vector<AmqpAddress> addrs_;
  ClientSettings settings_;
  Connection conn_;
  DeliveryHandler* handler_ = nullptr;
  std::string queue_;
  bool confirms_ = true;
  bool persistent_ = true;
  bool mandatory_ = true;
  int64_t message_timeout_ns_ = 30 * kNsPerSec;
  size_t next_index_ = 0;
  ReconnectPacer pacer_;
  int64_t down_since_ns_ = 0;
  std::string last_error_;
  // Publishes awaiting their confirm, in delivery-tag order: tag first_tag_ is the front.
  std::deque<Unconfirmed> unconfirmed_;
  uint64_t first_tag_ = 1;
  uint64_t next_tag_ = 1;
  size_t outstanding_ = 0;
  std::vector<Report> reports_;
};

class RabbitMqConsumer : public Consumer {
 public:
  static Result<std::unique_ptr<Consumer>> Create(const Endpoint& endpoint,
                                                  const ConsumerOptions& options) {
    RETURN_IF_ERROR(ValidateRabbitMqConsumerConfig(options.extra));
    auto c = std::unique_ptr<RabbitMqConsumer>(new RabbitMqConsumer());
    ASSIGN_OR_RETURN(c->addrs_, ParseAmqpBootstrap(endpoint.bootstrap));
    RETURN_IF_ERROR(ApplyConnectionSettings(endpoint.properties, c->settings_));
    RETURN_IF_ERROR(ApplyConnectionSettings(endpoint.consumer_properties, c->settings_));
    RETURN_IF_ERROR(ApplyConnectionSettings(options.extra, c->settings_));
    for (const auto& [k, v] : options.extra) {
      if (k == "prefetch") {
        ASSIGN_OR_RETURN(int64_t n, ParseInt(k, v, 0, 65535));
        c->prefetch_ = static_cast<uint16_t>(n);
      }
    }
    c->queue_ = options.topic;
    c->next_index_ = AmqpStartIndex(options.client_id, c->addrs_.size());
    RETURN_IF_ERROR(c->Connect(MonotonicNs() + 10 * kNsPerSec));
    return std::unique_ptr<Consumer>(std::move(c));
  }

  ~RabbitMqConsumer() override { Close(); }

  Result<size_t> Poll(int timeout_ms, ReceiveHandler& handler) override {
    if (!conn_.open()) {
      Reconnect();
      if (!conn_.open()) {
        SleepMs(timeout_ms);
        return size_t{0};
      }
    }
    size_t n = 0;
    uint64_t last_tag = 0;
    for (int i = 0; i < kMaxMessagesPerPoll && conn_.open(); ++i) {
      amqp_maybe_release_buffers(conn_.get());
      timeval tv = Tv(i == 0 ? static_cast<int64_t>(timeout_ms) * kNsPerMs : 0);
      amqp_envelope_t env;
      amqp_rpc_reply_t r = amqp_consume_message(conn_.get(), &env, &tv, 0);
      if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        Received m;
        m.payload = {static_cast<const char*>(env.message.body.bytes), env.message.body.len};
        m.lane = 0;
        m.offset = -1;  // delivery tags count per channel, not positions in the queue
        m.redelivered = env.redelivered != 0;
        handler.OnReceive(m);
        ++n;
        last_tag = env.delivery_tag;
        amqp_destroy_envelope(&env);
        continue;
      }
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
          r.library_error == AMQP_STATUS_TIMEOUT) {
        break;
      }
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
          r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        OnOtherFrame();
        continue;
      }
      Disconnect(ReplyStatus(r, "consume").message());
    }
    // One cumulative ack per batch, after the handler has seen every message of it: a crash
    // before this point redelivers, never loses.
    if (last_tag != 0 && conn_.open()) {
      int rc = amqp_basic_ack(conn_.get(), kChannel, last_tag, 1);
      if (rc != AMQP_STATUS_OK) Disconnect(std::string("basic.ack: ") + amqp_error_string2(rc));
    }
    return n;
  }

  uint32_t Session() const override { return session_.load(std::memory_order_acquire); }
  int AssignedLanes() const override { return assigned_.load(std::memory_order_acquire); }

  void Close() override {
    assigned_.store(0);
    conn_.Close(conn_.open());
  }

 private:
  RabbitMqConsumer() = default;

  Status Connect(int64_t deadline_ns) {
    RETURN_IF_ERROR(conn_.Open(addrs_, next_index_, settings_, deadline_ns));
    next_index_ = conn_.index();
    amqp_basic_qos(conn_.get(), kChannel, 0, prefetch_, 0);
    Status st = ReplyStatus(amqp_get_rpc_reply(conn_.get()), "basic.qos on " + conn_.peer());
    if (st.ok()) {
      amqp_basic_consume(conn_.get(), kChannel, Bytes(queue_), amqp_empty_bytes, 0, 0, 0,
                         amqp_empty_table);
      st = ReplyStatus(amqp_get_rpc_reply(conn_.get()), "consume from queue " + queue_);
    }
    if (!st.ok()) {
      conn_.Close(false);
      return st;
    }
    session_.fetch_add(1, std::memory_order_acq_rel);
    assigned_.store(1);
    return Status::Ok();
  }

  void Reconnect() {
    std::optional<Status> st = pacer_.Attempt([this](int64_t deadline) { return Connect(deadline); });
    if (!st) return;
    if (st->ok()) {
      LogInfo("rabbitmq consumer: consuming from " + queue_ + " on " + conn_.peer());
    } else if (st->message() != last_error_) {
      last_error_ = st->message();
      LogInfo("rabbitmq consumer: " + last_error_);
    }
  }

  void Disconnect(const std::string& reason) {
    LogInfo("rabbitmq consumer: " + conn_.peer() + ": " + reason);
    assigned_.store(0);
    conn_.Close(false);
    next_index_ = (next_index_ + 1) % addrs_.size();
  }

  // A frame that is not a delivery: the broker cancelled the consumer (its queue went away with
  // its node) or closed the channel or connection. Either way the consumer starts over.
  void OnOtherFrame() {
    amqp_frame_t frame;
    int rc = amqp_simple_wait_frame(conn_.get(), &frame);
    if (rc != AMQP_STATUS_OK) {
      Disconnect(amqp_error_string2(rc));
      return;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) return;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_CANCEL_METHOD:
        Disconnect("consumer cancelled by the broker");
        break;
      case AMQP_CHANNEL_CLOSE_METHOD: {
        auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
        std::string why =
            "channel closed: " + std::to_string(m->reply_code) + " " + Text(m->reply_text);
        amqp_channel_close_ok_t ok{};
        amqp_send_method(conn_.get(), frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        Disconnect(why);
        break;
      }
      case AMQP_CONNECTION_CLOSE_METHOD: {
        auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
        std::string why =
            "connection closed: " + std::to_string(m->reply_code) + " " + Text(m->reply_text);
        amqp_connection_close_ok_t ok{};
        amqp_send_method(conn_.get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        Disconnect(why);
        break;
      }
      default:
        break;
    }
  }

  std::vector<AmqpAddress> addrs_;
  ClientSettings settings_;
  Connection conn_;
  std::string queue_;
  // Unacked deliveries the broker may push ahead: enough to keep the pipe full on loopback, and
  // bounded, so that a consumer that dies returns a bounded number of messages to the queue.
  uint16_t prefetch_ = 256;
  size_t next_index_ = 0;
  ReconnectPacer pacer_;
  std::string last_error_;
  std::atomic<uint32_t> session_{0};
  std::atomic<int> assigned_{0};
};

class RabbitMqAdmin : public Admin {
 public:
  RabbitMqAdmin(std::vector<AmqpAddress> addrs, ClientSettings settings)
      : addrs_(std::move(addrs)), settings_(std::move(settings)) {}
  ~RabbitMqAdmin() override { conn_.Close(conn_.open()); }

  Status Ping(int64_t timeout_ns) override {
    return WithConnection(timeout_ns, [](Connection&) { return Status::Ok(); });
  }

  Status CreateTopic(const TopicRequest& request, int64_t timeout_ns) override {
    RETURN_IF_ERROR(ValidateRabbitMqQueueConfig(request.config));
    if (request.partitions != 1) {
      return InvalidArgument("a RabbitMQ queue is one ordered lane: set partitions: 1 (got " +
                             std::to_string(request.partitions) + ")");
    }
    std::string type = "quorum";
    bool durable = true;
    int64_t replicas = request.replication;
    std::vector<std::pair<std::string, std::string>> x_args;
    for (const auto& [k, v] : request.config) {
      if (k == "queue_type") type = v;
      if (k == "durable") {
        ASSIGN_OR_RETURN(durable, ParseBool(k, v));
      }
      if (k == "replicas") {
        ASSIGN_OR_RETURN(replicas, ParseInt(k, v, 1, 255));
      }
      if (k.rfind("x-", 0) == 0) x_args.emplace_back(k, v);
    }
    if (type == "quorum" && !durable) {
      return InvalidArgument("RabbitMQ quorum queues are always durable: drop durable: false");
    }
    // Argument storage must outlive the declare call: the table points into these strings.
    std::vector<std::string> keys, values;
    keys.reserve(x_args.size() + 2);
    values.reserve(x_args.size() + 2);
    std::vector<amqp_table_entry_t> entries;
    auto add_str = [&](const std::string& k, const std::string& v) {
      keys.push_back(k);
      values.push_back(v);
      amqp_table_entry_t e{};
      e.key = Bytes(keys.back());
      e.value.kind = AMQP_FIELD_KIND_UTF8;
      e.value.value.bytes = Bytes(values.back());
      entries.push_back(e);
    };
    auto add_int = [&](const std::string& k, int64_t v) {
      keys.push_back(k);
      amqp_table_entry_t e{};
      e.key = Bytes(keys.back());
      e.value.kind = AMQP_FIELD_KIND_I64;
      e.value.value.i64 = v;
      entries.push_back(e);
    };
    add_str("x-queue-type", type);
    if (type == "quorum" && replicas > 0) add_int("x-quorum-initial-group-size", replicas);
    for (const auto& [k, v] : x_args) {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && ptr == v.data() + v.size()) {
        add_int(k, n);
      } else {
        add_str(k, v);
      }
    }
    amqp_table_t table{static_cast<int>(entries.size()), entries.data()};
    return WithConnection(timeout_ns, [&](Connection& c) -> Status {
      Result<uint32_t> existing = PassiveDeclare(c, request.name);
      if (existing.ok()) return {StatusCode::kAlreadyExists, "queue " + request.name + " exists"};
      if (existing.status().code() != StatusCode::kNotFound) return existing.status();
      if (!c.open()) return Unavailable("connection lost");
      amqp_queue_declare(c.get(), kChannel, Bytes(request.name), 0, durable ? 1 : 0, 0, 0, table);
      amqp_rpc_reply_t r = amqp_get_rpc_reply(c.get());
      Status st = ReplyStatus(r, "declare queue " + request.name);
      if (IsChannelClose(r)) {
        if (!c.ReopenChannel().ok()) c.Close(false);
      } else if (!st.ok()) {
        c.Close(false);
      }
      return st;
    });
  }

  Result<TopicInfo> DescribeTopic(const std::string& name, int64_t timeout_ns) override {
    Status st =
        WithConnection(timeout_ns, [&](Connection& c) { return PassiveDeclare(c, name).status(); });
    if (!st.ok()) return st;
    TopicInfo info;
    info.name = name;
    info.partitions = 1;
    info.replication = 0;  // AMQP does not tell; the recipe knows (rabbitmqctl list_queues)
    return info;
  }

  Result<std::vector<int64_t>> EndOffsets(const std::string& topic,
                                          int64_t /*timeout_ns*/) override {
    return Unimplemented("RabbitMQ queue " + topic +
                         " has no offsets; its backlog tells the drain");
  }

  // The queue's ready messages. AMQP does not report the unacknowledged ones; the drain covers
  // those by also waiting until the consumers stop receiving. All consumers of a workload share
  // the queue, so `group` does not matter.
  Result<int64_t> Backlog(const std::string& topic, const std::string& /*group*/,
                          int64_t timeout_ns) override {
    int64_t ready = 0;
    Status st = WithConnection(timeout_ns, [&](Connection& c) -> Status {
      Result<uint32_t> n = PassiveDeclare(c, topic);
      if (n.ok()) ready = *n;
      return n.status();
    });
    if (!st.ok()) return st;
    return ready;
  }

 private:
  // Runs `f` on a connection, opening one (failing over across the nodes) when needed and trying
  // again on another node when the connection broke under `f`.
  template <typename F>
  Status WithConnection(int64_t timeout_ns, F f) {
    int64_t deadline = MonotonicNs() + timeout_ns;
    Status st = Unavailable("no attempt");
    for (size_t attempt = 0; attempt < addrs_.size(); ++attempt) {
      if (!conn_.open()) {
        st = conn_.Open(addrs_, next_index_, settings_, deadline);
        if (!st.ok()) return st;
        next_index_ = conn_.index();
      }
      st = f(conn_);
      if (st.ok() || conn_.open() || MonotonicNs() >= deadline) return st;
      next_index_ = (next_index_ + 1) % addrs_.size();
    }
    return st;
  }

  std::vector<AmqpAddress> addrs_;
  ClientSettings settings_;
  Connection conn_;
  size_t next_index_ = 0;
};

class RabbitMqDriver : public ClientDriver<RabbitMqProducer, RabbitMqConsumer> {
 public:
  std::string Name() const override { return "rabbitmq"; }

  Status ValidateOptions(OptionScope scope,
                         const std::map<std::string, std::string>& options) const override {
    switch (scope) {
      case OptionScope::kTopic:
        return ValidateRabbitMqQueueConfig(options);
      case OptionScope::kProducer:
        return ValidateRabbitMqProducerConfig(options);
      case OptionScope::kConsumer:
        return ValidateRabbitMqConsumerConfig(options);
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Admin>> NewAdmin(const Endpoint& endpoint) override {
    ASSIGN_OR_RETURN(std::vector<AmqpAddress> addrs, ParseAmqpBootstrap(endpoint.bootstrap));
    ClientSettings settings;
    RETURN_IF_ERROR(ApplyConnectionSettings(endpoint.properties, settings));
    return std::unique_ptr<Admin>(new RabbitMqAdmin(std::move(addrs), std::move(settings)));
  }
};

}  // namespace

Result<std::vector<AmqpAddress>> ParseAmqpBootstrap(const std::string& bootstrap) {
  std::vector<AmqpAddress> out;
  size_t start = 0;
  while (start <= bootstrap.size()) {
    size_t comma = bootstrap.find(',', start);
    std::string item =
        bootstrap.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? bootstrap.size() + 1 : comma + 1;
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) continue;
    if (item.rfind("amqp://", 0) == 0) item = item.substr(7);
    if (!item.empty() && item.back() == '/') item.pop_back();
    AmqpAddress a;
    size_t colon = item.rfind(':');
    if (colon == std::string::npos) {
      a.host = item;
    } else {
      a.host = item.substr(0, colon);
      ASSIGN_OR_RETURN(int64_t port,
                       ParseInt("port of '" + item + "'", item.substr(colon + 1), 1, 65535));
      a.port = static_cast<int>(port);
    }
    if (a.host.empty()) return InvalidArgument("RabbitMQ address '" + item + "' has no host");
    out.push_back(a);
  }
  if (out.empty())
    return InvalidArgument("RabbitMQ endpoint has no address (expected host:port[,host:port...])");
  return out;
}

Status ValidateRabbitMqProducerConfig(const std::map<std::string, std::string>& config) {
  RETURN_IF_ERROR(CheckKeys(config, With(kConnectionKeys, {"persistent", "mandatory"}),
                            "producer_config", false));
  ClientSettings s;
  RETURN_IF_ERROR(ApplyConnectionSettings(config, s));
  for (const auto& [k, v] : config) {
    if (k == "persistent" || k == "mandatory") RETURN_IF_ERROR(ParseBool(k, v).status());
  }
  return Status::Ok();
}

Status ValidateRabbitMqConsumerConfig(const std::map<std::string, std::string>& config) {
  RETURN_IF_ERROR(CheckKeys(config, With(kConnectionKeys, {"prefetch"}), "consumer_config", false));
  ClientSettings s;
  RETURN_IF_ERROR(ApplyConnectionSettings(config, s));
  for (const auto& [k, v] : config) {
    if (k == "prefetch") RETURN_IF_ERROR(ParseInt(k, v, 0, 65535).status());
  }
  return Status::Ok();
}

Status ValidateRabbitMqQueueConfig(const std::map<std::string, std::string>& config) {
  RETURN_IF_ERROR(CheckKeys(config, {"queue_type", "durable", "replicas"}, "topic config", true));
  for (const auto& [k, v] : config) {
    if (k == "queue_type" && v != "quorum" && v != "classic") {
      return InvalidArgument("RabbitMQ queue_type must be quorum or classic, got '" + v + "'");
    }
    if (k == "durable") RETURN_IF_ERROR(ParseBool(k, v).status());
    if (k == "replicas") RETURN_IF_ERROR(ParseInt(k, v, 1, 255).status());
  }
  return Status::Ok();
}

std::unique_ptr<Driver> NewRabbitMqDriver() { return std::make_unique<RabbitMqDriver>(); }

}  // namespace drone::drivers
