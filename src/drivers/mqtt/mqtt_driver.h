// The MQTT driver, on libmosquitto (MQTT 3.1.1): a producer that publishes at QoS 0, 1 or 2 and a
// consumer that subscribes with a clean or a persistent session (clean_session false and a
// client id fixed by the group), both reconnecting by themselves after a broker restart. ACK is
// PUBACK (QoS 1) or PUBCOMP (QoS 2); at QoS 0 the broker confirms nothing, so ACK means the
// client wrote the packet to its socket. MQTT has no partitions (one lane), no broker-side
// negative acknowledgement in 3.1.1, and no way to ask how much a session still has queued, so
// Admin::Backlog is Unimplemented. Details in docs/brokers/mqtt.md.
//
// Thread-safety: as drivers::Driver. The network loop (mosquitto_loop) runs inside Poll() and
// Flush() on the caller's thread, so every callback runs there too.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "drivers/driver.h"

namespace drone::drivers {

std::unique_ptr<Driver> NewMqttDriver();

// Driver::ValidateOptions of the MQTT driver: topics take no `config`; `producer_config` takes
// qos, window, keepalive, clean_session; `consumer_config` qos, clean_session, shared,
// keepalive. InvalidArgument naming the key and the accepted ones.
Status ValidateMqttOptions(OptionScope scope, const std::map<std::string, std::string>& options);

// QoS a producer publishes with: `qos` in producer_config when given, else from `acks`
// ("0" -> 0, "1" | "all" -> 1). Exposed for unit tests of the mapping.
Result<int> MqttProducerQos(const std::string& acks, const std::map<std::string, std::string>& config);

}  // namespace drone::drivers
