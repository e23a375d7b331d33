// The RabbitMQ driver, on rabbitmq-c (AMQP 0-9-1): admin (queue.declare of quorum or classic
// queues, passive declare for description and backlog), a producer with publisher confirms and
// persistent messages, and a consumer with manual acknowledgements and a prefetch window. Every
// client fails over to the next address of the endpoint when its node goes away. A queue is one
// ordering lane. How confirms map to Outcome is documented in docs/brokers/rabbitmq.md.
// Thread-safety: as drivers::Driver (one rabbitmq-c connection per client object, used by the
// one thread that owns it).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "drivers/driver.h"

namespace drone::drivers {

std::unique_ptr<Driver> NewRabbitMqDriver();

// One broker address of an endpoint's bootstrap text.
struct AmqpAddress {
  std::string host;
  int port = 5672;
};

// Parses "host:port[,host:port...]" (an optional amqp:// prefix per entry is accepted; the port
// defaults to 5672). InvalidArgument on an empty list or a bad port.
Result<std::vector<AmqpAddress>> ParseAmqpBootstrap(const std::string& bootstrap);

// The address a client connects to first: clients numbered 1, 2, 3... by their id's trailing
// number ("drone-load-p2") go to addresses 0, 1, 2..., so that a workload's producers (and its
// consumers) spread over the nodes; other ids by a hash.
size_t AmqpStartIndex(const std::string& client_id, size_t addresses);

// The settings a producer_config / consumer_config map / topic config may carry, checked before
// anything connects. InvalidArgument naming the key and the accepted ones.
Status ValidateRabbitMqProducerConfig(const std::map<std::string, std::string>& config);
Status ValidateRabbitMqConsumerConfig(const std::map<std::string, std::string>& config);
Status ValidateRabbitMqQueueConfig(const std::map<std::string, std::string>& config);

}  // namespace drone::drivers
