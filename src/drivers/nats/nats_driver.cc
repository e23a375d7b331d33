#include "drivers/nats/nats_driver.h"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "drivers/option_keys.h"
#include "core/units.h"

namespace drone::drivers {
namespace {

constexpr int kDefaultWindow = 4096;     // JetStream publishes awaiting their ack, per producer
constexpr int kDefaultBatch = 256;       // messages per pull request
constexpr int64_t kDefaultAckWaitNs = 30 * kNsPerSec;
constexpr int kDefaultMaxAckPending = 20000;
constexpr int kCoreFlushEvery = 1024;    // core publishes between flushes even without Poll()
constexpr int64_t kPullExpiresNs = kNsPerSec;        // how long the server holds a pull request
constexpr int64_t kPullGraceNs = 200 * kNsPerMs;     // for its 408 to arrive before asking again

const std::set<std::string>& ProducerKeys() {
  static const std::set<std::string> keys = {"window"};
  return keys;
}
const std::set<std::string>& ConsumerKeys() {
  static const std::set<std::string> keys = {"mode", "batch", "ack_wait", "max_ack_pending"};
  return keys;
}
const std::set<std::string>& StreamKeys() {
  static const std::set<std::string> keys = {"replicas", "storage", "retention", "max_age",
                                             "max_bytes"};
  return keys;
}

Result<int64_t> PositiveInt(const std::map<std::string, std::string>& config,
                            const std::string& key, int64_t fallback) {
  auto it = config.find(key);
  if (it == config.end()) return fallback;
  try {
    size_t used = 0;
    long long v = std::stoll(it->second, &used);
    if (used == it->second.size() && v > 0) return static_cast<int64_t>(v);
  } catch (...) {  // not on a hot path: option parsing at client creation
  }
  return InvalidArgument("nats: " + key + " must be a positive integer, not '" + it->second + "'");
}

struct StreamSettings {
  int64_t replicas = 1;
  jsStorageType storage = js_FileStorage;
  jsRetentionPolicy retention = js_LimitsPolicy;
  int64_t max_age_ns = 0;  // 0: unlimited
  int64_t max_bytes = -1;  // -1: unlimited
};

Result<StreamSettings> ParseStreamConfig(const std::map<std::string, std::string>& config,
                                         int replication) {
  RETURN_IF_ERROR(CheckOptionKeys("nats", config, StreamKeys(), "topic config"));
  StreamSettings out;
  ASSIGN_OR_RETURN(out.replicas, PositiveInt(config, "replicas", std::max(replication, 1)));
  if (auto it = config.find("storage"); it != config.end()) {
    if (it->second == "file") {
      out.storage = js_FileStorage;
    } else if (it->second == "memory") {
      out.storage = js_MemoryStorage;
    } else {
      return InvalidArgument("nats: storage must be file or memory, not '" + it->second + "'");
    }
  }
  if (auto it = config.find("retention"); it != config.end()) {
    if (it->second == "limits") {
      out.retention = js_LimitsPolicy;
    } else if (it->second == "workqueue") {
      out.retention = js_WorkQueuePolicy;
    } else if (it->second == "interest") {
      out.retention = js_InterestPolicy;
    } else {
      return InvalidArgument("nats: retention must be limits, workqueue or interest, not '" +
                             it->second + "'");
    }
  }
  if (auto it = config.find("max_age"); it != config.end()) {
    Result<int64_t> age = ParseDuration(it->second);
    if (!age.ok()) return InvalidArgument("nats: max_age: " + age.status().message());
    out.max_age_ns = *age;
  }
  if (auto it = config.find("max_bytes"); it != config.end()) {
    Result<int64_t> bytes = ParseSize(it->second);
    if (!bytes.ok()) return InvalidArgument("nats: max_bytes: " + bytes.status().message());
    out.max_bytes = *bytes;
  }
  return out;
}

struct ConsumerSettings {
  bool push = false;
  int batch = kDefaultBatch;
  int64_t ack_wait_ns = kDefaultAckWaitNs;
  int64_t max_ack_pending = kDefaultMaxAckPending;
};

Result<ConsumerSettings> ParseConsumerSettings(const std::map<std::string, std::string>& config) {
  RETURN_IF_ERROR(CheckOptionKeys("nats", config, ConsumerKeys(), "consumer_config"));
  ConsumerSettings out;
  if (auto it = config.find("mode"); it != config.end()) {
    if (it->second != "pull" && it->second != "push") {
      return InvalidArgument("nats: consumer_config mode must be pull or push, not '" + it->second + "'");
    }
    out.push = it->second == "push";
  }
  ASSIGN_OR_RETURN(int64_t batch, PositiveInt(config, "batch", kDefaultBatch));
  out.batch = static_cast<int>(std::min<int64_t>(batch, 1 << 20));
  if (auto it = config.find("ack_wait"); it != config.end()) {
    Result<int64_t> d = ParseDuration(it->second);
    if (!d.ok() || *d <= 0) return InvalidArgument("nats: ack_wait must be a duration such as 30s");
    out.ack_wait_ns = *d;
  }
  ASSIGN_OR_RETURN(out.max_ack_pending, PositiveInt(config, "max_ack_pending", kDefaultMaxAckPending));
  return out;
}

std::string Text(natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  std::string out = natsStatus_GetText(s);
  if (last != nullptr && *last != '\0' && out != last) out += std::string(" (") + last + ")";
  return out;
}

Status NatsStatus(natsStatus s, jsErrCode jerr, const std::string& context) {
  if (s == NATS_OK) return Status::Ok();
  std::string what = context + ": " + Text(s);
  if (jerr != 0) what += " [JetStream error " + std::to_string(static_cast<int>(jerr)) + "]";
  switch (jerr) {
    case JSStreamNameExistErr: return {StatusCode::kAlreadyExists, what};
    case JSStreamNotFoundErr:
    case JSConsumerNotFoundErr: return NotFound(what);
    case JSClusterNoPeersErr:
      return InvalidArgument(what + ": not enough JetStream servers for the replicas asked for");
    case JSClusterNotAvailErr: return Unavailable(what);
    default: break;
  }
  switch (s) {
    case NATS_TIMEOUT: return DeadlineExceeded(what);
    case NATS_NO_RESPONDERS:
      return Unavailable(what + ": no JetStream server answered (is JetStream enabled?)");
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_IO_ERROR:
      return Unavailable(what);
    case NATS_NOT_FOUND: return NotFound(what);
    case NATS_INVALID_ARG: return InvalidArgument(what);
    default: return Internal(what);
  }
}

// Transient while a cluster elects leaders: worth retrying until the caller's deadline.
bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

// "a:1,b:2" or "nats://a:1,nats://b:2" -> server URLs.
std::vector<std::string> ServerUrls(const std::string& bootstrap) {
  std::vector<std::string> urls;
  size_t start = 0;
  while (start <= bootstrap.size()) {
    size_t comma = bootstrap.find(',', start);
    std::string part = bootstrap.substr(start, comma == std::string::npos ? std::string::npos
                                                                          : comma - start);
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (!part.empty()) urls.push_back(part.find("://") == std::string::npos ? "nats://" + part : part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return urls;
}

// Consumer names may not hold '.', '*', '>' or white space; a group id from any flow must fit.
std::string DurableName(const std::string& group) {
  std::string out = group;
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) c = '_';
  }
  return out.empty() ? "drone" : out;
}

struct ConnectionDeleter {
  void operator()(natsConnection* nc) const { natsConnection_Destroy(nc); }
};
using Connection = std::unique_ptr<natsConnection, ConnectionDeleter>;
struct JsDeleter {
  void operator()(jsCtx* js) const { jsCtx_Destroy(js); }
};
using JetStream = std::unique_ptr<jsCtx, JsDeleter>;

// Called on nats.c's threads when the connection drops or comes back.
struct ConnectionEvents {
  virtual ~ConnectionEvents() = default;
  virtual void OnConnectionChange(bool up) = 0;
};

void OnDisconnected(natsConnection* /*nc*/, void* closure) {
  LogInfo("nats: disconnected, reconnecting");
  if (closure != nullptr) static_cast<ConnectionEvents*>(closure)->OnConnectionChange(false);
}
void OnReconnected(natsConnection* nc, void* closure) {
  char url[256] = {0};
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  LogInfo(std::string("nats: reconnected to ") + url);
  if (closure != nullptr) static_cast<ConnectionEvents*>(closure)->OnConnectionChange(true);
}
void OnAsyncError(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsStatus err, void* /*c*/) {
  LogDebug(std::string("nats: asynchronous error: ") + natsStatus_GetText(err));
}

Result<Connection> Connect(const Endpoint& endpoint, const std::string& name, int64_t timeout_ns,
                           ConnectionEvents* events) {
  std::vector<std::string> urls = ServerUrls(endpoint.bootstrap);
  if (urls.empty()) return InvalidArgument("nats: empty bootstrap address");
  std::vector<const char*> servers;
  for (const std::string& u : urls) servers.push_back(u.c_str());
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK && !name.empty()) s = natsOptions_SetName(opts, name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, std::max<int64_t>(timeout_ns / kNsPerMs, 1));
  // A node kill must not end the run's clients: reconnect without limit, quickly, and notice a
  // paused (SIGSTOP) server within a few seconds through pings.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 100);
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, 1000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 3);
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts, 64 * 1024 * 1024);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, OnAsyncError, nullptr);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, OnDisconnected, events);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, OnReconnected, events);
  natsConnection* nc = nullptr;
  if (s == NATS_OK) s = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) return NatsStatus(s, static_cast<jsErrCode>(0), "nats: connect to " + endpoint.bootstrap);
  return Connection(nc);
}

Result<JetStream> NewJetStream(natsConnection* nc, int64_t wait_ns, jsOptions* opts = nullptr) {
  jsOptions local;
  if (opts == nullptr) {
    jsOptions_Init(&local);
    opts = &local;
  }
  opts->Wait = std::max<int64_t>(wait_ns / kNsPerMs, 1);
  jsCtx* js = nullptr;
  natsStatus s = natsConnection_JetStream(&js, nc, opts);
  if (s != NATS_OK) return NatsStatus(s, static_cast<jsErrCode>(0), "nats: JetStream context");
  return JetStream(js);
}

// Asks in attempts of at most 2 s until the deadline: a request that went out while the
// connection was moving to another server, or to a stream whose replicas are still electing a
// leader, gets no answer at all, and a new request is then answered at once.
struct StreamInfoDeleter {
  void operator()(jsStreamInfo* si) const { jsStreamInfo_Destroy(si); }
};
using StreamInfo = std::unique_ptr<jsStreamInfo, StreamInfoDeleter>;

Result<StreamInfo> GetStreamInfo(jsCtx* js, const std::string& name, int64_t timeout_ns) {
  const int64_t deadline = MonotonicNs() + timeout_ns;
  while (true) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = std::clamp<int64_t>((deadline - MonotonicNs()) / kNsPerMs, 1, 2000);
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, js, name.c_str(), &jo, &jerr);
    if (s == NATS_OK) return StreamInfo(si);
    Status status = NatsStatus(s, jerr, "nats: stream " + name);
    if (!Transient(status) || MonotonicNs() >= deadline) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<TopicInfo> Describe(jsCtx* js, const std::string& name, int64_t timeout_ns) {
  ASSIGN_OR_RETURN(StreamInfo si, GetStreamInfo(js, name, timeout_ns));
  TopicInfo info;
  info.name = name;
  info.partitions = 1;
  info.replication = si->Config != nullptr ? static_cast<int>(si->Config->Replicas) : 1;
  return info;
}

class NatsAdmin : public Admin {
 public:
  explicit NatsAdmin(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

  Status Ping(int64_t timeout_ns) override {
    RETURN_IF_ERROR(Ensure(timeout_ns));
    natsStatus s = natsConnection_FlushTimeout(nc_.get(), std::max<int64_t>(timeout_ns / kNsPerMs, 1));
    if (s != NATS_OK) return Unavailable("nats: no answer from the server: " + Text(s));
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = std::max<int64_t>(timeout_ns / kNsPerMs, 1);
    jsAccountInfo* ai = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    s = js_GetAccountInfo(&ai, js_.get(), &jo, &jerr);
    if (ai != nullptr) jsAccountInfo_Destroy(ai);
    return NatsStatus(s, jerr, "nats: JetStream account info");
  }

  Status CreateTopic(const TopicRequest& request, int64_t timeout_ns) override {
    if (request.partitions != 1) {
      return InvalidArgument("nats: a JetStream stream has no partitions; use partitions: 1 (got " +
                             std::to_string(request.partitions) + ")");
    }
    ASSIGN_OR_RETURN(StreamSettings settings, ParseStreamConfig(request.config, request.replication));
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char* subjects[] = {request.name.c_str()};
    sc.Name = request.name.c_str();
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Replicas = settings.replicas;
    sc.Storage = settings.storage;
    sc.Retention = settings.retention;
    sc.MaxAge = settings.max_age_ns;
    sc.MaxBytes = settings.max_bytes;
    const int64_t deadline = MonotonicNs() + timeout_ns;
    RETURN_IF_ERROR(Ensure(timeout_ns));
    // JetStream answers a create with an identical configuration with success; Drone's contract
    // is AlreadyExists for a topic that exists.
    Result<TopicInfo> existing = Describe(js_.get(), request.name, timeout_ns);
    if (existing.ok()) {
      return {StatusCode::kAlreadyExists, "nats: stream " + request.name + " already exists"};
    }
    // A cluster that has just formed may not have elected its meta leader yet: retry the
    // transient answers until the deadline.
    while (true) {
      jsOptions jo;
      jsOptions_Init(&jo);
      jo.Wait = std::clamp<int64_t>((deadline - MonotonicNs()) / kNsPerMs, 1, 5000);
      jsStreamInfo* si = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      natsStatus s = js_AddStream(&si, js_.get(), &sc, &jo, &jerr);
      if (si != nullptr) jsStreamInfo_Destroy(si);
      Status status = NatsStatus(s, jerr, "nats: create stream " + request.name);
      if (status.ok() || !Transient(status) || MonotonicNs() >= deadline) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  Result<TopicInfo> DescribeTopic(const std::string& name, int64_t timeout_ns) override {
    RETURN_IF_ERROR(Ensure(timeout_ns));
    return Describe(js_.get(), name, timeout_ns);
  }

  Result<int64_t> Backlog(const std::string& topic, const std::string& group,
                          int64_t timeout_ns) override {
    RETURN_IF_ERROR(Ensure(timeout_ns));
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = std::max<int64_t>(timeout_ns / kNsPerMs, 1);
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    std::string durable = DurableName(group);
    natsStatus s = js_GetConsumerInfo(&ci, js_.get(), topic.c_str(), durable.c_str(), &jo, &jerr);
    if (s != NATS_OK) return NatsStatus(s, jerr, "nats: consumer " + durable + " of " + topic);
    int64_t backlog = static_cast<int64_t>(ci->NumPending) + ci->NumAckPending;
    jsConsumerInfo_Destroy(ci);
    return backlog;
  }

  // An ordered consumer (ephemeral, no acks) from the stream's first message to its last.
  Status ReadStored(const std::string& topic, int64_t timeout_ns,
                    const std::function<void(std::string_view)>& each) override {
    const int64_t deadline = MonotonicNs() + timeout_ns;
    RETURN_IF_ERROR(Ensure(timeout_ns));
    uint64_t stored = 0, last = 0;
    {
      ASSIGN_OR_RETURN(StreamInfo si, GetStreamInfo(js_.get(), topic, timeout_ns));
      stored = si->State.Msgs;
      last = si->State.LastSeq;
    }
    if (stored == 0) return Status::Ok();
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = std::max<int64_t>((deadline - MonotonicNs()) / kNsPerMs, 1);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = topic.c_str();
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription* sub = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_SubscribeSync(&sub, js_.get(), topic.c_str(), &jo, &so, &jerr);
    if (s != NATS_OK) return NatsStatus(s, jerr, "nats: read stream " + topic);
    natsSubscription_SetPendingLimits(sub, -1, -1);
    Status result = Status::Ok();
    uint64_t seen = 0;
    while (true) {
      const int64_t left_ms = (deadline - MonotonicNs()) / kNsPerMs;
      if (left_ms <= 0) {
        result = DeadlineExceeded("nats: read " + std::to_string(seen) + " of the " +
                                  std::to_string(stored) + " messages stream " + topic + " stores");
        break;
      }
      natsMsg* msg = nullptr;
      s = natsSubscription_NextMsg(&msg, sub, left_ms);
      if (s == NATS_TIMEOUT) continue;
      if (s != NATS_OK) {
        result = NatsStatus(s, static_cast<jsErrCode>(0), "nats: read stream " + topic);
        break;
      }
      jsMsgMetaData* meta = nullptr;
      uint64_t seq = 0;
      uint64_t pending = 1;
      if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        seq = meta->Sequence.Stream;
        pending = meta->NumPending;
        jsMsgMetaData_Destroy(meta);
      }
      each(std::string_view(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))));
      natsMsg_Destroy(msg);
      ++seen;
      // Done at the last message the stream had when asked (later ones are not this run's
      // concern), or when the consumer has nothing more.
      if (seq >= last || pending == 0) break;
    }
    natsSubscription_Unsubscribe(sub);  // deletes the ephemeral consumer
    natsSubscription_Destroy(sub);
    return result;
  }

 private:
  Status Ensure(int64_t timeout_ns) {
    if (nc_) return Status::Ok();
    ASSIGN_OR_RETURN(nc_, Connect(endpoint_, "drone-admin", timeout_ns, nullptr));
    ASSIGN_OR_RETURN(js_, NewJetStream(nc_.get(), timeout_ns));
    return Status::Ok();
  }

  const Endpoint endpoint_;
  Connection nc_;
  JetStream js_;  // declared after nc_: destroyed first
};

// Pub acks arrive on nats.c's threads; they wait here until the producer's thread polls.
struct AckSink {
  struct Done {
    uint64_t token;
    Outcome outcome;
    int64_t sequence;
    std::string error;
  };
  struct Pending {
    uint64_t token;
    int64_t sent_ns;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<natsMsg*, Pending> pending;  // guarded by mu
  std::vector<Done> done;                         // guarded by mu
};

void OnPubAck(jsCtx* /*js*/, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* sink = static_cast<AckSink*>(closure);
  {
    std::lock_guard<std::mutex> lock(sink->mu);
    auto it = sink->pending.find(msg);
    if (it != sink->pending.end()) {
      AckSink::Done d{it->second.token, Outcome::kAck, -1, {}};
      sink->pending.erase(it);
      if (pa != nullptr) {
        d.sequence = static_cast<int64_t>(pa->Sequence);
      } else {
        natsStatus err = pae != nullptr ? pae->Err : NATS_ERR;
        d.outcome = NatsPubAckOutcome(err, pae != nullptr ? static_cast<int>(pae->ErrCode) : 0);
        d.error = pae != nullptr && pae->ErrText != nullptr ? pae->ErrText : natsStatus_GetText(err);
      }
      sink->done.push_back(std::move(d));
    }
  }
  sink->cv.notify_one();
  natsMsg_Destroy(msg);
}

class NatsProducer : public Producer {
 public:
  static Result<std::unique_ptr<Producer>> Create(const Endpoint& endpoint,
                                                  const ProducerOptions& options,
                                                  DeliveryHandler& handler) {
    RETURN_IF_ERROR(CheckOptionKeys("nats", options.extra, ProducerKeys(), "producer_config"));
    if (options.acks != "0" && options.acks != "1" && options.acks != "all") {
      return InvalidArgument("nats: acks must be 0, 1 or all, not '" + options.acks + "'");
    }
    auto p = std::unique_ptr<NatsProducer>(new NatsProducer());
    p->handler_ = &handler;
    p->subject_ = options.topic;
    p->core_ = options.acks == "0";
    p->timeout_ns_ = std::max<int64_t>(options.message_timeout_ns, kNsPerMs);
    ASSIGN_OR_RETURN(int64_t window, PositiveInt(options.extra, "window", kDefaultWindow));
    p->window_ = static_cast<size_t>(window);
    ASSIGN_OR_RETURN(p->nc_, Connect(endpoint, options.client_id, 10 * kNsPerSec, nullptr));
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = OnPubAck;
    jo.PublishAsync.AckHandlerClosure = &p->sink_;
    jo.PublishAsync.MaxPending = window;
    ASSIGN_OR_RETURN(p->js_, NewJetStream(p->nc_.get(), p->timeout_ns_, &jo));
    // Both kinds of publish go to the stream's subject; the stream must exist so that what is
    // published is stored at all.
    RETURN_IF_ERROR(Describe(p->js_.get(), options.topic, 10 * kNsPerSec).status());
    // No MaxWait: nats.c 3.4's own publish-ack timer corrupted the heap when acks stopped
    // arriving (a node killed under load: malloc aborts inside the library). Acks overdue by
    // the message timeout are reclaimed here instead (ReclaimOverdue).
    jsPubOptions_Init(&p->pub_options_);
    return std::unique_ptr<Producer>(std::move(p));
  }

  ~NatsProducer() override {
    handler_ = nullptr;
    // Closing first stops the library's threads from delivering more acks; what is still
    // pending is reclaimed and dropped (the engine classifies it as indeterminate).
    if (nc_) natsConnection_Close(nc_.get());
    // nats.c 3.4 dereferences its pending table even when no asynchronous publish ever made it.
    if (js_ && !core_ && in_flight_.load() > 0) {
      natsMsgList left{};
      if (js_PublishAsyncGetPendingList(&left, js_.get()) == NATS_OK) natsMsgList_Destroy(&left);
    }
    js_.reset();
    nc_.reset();
  }

  int Lanes() const override { return 1; }

  Status Send(int /*lane*/, std::string_view /*key*/, std::string_view payload,
              uint64_t token) override {
    if (core_) {
      natsStatus s = natsConnection_Publish(nc_.get(), subject_.c_str(), payload.data(),
                                            static_cast<int>(payload.size()));
      if (s != NATS_OK) return SendError(s);
      unflushed_.push_back(token);
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      if (unflushed_.size() >= kCoreFlushEvery) FlushCore();
      return Status::Ok();
    }
    if (in_flight_.load(std::memory_order_relaxed) >= window_) return Unavailable("queue full");
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject_.c_str(), nullptr, payload.data(),
                                  static_cast<int>(payload.size()));
    if (s != NATS_OK) return Internal("nats: message: " + Text(s));
    natsMsg* key = msg;
    {
      // Registered before publishing: the ack may arrive before js_PublishMsgAsync returns.
      std::lock_guard<std::mutex> lock(sink_.mu);
      sink_.pending[key] = AckSink::Pending{token, MonotonicNs()};
    }
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    s = js_PublishMsgAsync(js_.get(), &msg, &pub_options_);
    if (s != NATS_OK) {
      // The library did not take the message: it was never sent, no ack will come.
      {
        std::lock_guard<std::mutex> lock(sink_.mu);
        sink_.pending.erase(key);
      }
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      natsMsg_Destroy(msg);
      return SendError(s);
    }
    return Status::Ok();
  }

  void Poll(int timeout_ms) override {
    if (core_) {
      if (!unflushed_.empty()) FlushCore();
      return;
    }
    ReclaimOverdue();
    std::vector<AckSink::Done> done;
    {
      std::unique_lock<std::mutex> lock(sink_.mu);
      if (sink_.done.empty() && timeout_ms > 0) {
        sink_.cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                          [this] { return !sink_.done.empty(); });
      }
      done.swap(sink_.done);
    }
    for (const AckSink::Done& d : done) {
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      if (handler_ == nullptr) continue;
      Delivery delivery;
      delivery.token = d.token;
      delivery.outcome = d.outcome;
      delivery.lane = 0;
      delivery.offset = d.sequence;
      delivery.error = d.error;
      handler_->OnDelivery(delivery);
    }
  }

  size_t Flush(int64_t timeout_ns) override {
    const int64_t deadline = MonotonicNs() + timeout_ns;
    while (InFlight() > 0 && MonotonicNs() < deadline) Poll(10);
    return InFlight();
  }

  size_t InFlight() const override { return in_flight_.load(std::memory_order_relaxed); }

 private:
  NatsProducer() = default;

  static Status SendError(natsStatus s) {
    // The reconnect buffer is full while the client is away from every server: back-pressure.
    if (s == NATS_INSUFFICIENT_BUFFER) return Unavailable("queue full");
    // Not kUnavailable: the caller would retry it as back-pressure; it is a definite failure.
    return FailedPrecondition("nats: publish: " + Text(s));
  }

  // When the oldest publish has waited longer than the message timeout, takes every message
  // the library still holds back from it and settles each as INDETERMINATE (it may be stored).
  // The library can only hand back all of its pending messages at once, so younger ones go too;
  // an ack that arrives for them later finds nothing pending and is dropped. Checked at most
  // every 100 ms.
  void ReclaimOverdue() {
    const int64_t now = MonotonicNs();
    if (now < next_reclaim_check_ns_) return;
    next_reclaim_check_ns_ = now + 100 * kNsPerMs;
    {
      std::lock_guard<std::mutex> lock(sink_.mu);
      bool overdue = false;
      for (const auto& [msg, pending] : sink_.pending) {
        if (now - pending.sent_ns > timeout_ns_) {
          overdue = true;
          break;
        }
      }
      if (!overdue) return;
    }
    // Not under sink_.mu: the library may hold its own lock while it calls OnPubAck.
    natsMsgList left{};
    if (js_PublishAsyncGetPendingList(&left, js_.get()) != NATS_OK) return;
    {
      std::lock_guard<std::mutex> lock(sink_.mu);
      for (int i = 0; i < left.Count; ++i) {
        auto it = sink_.pending.find(left.Msgs[i]);
        if (it == sink_.pending.end()) continue;
        sink_.done.push_back(AckSink::Done{it->second.token, Outcome::kIndeterminate, -1,
                                           "no publish ack within the message timeout"});
        sink_.pending.erase(it);
      }
    }
    natsMsgList_Destroy(&left);
  }

  // Core NATS has no acknowledgement: a flush (PING answered by PONG) is the most the server
  // confirms — it has read everything published before it. See docs/brokers/nats.md.
  void FlushCore() {
    natsStatus s = natsConnection_FlushTimeout(nc_.get(), std::max<int64_t>(timeout_ns_ / kNsPerMs, 1));
    Outcome outcome = s == NATS_OK ? Outcome::kAck : Outcome::kIndeterminate;
    std::string error = s == NATS_OK ? "" : "flush: " + Text(s);
    std::vector<uint64_t> tokens;
    tokens.swap(unflushed_);
    for (uint64_t t : tokens) {
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      if (handler_ == nullptr) continue;
      Delivery d;
      d.token = t;
      d.outcome = outcome;
      d.lane = 0;
      d.error = error;
      handler_->OnDelivery(d);
    }
  }

  Connection nc_;
  JetStream js_;
  AckSink sink_;
  jsPubOptions pub_options_{};
  DeliveryHandler* handler_ = nullptr;
  std::string subject_;
  bool core_ = false;
  int64_t timeout_ns_ = 0;
  size_t window_ = kDefaultWindow;
  std::vector<uint64_t> unflushed_;  // core publishes since the last flush
  std::atomic<size_t> in_flight_{0};
  int64_t next_reclaim_check_ns_ = 0;
};

class NatsConsumer : public Consumer, public ConnectionEvents {
 public:
  static Result<std::unique_ptr<Consumer>> Create(const Endpoint& endpoint,
                                                  const ConsumerOptions& options) {
    ASSIGN_OR_RETURN(ConsumerSettings settings, ParseConsumerSettings(options.extra));
    auto c = std::unique_ptr<NatsConsumer>(new NatsConsumer());
    c->push_ = settings.push;
    c->batch_ = settings.batch;
    ASSIGN_OR_RETURN(c->nc_, Connect(endpoint, options.client_id, 10 * kNsPerSec, c.get()));
    ASSIGN_OR_RETURN(c->js_, NewJetStream(c->nc_.get(), 10 * kNsPerSec));
    const std::string durable = DurableName(options.group);
    const std::string deliver = "_drone.deliver." + durable;

    // The consumer is created explicitly and then bound to: a subscription that created its
    // consumer would delete it when it closes, and the drain reads its backlog after that.
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.AckWait = settings.ack_wait_ns;
    cc.MaxAckPending = settings.max_ack_pending;
    if (c->push_) {
      cc.DeliverSubject = deliver.c_str();
      cc.DeliverGroup = durable.c_str();
    }
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = NATS_OK;
    // Right after a replicated stream was made, its cluster may leave the request unanswered or
    // be "temporarily unavailable" while it places the consumer (seen under load: no answer
    // within 10 s). Creating a consumer with the same settings again is harmless, so retry.
    const int64_t create_deadline = MonotonicNs() + 30 * kNsPerSec;
    while (true) {
      ci = nullptr;
      jerr = static_cast<jsErrCode>(0);
      s = js_AddConsumer(&ci, c->js_.get(), options.topic.c_str(), &cc, nullptr, &jerr);
      if (ci != nullptr) jsConsumerInfo_Destroy(ci);
      // Another consumer of the group may have created it with the same settings just now.
      if (s == NATS_OK || jerr == JSConsumerNameExistErr || jerr == JSConsumerExistingActiveErr) break;
      const bool transient = (s == NATS_TIMEOUT && jerr == 0) || jerr == JSClusterNotAvailErr;
      if (!transient || MonotonicNs() >= create_deadline) {
        return NatsStatus(s, jerr, "nats: create consumer " + durable + " on " + options.topic);
      }
      LogDebug("nats: create consumer " + durable + ": " + Text(s) + "; asking again");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (!c->push_) {
      natsInbox* inbox = nullptr;
      s = natsInbox_Create(&inbox);
      if (s != NATS_OK) return NatsStatus(s, static_cast<jsErrCode>(0), "nats: inbox");
      c->inbox_ = inbox;
      natsInbox_Destroy(inbox);
      c->next_subject_ = "$JS.API.CONSUMER.MSG.NEXT." + options.topic + "." + durable;
    }
    natsSubscription* sub = nullptr;
    // A consumer just created on a replicated stream may not be found for a moment (its replicas
    // are still electing a leader): binding retries that answer for a few seconds.
    const int64_t bind_deadline = MonotonicNs() + 10 * kNsPerSec;
    while (true) {
      jerr = static_cast<jsErrCode>(0);
      if (c->push_) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = options.topic.c_str();
        so.Consumer = durable.c_str();
        so.ManualAck = true;
        so.Queue = durable.c_str();
        s = js_SubscribeSync(&sub, c->js_.get(), options.topic.c_str(), nullptr, &so, &jerr);
      } else {
        // Pull requests are ours (see PullMore), on a plain subscription to an inbox; only the
        // consumer's existence is asked of the library.
        ci = nullptr;
        s = js_GetConsumerInfo(&ci, c->js_.get(), options.topic.c_str(), durable.c_str(), nullptr,
                               &jerr);
        if (ci != nullptr) jsConsumerInfo_Destroy(ci);
        if (s == NATS_OK) s = natsConnection_SubscribeSync(&sub, c->nc_.get(), c->inbox_.c_str());
      }
      // The open-loop producer may outrun us for a while: queue it here rather than drop it.
      if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, -1, -1);
      if (s == NATS_OK || jerr != JSConsumerNotFoundErr || MonotonicNs() >= bind_deadline) break;
      if (sub != nullptr) natsSubscription_Destroy(sub);
      sub = nullptr;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (s != NATS_OK) {
      if (sub != nullptr) natsSubscription_Destroy(sub);
      return NatsStatus(s, jerr, "nats: subscribe to " + options.topic + " as " + durable);
    }
    c->sub_ = sub;
    return std::unique_ptr<Consumer>(std::move(c));
  }

  ~NatsConsumer() override { Close(); }

  Result<size_t> Poll(int timeout_ms, ReceiveHandler& handler) override {
    if (sub_ == nullptr) return FailedPrecondition("nats: consumer is closed");
    if (!push_) {
      Status st = PullMore();
      if (!st.ok()) return Absorb(st, timeout_ms);
    }
    size_t delivered = 0;
    int64_t wait = std::max(timeout_ms, 1);
    while (delivered < static_cast<size_t>(batch_)) {
      natsMsg* msg = nullptr;
      natsStatus s = natsSubscription_NextMsg(&msg, sub_, wait);
      if (s == NATS_TIMEOUT) break;
      if (s != NATS_OK) {
        // A 503 on the inbox: no JetStream server took the pull request.
        if (s == NATS_NO_RESPONDERS) pull_open_ = false;
        if (delivered > 0) break;
        return Absorb(NatsStatus(s, static_cast<jsErrCode>(0), "nats: consume"), timeout_ms);
      }
      if (!push_ && PullStatus(msg)) {
        natsMsg_Destroy(msg);
        break;  // the request is over; the next Poll asks again
      }
      Deliver(msg, handler);
      ++delivered;
      if (!push_ && ++pull_received_ >= batch_) {
        pull_open_ = false;
        Status st = PullMore();  // keep the next batch coming while these are handled
        if (!st.ok()) break;
      }
      wait = 1;  // take what is queued, then return to the caller
    }
    return delivered;
  }

  uint32_t Session() const override { return session_.load(std::memory_order_acquire); }
  int AssignedLanes() const override { return sub_ != nullptr ? 1 : 0; }

  void Close() override {
    if (sub_ != nullptr) {
      // Destroying without unsubscribing keeps the durable consumer (and its backlog) on the
      // server; it was not created by this subscription, so the library does not delete it.
      natsSubscription_Destroy(sub_);
      sub_ = nullptr;
    }
    js_.reset();
    nc_.reset();
  }

  void OnConnectionChange(bool up) override {
    if (!up) return;
    session_.fetch_add(1, std::memory_order_acq_rel);
    // The server that held the pending pull request may be gone: ask again at once.
    reconnected_.store(true, std::memory_order_release);
  }

 private:
  NatsConsumer() = default;

  void Deliver(natsMsg* msg, ReceiveHandler& handler) {
    Received r;
    r.payload = std::string_view(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    r.lane = 0;
    // The stream sequence is not reported as the lane offset: the consumers of a group each see
    // an interleaved share of the sequence, which the engine would read as skipped offsets.
    r.offset = -1;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
      r.redelivered = meta->NumDelivered > 1;
      jsMsgMetaData_Destroy(meta);
    }
    // A redelivery (ack wait passed, or a consumer leader moved) comes after later messages:
    // order is promised only within the run of deliveries between two redeliveries.
    if (r.redelivered) session_.fetch_add(1, std::memory_order_acq_rel);
    handler.OnReceive(r);
    // Acknowledged after the handler has counted it; a lost ack means a redelivery, which is
    // counted as a duplicate, never as a loss.
    // The same "+ACK" natsMsg_Ack publishes, which needs a JetStream subscription (the pull
    // path's is a plain one).
    const char* reply = natsMsg_GetReply(msg);
    if (reply != nullptr && *reply != '\0') natsConnection_PublishString(nc_.get(), reply, "+ACK");
    natsMsg_Destroy(msg);
  }

  // Pull consumers: keeps one pull request for batch_ messages open on the server. A request is
  // over when its batch has arrived, when the server ends it with a status (408 expired, 409,
  // 404), when its expiry has passed (it was held by a server that went away), or when the
  // connection came back. libnats 3.4.1's natsSubscription_Fetch is not used: when more than
  // half a batch of late messages was queued on the subscription it wrote past the array it
  // returns (heap corruption after a failover; found with AddressSanitizer, see
  // docs/brokers/nats.md).
  Status PullMore() {
    const int64_t now = MonotonicNs();
    if (reconnected_.exchange(false, std::memory_order_acq_rel)) pull_open_ = false;
    if (pull_open_ && now < pull_expires_ns_ + kPullGraceNs) return Status::Ok();
    const std::string request = "{\"batch\":" + std::to_string(batch_) +
                                ",\"expires\":" + std::to_string(kPullExpiresNs) + "}";
    natsStatus s = natsConnection_PublishRequest(nc_.get(), next_subject_.c_str(), inbox_.c_str(),
                                                 request.data(), static_cast<int>(request.size()));
    if (s != NATS_OK) return NatsStatus(s, static_cast<jsErrCode>(0), "nats: pull request");
    pull_open_ = true;
    pull_received_ = 0;
    pull_expires_ns_ = now + kPullExpiresNs;
    return Status::Ok();
  }

  // A status message on the inbox (no data, a Status header) ends the open pull request:
  // 404 no messages, 408 request expired, 409 leadership change or limits. 100 is an idle
  // heartbeat. Returns whether msg was one.
  bool PullStatus(natsMsg* msg) {
    if (natsMsg_GetDataLength(msg) > 0) return false;
    const char* status = nullptr;
    if (natsMsgHeader_Get(msg, "Status", &status) != NATS_OK || status == nullptr) return false;
    if (std::string_view(status) != "100") {
      pull_open_ = false;
      if (std::string_view(status) != "408" && std::string_view(status) != "404") {
        const char* what = nullptr;
        natsMsgHeader_Get(msg, "Description", &what);
        LogDebug(std::string("nats: pull request ended: ") + status + " " + (what ? what : ""));
      }
    }
    return true;
  }

  // Errors while the cluster fails over (disconnected, leader moved, request expired) pass:
  // the client reconnects by itself. A closed connection or subscription is fatal.
  Result<size_t> Absorb(const Status& s, int timeout_ms) {
    if (natsConnection_IsClosed(nc_.get()) || !natsSubscription_IsValid(sub_)) {
      return Unavailable(s.message());
    }
    LogDebug(s.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(std::clamp(timeout_ms, 1, 50)));
    return size_t{0};
  }

  Connection nc_;
  JetStream js_;
  natsSubscription* sub_ = nullptr;
  bool push_ = false;
  int batch_ = kDefaultBatch;
  std::atomic<uint32_t> session_{0};
  // Pull consumers only (see PullMore); the consumer's thread only, but reconnected_.
  std::string inbox_;
  std::string next_subject_;  // $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>
  bool pull_open_ = false;
  int pull_received_ = 0;
  int64_t pull_expires_ns_ = 0;
  std::atomic<bool> reconnected_{false};
};

class NatsDriver : public ClientDriver<NatsProducer, NatsConsumer> {
 public:
  std::string Name() const override { return "nats"; }

  Status ValidateOptions(OptionScope scope,
                         const std::map<std::string, std::string>& options) const override {
    return ValidateNatsOptions(scope, options);
  }

  Result<std::unique_ptr<Admin>> NewAdmin(const Endpoint& endpoint) override {
    return std::unique_ptr<Admin>(new NatsAdmin(endpoint));
  }
};

}  // namespace

Outcome NatsPubAckOutcome(int nats_status, int js_error_code) {
  if (nats_status == NATS_OK) return Outcome::kAck;
  // An error reply from the stream (limits, wrong expected sequence, ...) says it did not
  // store the message; so does "no responders": no stream was listening on the subject.
  if (js_error_code != 0 || nats_status == NATS_NO_RESPONDERS) return Outcome::kNack;
  // A timeout or a lost connection: the stream may have stored it and the ack got lost.
  return Outcome::kIndeterminate;
}

Status ValidateNatsOptions(OptionScope scope, const std::map<std::string, std::string>& options) {
  switch (scope) {
    case OptionScope::kTopic:
      return ParseStreamConfig(options, 1).status();
    case OptionScope::kProducer:
      RETURN_IF_ERROR(CheckOptionKeys("nats", options, ProducerKeys(), "producer_config"));
      return PositiveInt(options, "window", 1).status();
    case OptionScope::kConsumer:
      return ParseConsumerSettings(options).status();
  }
  return Status::Ok();
}

Result<std::string> NatsJetStreamLeader(const std::string& bootstrap, const std::string& stream,
                                        int64_t timeout_ns) {
  Endpoint endpoint;
  endpoint.bootstrap = bootstrap;
  ASSIGN_OR_RETURN(Connection nc, Connect(endpoint, "drone-leader-probe", timeout_ns, nullptr));
  ASSIGN_OR_RETURN(JetStream js, NewJetStream(nc.get(), timeout_ns));
  ASSIGN_OR_RETURN(StreamInfo si, GetStreamInfo(js.get(), stream, timeout_ns));
  std::string leader;
  if (si->Cluster != nullptr && si->Cluster->Leader != nullptr) leader = si->Cluster->Leader;
  // A server without clustering reports no replica group at all.
  if (leader.empty()) return Unavailable("nats: stream " + stream + " has no leader right now");
  return leader;
}

std::unique_ptr<Driver> NewNatsDriver() { return std::make_unique<NatsDriver>(); }

}  // namespace drone::drivers
