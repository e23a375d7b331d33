#include "drivers/builtin_drivers.h"

#include <mutex>

#include "drivers/kafka/kafka_driver.h"
#include "drivers/rabbitmq/rabbitmq_driver.h"

namespace drone::drivers {

void RegisterBuiltinDrivers(Registry<Driver>& registry) {
  registry.Register("kafka", "Apache Kafka through librdkafka (admin, producer, consumer group)",
                    [] { return NewKafkaDriver(); });
  registry.Register("rabbitmq", "RabbitMQ (AMQP 0-9-1) through rabbitmq-c (quorum/classic queues, confirms)",
                    [] { return NewRabbitMqDriver(); });
}

Registry<Driver>& DriverRegistry() {
  static Registry<Driver> registry("driver");
  static std::once_flag once;
  std::call_once(once, [] { RegisterBuiltinDrivers(registry); });
  return registry;
}

}  // namespace drone::drivers
