#include "drivers/builtin_drivers.h"

#include <mutex>

#include "drivers/kafka/kafka_driver.h"
#include "drivers/mqtt/mqtt_driver.h"
#include "drivers/nats/nats_driver.h"
#include "drivers/redis/redis_driver.h"
#include "drivers/rabbitmq/rabbitmq_driver.h"

namespace drone::drivers {

void RegisterBuiltinDrivers(Registry<Driver>& registry) {
  registry.Register("kafka", "Apache Kafka through librdkafka (admin, producer, consumer group)",
                    [] { return NewKafkaDriver(); });
  registry.Register("nats", "NATS through nats.c (core publish, JetStream pub acks, pull and push consumers)",
                    [] { return NewNatsDriver(); });
  registry.Register("mqtt", "MQTT 3.1.1 through libmosquitto (QoS 0/1/2, clean and persistent sessions)",
                    [] { return NewMqttDriver(); });
  registry.Register("redis", "Redis Streams through hiredis (XADD + WAIT, XREADGROUP/XACK, sentinel)",
                    [] { return NewRedisDriver(); });
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
