#include "drivers/kafka/kafka_driver.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "core/clock.h"
#include "core/log.h"

namespace drone::drivers {
namespace {

int TimeoutMs(int64_t ns) { return static_cast<int>(std::max<int64_t>(ns / kNsPerMs, 1)); }

std::string Err(rd_kafka_resp_err_t err) { return rd_kafka_err2str(err); }

Status KafkaStatus(rd_kafka_resp_err_t err, const std::string& context) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: return Status::Ok();
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return DeadlineExceeded(context + ": " + Err(err));
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
      return Unavailable(context + ": " + Err(err));
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return {StatusCode::kAlreadyExists, context + ": " + Err(err)};
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return NotFound(context + ": " + Err(err));
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
      return InvalidArgument(context + ": " + Err(err));
    default:
      return Internal(context + ": " + Err(err));
  }
}

// Owns an rd_kafka_conf_t until it is handed to rd_kafka_new().
class Conf {
 public:
  Conf() : conf_(rd_kafka_conf_new()) {}
  ~Conf() {
    if (conf_ != nullptr) rd_kafka_conf_destroy(conf_);
  }
  Conf(const Conf&) = delete;
  Conf& operator=(const Conf&) = delete;

  Status Set(const std::string& key, const std::string& value) {
    char err[512];
    if (rd_kafka_conf_set(conf_, key.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      return InvalidArgument("Kafka client property " + key + "=" + value + ": " + err);
    }
    return Status::Ok();
  }
  Status SetAll(const std::map<std::string, std::string>& props) {
    for (const auto& [k, v] : props) RETURN_IF_ERROR(Set(k, v));
    return Status::Ok();
  }
  rd_kafka_conf_t* get() { return conf_; }
  rd_kafka_conf_t* release() { return std::exchange(conf_, nullptr); }

 private:
  rd_kafka_conf_t* conf_;
};

// librdkafka logs through this so its lines share Drone's format and level.
void LogCallback(const rd_kafka_t* /*rk*/, int level, const char* fac, const char* buf) {
  std::string line = std::string("kafka ") + fac + ": " + buf;
  if (level <= 3) {
    LogInfo(line);  // client errors during faults are expected: they are counted, not shouted
  } else if (level <= 5) {
    LogInfo(line);
  } else {
    LogDebug(line);
  }
}

Result<rd_kafka_t*> NewHandle(rd_kafka_type_t type, Conf& conf) {
  char err[512];
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (rk == nullptr) return InvalidArgument(std::string("Kafka client: ") + err);
  conf.release();  // owned by rk now
  return rk;
}

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

Result<TopicInfo> Describe(rd_kafka_t* rk, const std::string& name, int64_t timeout_ns) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, name.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, TimeoutMs(timeout_ns));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "metadata for topic " + name);
  TopicInfo info;
  info.name = name;
  Status status;
  if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = md->topic_cnt == 1 ? KafkaStatus(md->topics[0].err, "topic " + name)
                                : NotFound("topic " + name + " not in metadata");
  } else {
    info.partitions = md->topics[0].partition_cnt;
    for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
      info.replication = std::max(info.replication, md->topics[0].partitions[p].replica_cnt);
    }
    if (info.partitions == 0) status = NotFound("topic " + name + " has no partitions");
  }
  rd_kafka_metadata_destroy(md);
  if (!status.ok()) return status;
  return info;
}

class KafkaAdmin : public Admin {
 public:
  KafkaAdmin(Handle rk, Endpoint endpoint) : rk_(std::move(rk)), endpoint_(std::move(endpoint)) {}

  Status Ping(int64_t timeout_ns) override {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, nullptr, &md, TimeoutMs(timeout_ns));
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
    return Unavailable(std::string("no answer from the cluster: ") + rd_kafka_err2str(err));
  }

  Status CreateTopic(const TopicRequest& request, int64_t timeout_ns) override {
    char err[512];
    rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
        request.name.c_str(), request.partitions, request.replication, err, sizeof(err));
    if (topic == nullptr) return InvalidArgument("topic " + request.name + ": " + err);
    for (const auto& [k, v] : request.config) {
      rd_kafka_resp_err_t e = rd_kafka_NewTopic_set_config(topic, k.c_str(), v.c_str());
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_NewTopic_destroy(topic);
        return KafkaStatus(e, "topic config " + k);
      }
    }
    rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(options, TimeoutMs(timeout_ns), err, sizeof(err));
    rd_kafka_AdminOptions_set_request_timeout(options, TimeoutMs(timeout_ns), err, sizeof(err));
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_.get());
    rd_kafka_CreateTopics(rk_.get(), &topic, 1, options, queue);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, TimeoutMs(timeout_ns) + 1000);
    Status status;
    if (event == nullptr) {
      status = DeadlineExceeded("create topic " + request.name + ": no answer from the cluster");
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = KafkaStatus(rd_kafka_event_error(event), "create topic " + request.name);
    } else {
      const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
      size_t count = 0;
      const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &count);
      for (size_t i = 0; i < count && status.ok(); ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* msg = rd_kafka_topic_result_error_string(topics[i]);
          status = KafkaStatus(e, "create topic " + request.name + (msg ? std::string(" (") + msg + ")" : ""));
        }
      }
    }
    if (event != nullptr) rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_NewTopic_destroy(topic);
    return status;
  }

  Result<TopicInfo> DescribeTopic(const std::string& name, int64_t timeout_ns) override {
    return Describe(rk_.get(), name, timeout_ns);
  }

  Result<std::vector<int64_t>> EndOffsets(const std::string& topic, int64_t timeout_ns) override {
    ASSIGN_OR_RETURN(TopicInfo info, Describe(rk_.get(), topic, timeout_ns));
    std::vector<int64_t> ends(info.partitions, 0);
    for (int p = 0; p < info.partitions; ++p) {
      int64_t low = 0, high = 0;
      rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), p, &low,
                                                               &high, TimeoutMs(timeout_ns));
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return KafkaStatus(e, "end offset of " + topic + " [" + std::to_string(p) + "]");
      }
      ends[p] = high;
    }
    return ends;
  }

  // Every partition from its low to its high watermark (as they were when asked), by a consumer
  // that is assigned the partitions and joins no group.
  Status ReadStored(const std::string& topic, int64_t timeout_ns,
                    const std::function<void(std::string_view)>& each) override {
    const int64_t deadline = MonotonicNs() + timeout_ns;
    ASSIGN_OR_RETURN(TopicInfo info, Describe(rk_.get(), topic, timeout_ns));
    std::vector<int64_t> high(static_cast<size_t>(info.partitions), 0);
    std::vector<int64_t> next(static_cast<size_t>(info.partitions), 0);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(info.partitions);
    for (int p = 0; p < info.partitions; ++p) {
      int64_t low = 0;
      rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), p, &low,
                                                               &high[p], TimeoutMs(timeout_ns));
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(parts);
        return KafkaStatus(e, "watermarks of " + topic + " [" + std::to_string(p) + "]");
      }
      next[p] = low;
      if (high[p] > low) rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = low;
    }
    if (parts->cnt == 0) {
      rd_kafka_topic_partition_list_destroy(parts);
      return Status::Ok();
    }
    Conf conf;
    Status status = conf.Set("bootstrap.servers", endpoint_.bootstrap);
    if (status.ok()) status = conf.SetAll(endpoint_.properties);
    if (status.ok()) status = conf.SetAll(endpoint_.consumer_properties);
    // Required by the client, never joined: the partitions are assigned, nothing is committed.
    if (status.ok()) status = conf.Set("group.id", "drone-read-stored");
    if (status.ok()) status = conf.Set("enable.auto.commit", "false");
    // The end of a partition is reported, so that one ending in a transaction marker (which is
    // never delivered) is known to be read.
    if (status.ok()) status = conf.Set("enable.partition.eof", "true");
    Result<rd_kafka_t*> created = status.ok() ? NewHandle(RD_KAFKA_CONSUMER, conf) : Result<rd_kafka_t*>(status);
    if (!created.ok()) {
      rd_kafka_topic_partition_list_destroy(parts);
      return created.status();
    }
    Handle consumer(*created);
    rd_kafka_resp_err_t e = rd_kafka_assign(consumer.get(), parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(e, "assign the partitions of " + topic);
    const auto done = [&] {
      for (int p = 0; p < info.partitions; ++p) {
        if (next[p] < high[p]) return false;
      }
      return true;
    };
    while (!done()) {
      const int64_t left = deadline - MonotonicNs();
      if (left <= 0) {
        status = DeadlineExceeded("reading topic " + topic + " up to its end offsets took too long");
        break;
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), static_cast<int>(std::min<int64_t>(TimeoutMs(left), 100)));
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->partition >= 0 && m->partition < info.partitions) {
        if (m->offset < high[m->partition]) {
          each(std::string_view(static_cast<const char*>(m->payload), m->len));
        }
        next[m->partition] = std::max(next[m->partition], m->offset + 1);
      } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && m->partition >= 0 && m->partition < info.partitions) {
        next[m->partition] = std::max(next[m->partition], m->offset);
      } else {
        LogDebug(std::string("kafka: reading ") + topic + ": " + rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer.get());
    return status;
  }

 private:
  Handle rk_;
  const Endpoint endpoint_;
};

class KafkaProducer : public Producer {
 public:
  static Result<std::unique_ptr<Producer>> Create(const Endpoint& endpoint,
                                                  const ProducerOptions& options,
                                                  DeliveryHandler& handler) {
    auto producer = std::unique_ptr<KafkaProducer>(new KafkaProducer());
    producer->handler_ = &handler;
    Conf conf;
    RETURN_IF_ERROR(conf.Set("bootstrap.servers", endpoint.bootstrap));
    RETURN_IF_ERROR(conf.SetAll(endpoint.properties));
    if (!options.client_id.empty()) RETURN_IF_ERROR(conf.Set("client.id", options.client_id));
    RETURN_IF_ERROR(conf.Set("acks", options.acks == "all" ? "-1" : options.acks));
    RETURN_IF_ERROR(conf.Set("enable.idempotence", options.idempotence ? "true" : "false"));
    if (options.linger_ns >= 0) {
      RETURN_IF_ERROR(conf.Set("linger.ms", std::to_string(static_cast<double>(options.linger_ns) / kNsPerMs)));
    }
    if (options.batch_bytes > 0) {
      RETURN_IF_ERROR(conf.Set("batch.size", std::to_string(options.batch_bytes)));
    }
    RETURN_IF_ERROR(conf.Set("compression.codec", options.compression));
    RETURN_IF_ERROR(conf.Set("message.timeout.ms", std::to_string(TimeoutMs(options.message_timeout_ns))));
    // The open-loop generator must not be throttled by a small client queue: the queue is the
    // backlog that latency measured from the intended send time is meant to reveal.
    RETURN_IF_ERROR(conf.Set("queue.buffering.max.messages", "1000000"));
    RETURN_IF_ERROR(conf.Set("queue.buffering.max.kbytes", "1048576"));
    RETURN_IF_ERROR(conf.Set("allow.auto.create.topics", "false"));
    RETURN_IF_ERROR(conf.SetAll(options.extra));
    rd_kafka_conf_set_opaque(conf.get(), producer.get());
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaProducer::DeliveryReport);
    ASSIGN_OR_RETURN(rd_kafka_t * rk, NewHandle(RD_KAFKA_PRODUCER, conf));
    producer->rk_.reset(rk);
    producer->rkt_ = rd_kafka_topic_new(rk, options.topic.c_str(), nullptr);
    ASSIGN_OR_RETURN(TopicInfo info, Describe(rk, options.topic, 10 * kNsPerSec));
    producer->lanes_ = info.partitions;
    return std::unique_ptr<Producer>(std::move(producer));
  }

  ~KafkaProducer() override {
    if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
    // Undelivered messages are purged so destruction cannot block on a dead cluster; their
    // reports are not wanted any more (the engine has already classified them).
    if (rk_) {
      rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      handler_ = nullptr;
      rd_kafka_poll(rk_.get(), 0);
    }
  }

  int Lanes() const override { return lanes_; }

  Status Send(int lane, std::string_view key, std::string_view payload, uint64_t token) override {
    int rc = rd_kafka_produce(rkt_, lane, RD_KAFKA_MSG_F_COPY, const_cast<char*>(payload.data()),
                              payload.size(), key.empty() ? nullptr : key.data(), key.size(),
                              reinterpret_cast<void*>(token));
    if (rc == 0) {
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      return Status::Ok();
    }
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return Unavailable("queue full");
    return KafkaStatus(err, "produce");
  }

  void Poll(int timeout_ms) override { rd_kafka_poll(rk_.get(), timeout_ms); }

  size_t Flush(int64_t timeout_ns) override {
    int64_t deadline = MonotonicNs() + timeout_ns;
    while (InFlight() > 0 && MonotonicNs() < deadline) {
      rd_kafka_flush(rk_.get(), 100);
    }
    return InFlight();
  }

  size_t InFlight() const override { return in_flight_.load(std::memory_order_relaxed); }

 private:
  KafkaProducer() = default;

  static void DeliveryReport(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<KafkaProducer*>(opaque);
    self->in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (self->handler_ == nullptr) return;
    Delivery d;
    d.token = reinterpret_cast<uint64_t>(msg->_private);
    d.outcome = KafkaOutcome(msg->err, rd_kafka_message_status(msg));
    d.lane = msg->partition;
    d.offset = msg->offset;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) d.error = rd_kafka_err2str(msg->err);
    self->handler_->OnDelivery(d);
  }

  Handle rk_;
  rd_kafka_topic_t* rkt_ = nullptr;
  DeliveryHandler* handler_ = nullptr;
  int lanes_ = 0;
  std::atomic<size_t> in_flight_{0};
};

class KafkaConsumer : public Consumer {
 public:
  static Result<std::unique_ptr<Consumer>> Create(const Endpoint& endpoint,
                                                  const ConsumerOptions& options) {
    auto consumer = std::unique_ptr<KafkaConsumer>(new KafkaConsumer());
    Conf conf;
    RETURN_IF_ERROR(conf.Set("bootstrap.servers", endpoint.bootstrap));
    RETURN_IF_ERROR(conf.SetAll(endpoint.properties));
    if (!options.client_id.empty()) RETURN_IF_ERROR(conf.Set("client.id", options.client_id));
    RETURN_IF_ERROR(conf.Set("group.id", options.group));
    RETURN_IF_ERROR(conf.Set("auto.offset.reset", "earliest"));
    RETURN_IF_ERROR(conf.Set("enable.partition.eof", "false"));
    // End-to-end latency is a headline number: do not let the fetcher wait half a second.
    RETURN_IF_ERROR(conf.Set("fetch.wait.max.ms", "50"));
    RETURN_IF_ERROR(conf.SetAll(endpoint.consumer_properties));
    RETURN_IF_ERROR(conf.SetAll(options.extra));
    rd_kafka_conf_set_opaque(conf.get(), consumer.get());
    rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaConsumer::Rebalance);
    ASSIGN_OR_RETURN(rd_kafka_t * rk, NewHandle(RD_KAFKA_CONSUMER, conf));
    consumer->rk_.reset(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, options.topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "subscribe to " + options.topic);
    consumer->queue_ = rd_kafka_queue_get_consumer(rk);
    return std::unique_ptr<Consumer>(std::move(consumer));
  }

  ~KafkaConsumer() override { Close(); }

  Result<size_t> Poll(int timeout_ms, ReceiveHandler& handler) override {
    rd_kafka_message_t* batch[512];
    ssize_t n = rd_kafka_consume_batch_queue(queue_, timeout_ms, batch, 512);
    if (n < 0) return KafkaStatus(rd_kafka_last_error(), "consume");
    size_t delivered = 0;
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = batch[i];
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        Received r;
        r.payload = {static_cast<const char*>(m->payload), m->len};
        if (m->key != nullptr) r.key = {static_cast<const char*>(m->key), m->key_len};
        r.lane = m->partition;
        r.offset = m->offset;
        handler.OnReceive(r);
        ++delivered;
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // Transient consumer errors (broker down, leader moved) are logged; the client recovers.
        LogInfo(std::string("kafka consumer: ") + rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
    return delivered;
  }

  uint32_t Session() const override { return session_.load(std::memory_order_acquire); }
  int AssignedLanes() const override { return assigned_.load(std::memory_order_acquire); }

  void Close() override {
    if (!rk_) return;
    if (queue_ != nullptr) {
      rd_kafka_queue_destroy(queue_);
      queue_ = nullptr;
    }
    rd_kafka_consumer_close(rk_.get());
    rk_.reset();
  }

 private:
  KafkaConsumer() = default;

  static void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<KafkaConsumer*>(opaque);
    self->session_.fetch_add(1, std::memory_order_acq_rel);
    bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (cooperative) {
        rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions);
        if (e != nullptr) rd_kafka_error_destroy(e);
        self->assigned_.fetch_add(partitions->cnt);
      } else {
        rd_kafka_assign(rk, partitions);
        self->assigned_.store(partitions->cnt);
      }
    } else {
      if (cooperative) {
        rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions);
        if (e != nullptr) rd_kafka_error_destroy(e);
        self->assigned_.fetch_sub(partitions->cnt);
      } else {
        rd_kafka_assign(rk, nullptr);
        self->assigned_.store(0);
      }
    }
  }

  Handle rk_;
  rd_kafka_queue_t* queue_ = nullptr;
  std::atomic<uint32_t> session_{0};
  std::atomic<int> assigned_{0};
};

class KafkaDriver : public ClientDriver<KafkaProducer, KafkaConsumer> {
 public:
  std::string Name() const override { return "kafka"; }

  Result<std::unique_ptr<Admin>> NewAdmin(const Endpoint& endpoint) override {
    Conf conf;
    RETURN_IF_ERROR(conf.Set("bootstrap.servers", endpoint.bootstrap));
    RETURN_IF_ERROR(conf.SetAll(endpoint.properties));
    // Describing a topic must not create it on brokers that auto-create.
    RETURN_IF_ERROR(conf.Set("allow.auto.create.topics", "false"));
    ASSIGN_OR_RETURN(rd_kafka_t * rk, NewHandle(RD_KAFKA_PRODUCER, conf));
    return std::unique_ptr<Admin>(new KafkaAdmin(Handle(rk), endpoint));
  }
};

}  // namespace

Outcome KafkaOutcome(int error_code, int persistence_status) {
  if (error_code == RD_KAFKA_RESP_ERR_NO_ERROR) return Outcome::kAck;
  switch (static_cast<rd_kafka_msg_status_t>(persistence_status)) {
    case RD_KAFKA_MSG_STATUS_NOT_PERSISTED:
      return Outcome::kNack;
    case RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED:
    case RD_KAFKA_MSG_STATUS_PERSISTED:  // an error after persistence: we cannot be sure
      return Outcome::kIndeterminate;
  }
  return Outcome::kIndeterminate;
}

std::unique_ptr<Driver> NewKafkaDriver() { return std::make_unique<KafkaDriver>(); }

}  // namespace drone::drivers
