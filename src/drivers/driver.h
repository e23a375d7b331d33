// The Driver interface: client code for one broker protocol (admin, producer, consumer). A driver
// is stateless and shared; the objects it creates are owned by their caller. Every broker kind
// plugs in here, registered by name in RegisterBuiltinDrivers() (drivers/registry.h).
//
// Thread-safety: Driver is safe for concurrent use. Each Admin, Producer and Consumer instance is
// used by one thread at a time (the workload engine gives each producer and consumer a thread of
// its own); callbacks run on the thread that calls Poll().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace drone::drivers {

// How a broker answered one send. Mapped honestly from each protocol's semantics:
// kAck = the broker confirmed (or, for fire-and-forget settings such as Kafka acks=0, the client
// reported success — which is all the application is ever told); kNack = definitely not stored;
// kIndeterminate = we cannot know (timeout, disconnect with the request in flight).
enum class Outcome : uint8_t { kAck, kNack, kIndeterminate };

const char* OutcomeName(Outcome outcome);

// Where to reach a cluster: protocol-specific bootstrap text plus client properties that the
// platform requires (passed through to the client library).
struct Endpoint {
  std::string bootstrap;
  std::map<std::string, std::string> properties;           // every client
  std::map<std::string, std::string> consumer_properties;  // consumers only
};

struct TopicRequest {
  std::string name;
  int partitions = 1;
  int replication = 1;
  std::map<std::string, std::string> config;
};

struct TopicInfo {
  std::string name;
  int partitions = 0;
  int replication = 0;
};

class Admin {
 public:
  virtual ~Admin() = default;
  // Checks that the cluster answers within `timeout_ns`; Unavailable (with the client's reason)
  // when it does not.
  virtual Status Ping(int64_t timeout_ns) = 0;
  // Creates the topic (or queue/stream). AlreadyExists when it exists; Unavailable when the
  // cluster cannot be reached before `timeout_ns`.
  virtual Status CreateTopic(const TopicRequest& request, int64_t timeout_ns) = 0;
  // NotFound when the topic does not exist.
  virtual Result<TopicInfo> DescribeTopic(const std::string& name, int64_t timeout_ns) = 0;
  // The next offset to be written, per lane (partition), i.e. how much the broker holds.
  // Unimplemented for brokers without per-lane offsets; the drain then asks Backlog().
  virtual Result<std::vector<int64_t>> EndOffsets(const std::string& /*topic*/,
                                                  int64_t /*timeout_ns*/) {
    return Unimplemented("the broker has no end offsets");
  }
  // Messages the broker still holds for consumer group `group` of `topic`: not yet delivered, or
  // delivered but not yet acknowledged. 0 means the group has consumed everything the broker
  // has. Unimplemented where the broker cannot tell (MQTT); the drain then waits per ordering
  // domain for the highest acknowledged sequence instead.
  virtual Result<int64_t> Backlog(const std::string& /*topic*/, const std::string& /*group*/,
                                  int64_t /*timeout_ns*/) {
    return Unimplemented("the broker does not report a backlog");
  }
  // Calls `each` with the payload of every message the broker still stores for `topic`,
  // independently of any consumer group (a stream read from its start), within `timeout_ns`.
  // After a loss it tells messages the broker kept but never delivered from messages it lost.
  // Unimplemented where the broker cannot list them (queues delete what was acknowledged).
  virtual Status ReadStored(const std::string& /*topic*/, int64_t /*timeout_ns*/,
                            const std::function<void(std::string_view payload)>& /*each*/) {
    return Unimplemented("the broker cannot list what it stores");
  }
};

struct ProducerOptions {
  std::string client_id;
  std::string topic;
  std::string acks = "all";  // "0" | "1" | "all"
  bool idempotence = false;
  int64_t linger_ns = -1;     // < 0: the library's default
  int64_t batch_bytes = -1;   // < 0: the library's default
  std::string compression = "none";
  int64_t message_timeout_ns = 30'000'000'000;
  std::map<std::string, std::string> extra;  // raw client properties, applied last
};

// Delivery report of one send, identified by the token the caller passed to Send().
struct Delivery {
  uint64_t token = 0;
  Outcome outcome = Outcome::kIndeterminate;
  int32_t lane = -1;       // partition the broker stored it in, -1 when unknown
  int64_t offset = -1;     // broker position, -1 when unknown
  std::string_view error;  // empty on kAck; valid only during the callback
};

class DeliveryHandler {
 public:
  virtual ~DeliveryHandler() = default;
  // Called once per Send() that returned OK, on the thread calling Producer::Poll()/Flush().
  virtual void OnDelivery(const Delivery& delivery) = 0;
};

class Producer {
 public:
  virtual ~Producer() = default;
  // Number of ordering lanes of the topic (Kafka: partitions). Known after creation.
  virtual int Lanes() const = 0;
  // Enqueues one message for `lane`. Returns Unavailable("queue full") when the client's queue is
  // full — the caller polls and retries — or another error when the message was not accepted (no
  // delivery report follows then).
  virtual Status Send(int lane, std::string_view key, std::string_view payload, uint64_t token) = 0;
  // Serves delivery reports for up to `timeout_ms` (0 = non-blocking).
  virtual void Poll(int timeout_ms) = 0;
  // Waits until every accepted message has had its delivery report or the deadline passes.
  // Returns the number still outstanding.
  virtual size_t Flush(int64_t timeout_ns) = 0;
  virtual size_t InFlight() const = 0;
};

struct ConsumerOptions {
  std::string client_id;
  std::string topic;
  std::string group;
  std::map<std::string, std::string> extra;
};

struct Received {
  std::string_view payload;  // valid only during the callback
  std::string_view key;
  int32_t lane = -1;
  int64_t offset = -1;
  bool redelivered = false;  // when the protocol says so (AMQP redelivered flag, ...)
};

class ReceiveHandler {
 public:
  virtual ~ReceiveHandler() = default;
  virtual void OnReceive(const Received& message) = 0;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Delivers available messages to `handler` for up to `timeout_ms`; returns how many.
  // Transient broker errors are absorbed (the client reconnects); fatal ones are returned.
  virtual Result<size_t> Poll(int timeout_ms, ReceiveHandler& handler) = 0;
  // Increases whenever the consumer's assignment changes (rebalance): redelivery across sessions
  // is expected and is not reordering.
  virtual uint32_t Session() const = 0;
  // Lanes (partitions) currently assigned to this consumer; > 0 once it can receive.
  virtual int AssignedLanes() const = 0;
  // Leaves the group cleanly.
  virtual void Close() = 0;
};

// Which settings map of a flow an option belongs to (for Driver::ValidateOptions).
enum class OptionScope {
  kTopic,     // a topic step's `config:` (TopicRequest::config)
  kProducer,  // a workload's `producer_config:` (ProducerOptions::extra)
  kConsumer,  // a workload's `consumer_config:` (ConsumerOptions::extra)
};

const char* OptionScopeName(OptionScope scope);  // "config", "producer_config", "consumer_config"

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string Name() const = 0;  // "kafka"
  // Checks a settings map before anything starts (called by preflight, so `drone validate`
  // catches it). InvalidArgument naming the first unknown key or bad value and the keys that
  // exist. The default accepts everything (drivers that pass raw client properties through).
  virtual Status ValidateOptions(OptionScope /*scope*/,
                                 const std::map<std::string, std::string>& /*options*/) const {
    return Status::Ok();
  }
  virtual Result<std::unique_ptr<Admin>> NewAdmin(const Endpoint& endpoint) = 0;
  // Fails with InvalidArgument for bad options, Unavailable / NotFound when the topic cannot be
  // resolved in time.
  // `handler` receives every delivery report; it must outlive the producer.
  virtual Result<std::unique_ptr<Producer>> NewProducer(const Endpoint& endpoint,
                                                        const ProducerOptions& options,
                                                        DeliveryHandler& handler) = 0;
  virtual Result<std::unique_ptr<Consumer>> NewConsumer(const Endpoint& endpoint,
                                                        const ConsumerOptions& options) = 0;
};

// Most drivers are a producer class and a consumer class, each with a static Create() taking
// NewProducer's / NewConsumer's arguments; ClientDriver supplies those two overrides, so such a
// driver only names itself, validates its options and makes its admin client.
template <typename ProducerT, typename ConsumerT>
class ClientDriver : public Driver {
 public:
  Result<std::unique_ptr<Producer>> NewProducer(const Endpoint& endpoint,
                                                const ProducerOptions& options,
                                                DeliveryHandler& handler) override {
    return ProducerT::Create(endpoint, options, handler);
  }
  Result<std::unique_ptr<Consumer>> NewConsumer(const Endpoint& endpoint,
                                                const ConsumerOptions& options) override {
    return ConsumerT::Create(endpoint, options);
  }
};

}  // namespace drone::drivers
