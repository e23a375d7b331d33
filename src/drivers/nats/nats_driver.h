// The NATS driver, on nats.c: core NATS publish (no broker acknowledgement: ACK once the
// server has answered a flush) and JetStream publish with pub acks (asynchronous, with a bounded
// window of publishes awaiting their ack), pull and push durable consumers with explicit acks,
// and an admin for streams (replicas 1 or 3) and consumer backlog. A Drone "topic" is a
// JetStream stream whose single subject has the same name; it has one lane. The mapping of pub
// acks to outcomes is in docs/brokers/nats.md.
//
// Thread-safety: as drivers::Driver. nats.c delivers pub acks on its own threads; the producer
// queues them and hands them to the DeliveryHandler on the thread calling Poll()/Flush().
#pragma once

#include <map>
#include <memory>
#include <string>

#include "drivers/driver.h"

namespace drone::drivers {

std::unique_ptr<Driver> NewNatsDriver();

// Driver::ValidateOptions of the NATS driver: topic `config` (replicas, storage, retention,
// max_age, max_bytes), `producer_config` (window) and `consumer_config` (mode, batch, ack_wait,
// max_ack_pending). InvalidArgument naming the key and the accepted ones.
Status ValidateNatsOptions(OptionScope scope, const std::map<std::string, std::string>& options);

// Outcome of one asynchronous JetStream publish: `nats_status` is the natsStatus the library
// reported (NATS_OK for a PubAck), `js_error_code` the JetStream API error code of an error reply
// (0 when there was none). Exposed for unit tests of the mapping.
Outcome NatsPubAckOutcome(int nats_status, int js_error_code);

// The server name of the leader of `stream`'s replica group (JetStream stream info
// cluster.leader); NotFound when the stream does not exist, Unavailable when it has no leader.
// Used to resolve the `leader` role for faults.
Result<std::string> NatsJetStreamLeader(const std::string& bootstrap, const std::string& stream,
                                        int64_t timeout_ns);

}  // namespace drone::drivers
