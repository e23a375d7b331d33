#include "drivers/mqtt/mqtt_driver.h"

#include <mosquitto.h>

#include <algorithm>
#include <cstring>
#include <atomic>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "drivers/option_keys.h"

namespace drone::drivers {
namespace {

constexpr int kDefaultWindow = 1000;  // publishes awaiting PUBACK/PUBCOMP, per producer
// mosquitto's default max_inflight_messages. A 3.1.1 publisher cannot learn the broker's limit,
// and mosquitto 2.0 completes (PUBCOMP) QoS 2 messages beyond it without forwarding them, so the
// QoS 2 default stays within it (docs/brokers/mqtt.md).
constexpr int kDefaultQos2Window = 20;
constexpr int kMaxWindow = 60000;     // packet ids are 16 bits: stay well below a wrap-around
constexpr int kDefaultKeepaliveS = 10;
constexpr int64_t kReconnectBackoffNs = 100 * kNsPerMs;
constexpr int64_t kConnectTimeoutNs = 10 * kNsPerSec;

const std::set<std::string>& ProducerKeys() {
  static const std::set<std::string> keys = {"qos", "window", "keepalive", "clean_session"};
  return keys;
}
const std::set<std::string>& ConsumerKeys() {
  static const std::set<std::string> keys = {"qos", "clean_session", "shared", "keepalive"};
  return keys;
}

void InitLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

Result<int> IntIn(const std::map<std::string, std::string>& config, const std::string& key,
                  int fallback, int lo, int hi) {
  auto it = config.find(key);
  if (it == config.end()) return fallback;
  const std::string& v = it->second;
  bool digits = !v.empty() && v.size() <= 9 && std::all_of(v.begin(), v.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (digits) {
    int n = std::stoi(v);
    if (n >= lo && n <= hi) return n;
  }
  return InvalidArgument("mqtt: " + key + " must be an integer from " + std::to_string(lo) +
                         " to " + std::to_string(hi) + ", not '" + v + "'");
}

Result<bool> BoolIn(const std::map<std::string, std::string>& config, const std::string& key,
                    bool fallback) {
  auto it = config.find(key);
  if (it == config.end()) return fallback;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  return InvalidArgument("mqtt: " + key + " must be true or false, not '" + it->second + "'");
}

struct HostPort {
  std::string host;
  int port = 1883;
};

// "host:port[,host:port...]", optionally with an mqtt:// or tcp:// scheme.
Result<std::vector<HostPort>> Brokers(const std::string& bootstrap) {
  std::vector<HostPort> out;
  size_t start = 0;
  while (start <= bootstrap.size()) {
    size_t comma = bootstrap.find(',', start);
    std::string part = bootstrap.substr(start, comma == std::string::npos ? std::string::npos
                                                                          : comma - start);
    if (size_t scheme = part.find("://"); scheme != std::string::npos) part = part.substr(scheme + 3);
    if (!part.empty()) {
      HostPort hp;
      size_t colon = part.rfind(':');
      hp.host = part.substr(0, colon);
      if (colon != std::string::npos) {
        std::map<std::string, std::string> one = {{"port", part.substr(colon + 1)}};
        Result<int> port = IntIn(one, "port", 1883, 1, 65535);
        if (!port.ok()) return InvalidArgument("mqtt: bad address '" + part + "'");
        hp.port = *port;
      }
      out.push_back(hp);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) return InvalidArgument("mqtt: empty bootstrap address");
  return out;
}

// Topic filters treat '+', '#' and '/' specially; a share name must hold none of them.
std::string ShareName(const std::string& group) {
  std::string out = group;
  for (char& c : out) {
    if (c == '+' || c == '#' || c == '/') c = '_';
  }
  return out.empty() ? "drone" : out;
}

// One libmosquitto client whose network loop is driven by its owner's thread. Keeps itself
// connected: a lost connection is retried every kReconnectBackoffNs from Pump().
class MqttClient {
 public:
  struct Listener {
    virtual ~Listener() = default;
    virtual void OnConnected(mosquitto* mosq) = 0;
    virtual void OnPublished(int /*mid*/) {}
    virtual void OnMessage(const mosquitto_message& /*m*/) {}
    virtual void OnSubscribed() {}
  };

  ~MqttClient() {
    if (mosq_ != nullptr) {
      if (connected_) {
        mosquitto_disconnect(mosq_);
        mosquitto_loop(mosq_, 0, 1);
      }
      mosquitto_destroy(mosq_);
    }
  }

  static Result<std::unique_ptr<MqttClient>> Connect(const Endpoint& endpoint,
                                                  const std::string& client_id, bool clean,
                                                  int keepalive_s, Listener* listener,
                                                  int max_inflight) {
    InitLibrary();
    auto s = std::unique_ptr<MqttClient>(new MqttClient());
    ASSIGN_OR_RETURN(s->brokers_, Brokers(endpoint.bootstrap));
    s->listener_ = listener;
    s->keepalive_s_ = keepalive_s;
    s->mosq_ = mosquitto_new(client_id.empty() ? nullptr : client_id.c_str(), clean, s.get());
    if (s->mosq_ == nullptr) return InvalidArgument("mqtt: cannot create client '" + client_id + "'");
    mosquitto_int_option(s->mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (max_inflight > 0) mosquitto_max_inflight_messages_set(s->mosq_, static_cast<unsigned int>(max_inflight));
    mosquitto_connect_callback_set(s->mosq_, &MqttClient::ConnectCb);
    mosquitto_disconnect_callback_set(s->mosq_, &MqttClient::DisconnectCb);
    mosquitto_publish_callback_set(s->mosq_, &MqttClient::PublishCb);
    mosquitto_message_callback_set(s->mosq_, &MqttClient::MessageCb);
    mosquitto_subscribe_callback_set(s->mosq_, &MqttClient::SubscribeCb);
    const HostPort& hp = s->brokers_[0];
    int rc = mosquitto_connect(s->mosq_, hp.host.c_str(), hp.port, keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
      return Unavailable("mqtt: connect to " + hp.host + ":" + std::to_string(hp.port) + ": " +
                         (rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc)));
    }
    int64_t deadline = MonotonicNs() + kConnectTimeoutNs;
    while (!s->connected_ && s->refused_.empty() && MonotonicNs() < deadline) {
      rc = mosquitto_loop(s->mosq_, 50, 1);
      if (rc != MOSQ_ERR_SUCCESS) break;
    }
    if (!s->refused_.empty()) return Unavailable("mqtt: broker refused the connection: " + s->refused_);
    if (!s->connected_) {
      return Unavailable("mqtt: no CONNACK from " + hp.host + ":" + std::to_string(hp.port) +
                         (rc != MOSQ_ERR_SUCCESS ? std::string(": ") + mosquitto_strerror(rc) : ""));
    }
    return s;
  }

  // Serves the network for up to `timeout_ms` (callbacks run here); reconnects when needed.
  void Pump(int timeout_ms) {
    if (!connected_ && !connecting_) {
      int64_t now = MonotonicNs();
      if (now - last_attempt_ns_ < kReconnectBackoffNs) {
        if (timeout_ms > 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(
              std::min<int64_t>(timeout_ms, (kReconnectBackoffNs - (now - last_attempt_ns_)) / kNsPerMs + 1)));
        }
        return;
      }
      last_attempt_ns_ = now;
      // The next broker of the list, should there be several (behind no load balancer).
      next_broker_ = (next_broker_ + 1) % brokers_.size();
      const HostPort& hp = brokers_[next_broker_];
      int rc = brokers_.size() == 1 ? mosquitto_reconnect(mosq_)
                                    : mosquitto_connect(mosq_, hp.host.c_str(), hp.port, keepalive_s_);
      if (rc != MOSQ_ERR_SUCCESS) return;
      connecting_ = true;
    }
    int rc = mosquitto_loop(mosq_, timeout_ms, 1);
    if (rc != MOSQ_ERR_SUCCESS) LostConnection();
  }

  bool connected() const { return connected_; }
  int64_t disconnected_since_ns() const { return disconnected_since_ns_; }
  mosquitto* get() { return mosq_; }
  void MarkLost() { LostConnection(); }

 private:
  MqttClient() = default;

  void LostConnection() {
    if (connected_ || connecting_) {
      if (connected_) LogInfo("mqtt: connection lost, reconnecting");
      disconnected_since_ns_ = MonotonicNs();
    }
    connected_ = false;
    connecting_ = false;
  }

  static void ConnectCb(mosquitto* m, void* obj, int rc) {
    auto* self = static_cast<MqttClient*>(obj);
    self->connecting_ = false;
    if (rc != 0) {
      self->refused_ = mosquitto_connack_string(rc);
      self->LostConnection();
      return;
    }
    self->connected_ = true;
    if (self->listener_ != nullptr) self->listener_->OnConnected(m);
  }
  static void DisconnectCb(mosquitto* /*m*/, void* obj, int /*rc*/) {
    static_cast<MqttClient*>(obj)->LostConnection();
  }
  static void PublishCb(mosquitto* /*m*/, void* obj, int mid) {
    auto* self = static_cast<MqttClient*>(obj);
    if (self->listener_ != nullptr) self->listener_->OnPublished(mid);
  }
  static void MessageCb(mosquitto* /*m*/, void* obj, const mosquitto_message* msg) {
    auto* self = static_cast<MqttClient*>(obj);
    if (self->listener_ != nullptr && msg != nullptr) self->listener_->OnMessage(*msg);
  }
  static void SubscribeCb(mosquitto* /*m*/, void* obj, int /*mid*/, int /*n*/, const int* /*q*/) {
    auto* self = static_cast<MqttClient*>(obj);
    if (self->listener_ != nullptr) self->listener_->OnSubscribed();
  }

  mosquitto* mosq_ = nullptr;
  Listener* listener_ = nullptr;
  std::vector<HostPort> brokers_;
  size_t next_broker_ = 0;
  int keepalive_s_ = kDefaultKeepaliveS;
  bool connected_ = false;
  bool connecting_ = false;
  std::string refused_;
  int64_t last_attempt_ns_ = 0;
  int64_t disconnected_since_ns_ = 0;
};

class NoListener : public MqttClient::Listener {
 public:
  void OnConnected(mosquitto* /*mosq*/) override {}
};

class MqttAdmin : public Admin {
 public:
  explicit MqttAdmin(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

  Status Ping(int64_t /*timeout_ns*/) override {
    NoListener none;
    return MqttClient::Connect(endpoint_, "", true, kDefaultKeepaliveS, &none, 1).status();
  }

  // MQTT topics exist as soon as something is published to them; there is nothing to create,
  // and nothing a topic step could configure.
  Status CreateTopic(const TopicRequest& request, int64_t /*timeout_ns*/) override {
    if (request.partitions != 1) {
      return InvalidArgument("mqtt: topics have no partitions; use partitions: 1 (got " +
                             std::to_string(request.partitions) + ")");
    }
    RETURN_IF_ERROR(ValidateMqttOptions(OptionScope::kTopic, request.config));
    if (request.name.empty() || request.name.find_first_of("+#") != std::string::npos) {
      return InvalidArgument("mqtt: topic name '" + request.name + "' must be non-empty without + or #");
    }
    return Status::Ok();
  }

  Result<TopicInfo> DescribeTopic(const std::string& name, int64_t /*timeout_ns*/) override {
    return TopicInfo{name, 1, 1};
  }

 private:
  const Endpoint endpoint_;
};

class MqttProducer : public Producer, public MqttClient::Listener {
 public:
  static Result<std::unique_ptr<Producer>> Create(const Endpoint& endpoint,
                                                  const ProducerOptions& options,
                                                  DeliveryHandler& handler) {
    RETURN_IF_ERROR(CheckOptionKeys("mqtt", options.extra, ProducerKeys(), "producer_config"));
    auto p = std::unique_ptr<MqttProducer>(new MqttProducer());
    p->handler_ = &handler;
    p->topic_ = options.topic;
    ASSIGN_OR_RETURN(p->qos_, MqttProducerQos(options.acks, options.extra));
    ASSIGN_OR_RETURN(int window, IntIn(options.extra, "window",
                                       p->qos_ == 2 ? kDefaultQos2Window : kDefaultWindow, 1, kMaxWindow));
    p->window_ = static_cast<size_t>(window);
    ASSIGN_OR_RETURN(int keepalive, IntIn(options.extra, "keepalive", kDefaultKeepaliveS, 5, 3600));
    ASSIGN_OR_RETURN(bool clean, BoolIn(options.extra, "clean_session", true));
    p->timeout_ns_ = std::max<int64_t>(options.message_timeout_ns, kNsPerMs);
    ASSIGN_OR_RETURN(p->session_, MqttClient::Connect(endpoint, options.client_id, clean, keepalive,
                                                   p.get(), window));
    return std::unique_ptr<Producer>(std::move(p));
  }

  ~MqttProducer() override { handler_ = nullptr; }

  int Lanes() const override { return 1; }

  Status Send(int /*lane*/, std::string_view /*key*/, std::string_view payload,
              uint64_t token) override {
    if (!session_->connected()) {
      // Back-pressure while the broker is away, up to the message timeout: then it is a
      // definite failure (nothing was handed to the client library).
      if (MonotonicNs() - session_->disconnected_since_ns() < timeout_ns_) {
        return Unavailable("not connected");
      }
      return FailedPrecondition("mqtt: not connected to the broker");
    }
    if (pending_.size() >= window_) return Unavailable("queue full");
    int mid = 0;
    int rc = mosquitto_publish(session_->get(), &mid, topic_.c_str(), static_cast<int>(payload.size()),
                               payload.data(), qos_, false);
    if (rc != MOSQ_ERR_SUCCESS) {
      bool connection = rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO;
      if (connection) session_->MarkLost();
      // At QoS 1/2 the library queued the message before the write failed and sends it again
      // after reconnecting: its outcome is still to come.
      if (!(connection && qos_ > 0 && mid != 0)) {
        return FailedPrecondition(std::string("mqtt: publish: ") + mosquitto_strerror(rc));
      }
    }
    pending_[mid] = Pending{token, MonotonicNs()};
    order_.push_back(mid);
    if (auto early = early_.find(mid); early != early_.end()) {
      early_.erase(early);
      Complete(mid, Outcome::kAck, "");
    }
    return Status::Ok();
  }

  void Poll(int timeout_ms) override {
    session_->Pump(timeout_ms);
    ExpireOld();
    std::vector<Delivery> done;
    done.swap(done_);
    for (Delivery& d : done) {
      if (handler_ != nullptr) handler_->OnDelivery(d);
    }
  }

  size_t Flush(int64_t timeout_ns) override {
    const int64_t deadline = MonotonicNs() + timeout_ns;
    while (InFlight() > 0 && MonotonicNs() < deadline) Poll(10);
    return InFlight();
  }

  size_t InFlight() const override { return pending_.size() + done_.size(); }

  void OnConnected(mosquitto* /*mosq*/) override {}

  // PUBACK (QoS 1), PUBCOMP (QoS 2), or the packet written (QoS 0).
  void OnPublished(int mid) override {
    if (pending_.count(mid) == 0) {
      // At QoS 0 the packet may be written inside mosquitto_publish(), before Send() has
      // recorded the id.
      early_.insert(mid);
      return;
    }
    Complete(mid, Outcome::kAck, "");
  }

 private:
  struct Pending {
    uint64_t token;
    int64_t sent_ns;
  };

  MqttProducer() = default;

  void Complete(int mid, Outcome outcome, std::string_view error) {
    auto it = pending_.find(mid);
    if (it == pending_.end()) return;
    Delivery d;
    d.token = it->second.token;
    d.outcome = outcome;
    d.lane = 0;
    d.error = error;
    done_.push_back(d);
    pending_.erase(it);
  }

  // No PUBACK within the message timeout: the broker may or may not have the message.
  void ExpireOld() {
    const int64_t now = MonotonicNs();
    while (!order_.empty()) {
      auto it = pending_.find(order_.front());
      if (it == pending_.end()) {
        order_.pop_front();
        continue;
      }
      if (now - it->second.sent_ns < timeout_ns_) break;
      order_.pop_front();
      Complete(it->first, Outcome::kIndeterminate, "no PUBACK within the message timeout");
    }
    // Ids answered early but never recorded cannot exist past a Send(); keep the set small.
    if (early_.size() > 1024) early_.clear();
  }

  std::unique_ptr<MqttClient> session_;
  DeliveryHandler* handler_ = nullptr;
  std::string topic_;
  int qos_ = 1;
  size_t window_ = kDefaultWindow;
  int64_t timeout_ns_ = 0;
  std::unordered_map<int, Pending> pending_;
  std::deque<int> order_;  // packet ids in send order, for the timeout sweep
  std::unordered_set<int> early_;
  std::vector<Delivery> done_;  // completed, handed to the handler at the end of Poll()
};

class MqttConsumer : public Consumer, public MqttClient::Listener {
 public:
  static Result<std::unique_ptr<Consumer>> Create(const Endpoint& endpoint,
                                                  const ConsumerOptions& options) {
    RETURN_IF_ERROR(CheckOptionKeys("mqtt", options.extra, ConsumerKeys(), "consumer_config"));
    auto c = std::unique_ptr<MqttConsumer>(new MqttConsumer());
    ASSIGN_OR_RETURN(c->qos_, IntIn(options.extra, "qos", 1, 0, 2));
    ASSIGN_OR_RETURN(bool clean, BoolIn(options.extra, "clean_session", false));
    ASSIGN_OR_RETURN(bool shared, BoolIn(options.extra, "shared", true));
    ASSIGN_OR_RETURN(int keepalive, IntIn(options.extra, "keepalive", kDefaultKeepaliveS, 5, 3600));
    // The group's members share the topic's messages (like a consumer group) through a shared
    // subscription; with shared: false every consumer gets every message.
    c->filter_ = shared ? "$share/" + ShareName(options.group) + "/" + options.topic : options.topic;
    // A persistent session is found again by its client id: fixed by group and member.
    std::string client_id = options.group + "-" + options.client_id;
    ASSIGN_OR_RETURN(c->session_, MqttClient::Connect(endpoint, client_id, clean, keepalive, c.get(), 0));
    int64_t deadline = MonotonicNs() + kConnectTimeoutNs;
    while (!c->subscribed_ && MonotonicNs() < deadline) c->session_->Pump(50);
    if (!c->subscribed_) return Unavailable("mqtt: no SUBACK for " + c->filter_);
    return std::unique_ptr<Consumer>(std::move(c));
  }

  Result<size_t> Poll(int timeout_ms, ReceiveHandler& handler) override {
    if (!session_) return FailedPrecondition("mqtt: consumer is closed");
    handler_ = &handler;
    delivered_ = 0;
    for (const std::string& payload : early_) Deliver(payload);
    early_.clear();
    // Pump until something arrived or the time is up; then take what is already buffered.
    const int64_t deadline = MonotonicNs() + static_cast<int64_t>(timeout_ms) * kNsPerMs;
    do {
      int64_t left_ms = std::max<int64_t>((deadline - MonotonicNs()) / kNsPerMs, 0);
      session_->Pump(static_cast<int>(left_ms));
    } while (delivered_ == 0 && MonotonicNs() < deadline);
    for (int i = 0; i < 64 && session_->connected(); ++i) {
      size_t before = delivered_;
      session_->Pump(0);
      if (delivered_ == before) break;
    }
    handler_ = nullptr;
    return delivered_;
  }

  uint32_t Session() const override { return sessions_; }
  int AssignedLanes() const override { return subscribed_ ? 1 : 0; }

  void Close() override { session_.reset(); }

  void OnConnected(mosquitto* mosq) override {
    // Each connection is a new delivery session: after a reconnect the broker resends what was
    // not acknowledged, ahead of newer messages. Subscribing again on a persistent session that
    // the broker kept is harmless.
    ++sessions_;
    int rc = mosquitto_subscribe(mosq, nullptr, filter_.c_str(), qos_);
    if (rc != MOSQ_ERR_SUCCESS) LogInfo(std::string("mqtt: subscribe: ") + mosquitto_strerror(rc));
  }
  void OnSubscribed() override { subscribed_ = true; }
  void OnMessage(const mosquitto_message& m) override {
    std::string_view payload(static_cast<const char*>(m.payload), static_cast<size_t>(m.payloadlen));
    if (handler_ == nullptr) {
      // Arrived while waiting for SUBACK (a persistent session's queue): the library has
      // acknowledged it already, so it is kept for the first Poll().
      early_.emplace_back(payload);
      return;
    }
    Deliver(payload);
  }

 private:
  MqttConsumer() = default;

  void Deliver(std::string_view payload) {
    Received r;
    r.payload = payload;
    r.lane = 0;
    handler_->OnReceive(r);
    ++delivered_;
  }

  std::unique_ptr<MqttClient> session_;
  std::vector<std::string> early_;
  std::string filter_;
  int qos_ = 1;
  bool subscribed_ = false;
  uint32_t sessions_ = 0;
  ReceiveHandler* handler_ = nullptr;
  size_t delivered_ = 0;
};

class MqttDriver : public ClientDriver<MqttProducer, MqttConsumer> {
 public:
  std::string Name() const override { return "mqtt"; }

  Status ValidateOptions(OptionScope scope,
                         const std::map<std::string, std::string>& options) const override {
    return ValidateMqttOptions(scope, options);
  }

  Result<std::unique_ptr<Admin>> NewAdmin(const Endpoint& endpoint) override {
    return std::unique_ptr<Admin>(new MqttAdmin(endpoint));
  }
};

}  // namespace

Result<int> MqttProducerQos(const std::string& acks, const std::map<std::string, std::string>& config) {
  int fallback = 1;
  if (acks == "0") {
    fallback = 0;
  } else if (acks != "1" && acks != "all") {
    return InvalidArgument("mqtt: acks must be 0, 1 or all, not '" + acks + "'");
  }
  return IntIn(config, "qos", fallback, 0, 2);
}

Status ValidateMqttOptions(OptionScope scope, const std::map<std::string, std::string>& options) {
  switch (scope) {
    case OptionScope::kTopic:
      if (!options.empty()) {
        return InvalidArgument("mqtt: topics take no config (got '" + options.begin()->first + "')");
      }
      return Status::Ok();
    case OptionScope::kProducer:
      RETURN_IF_ERROR(CheckOptionKeys("mqtt", options, ProducerKeys(), "producer_config"));
      RETURN_IF_ERROR(IntIn(options, "qos", 1, 0, 2).status());
      RETURN_IF_ERROR(IntIn(options, "window", 1, 1, kMaxWindow).status());
      RETURN_IF_ERROR(IntIn(options, "keepalive", kDefaultKeepaliveS, 5, 3600).status());
      return BoolIn(options, "clean_session", true).status();
    case OptionScope::kConsumer:
      RETURN_IF_ERROR(CheckOptionKeys("mqtt", options, ConsumerKeys(), "consumer_config"));
      RETURN_IF_ERROR(IntIn(options, "qos", 1, 0, 2).status());
      RETURN_IF_ERROR(IntIn(options, "keepalive", kDefaultKeepaliveS, 5, 3600).status());
      RETURN_IF_ERROR(BoolIn(options, "clean_session", false).status());
      return BoolIn(options, "shared", true).status();
  }
  return Status::Ok();
}

std::unique_ptr<Driver> NewMqttDriver() { return std::make_unique<MqttDriver>(); }

}  // namespace drone::drivers
