// The Redis driver, on hiredis: a topic is one stream (one ordering lane). Producers pipeline
// XADD and, for replica acknowledgement, follow each written batch with WAIT; consumers read with
// XREADGROUP in a consumer group and XACK what they handed on; the backlog is the group's lag plus
// its pending entries (XINFO GROUPS). With sentinels in the endpoint, every client finds the
// primary through them and finds it again after a failover. Outcomes (docs/brokers/redis.md):
// XADD reply = ACK (without WAIT); with WAIT, ACK once WAIT reports the replicas asked for and
// INDETERMINATE when it reports fewer (the write stays on the primary and may or may not survive
// it); an error reply = NACK; a connection lost, or no reply within the message timeout, with the
// command in flight = INDETERMINATE; an XADD still queued in the producer, never written, when the
// connection is lost = NACK.
//
// Thread-safety: as drivers::Driver.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "drivers/driver.h"

namespace drone::drivers {

// Endpoint properties the Redis driver reads (set by the local platform's recipe; for an
// external cluster they may be given in the endpoint).
inline constexpr const char* kRedisSentinelMaster = "redis.sentinel_master";  // bootstrap = sentinels
inline constexpr const char* kRedisReplicas = "redis.replicas";  // replicas `acks: all` waits for

std::unique_ptr<Driver> NewRedisDriver();

// The settings of a producer_config / consumer_config map, validated.
struct RedisProducerSettings {
  int pipeline = 32;           // XADDs on the connection at most, and as many queued behind them
  int wait_replicas = -1;      // -1: decided by acks (all = every replica; 0/1 = no WAIT)
  int64_t wait_timeout_ms = 1000;
};
struct RedisConsumerSettings {
  int count = 100;  // entries per XREADGROUP
};
Result<RedisProducerSettings> ParseRedisProducerSettings(const std::map<std::string, std::string>& config);
Result<RedisConsumerSettings> ParseRedisConsumerSettings(const std::map<std::string, std::string>& config);

}  // namespace drone::drivers
