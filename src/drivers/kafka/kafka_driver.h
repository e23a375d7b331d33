// The Kafka driver, on librdkafka: admin (create/describe topics, end offsets), an idempotent or
// plain producer that writes to an explicit partition, and a consumer-group consumer. Delivery
// reports map to Outcome through librdkafka's own persistence status (see docs/brokers/kafka.md).
// Thread-safety: as drivers::Driver.
#pragma once

#include <memory>

#include "drivers/driver.h"

namespace drone::drivers {

std::unique_ptr<Driver> NewKafkaDriver();

// Outcome of one librdkafka delivery report: error code plus rd_kafka_message_status().
// Exposed for unit tests of the mapping.
Outcome KafkaOutcome(int error_code, int persistence_status);

}  // namespace drone::drivers
