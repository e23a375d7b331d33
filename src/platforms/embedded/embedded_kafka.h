// The embedded platform: Kafka clusters inside the Drone process, on librdkafka's mock cluster
// (rdkafka_mock.h) with N brokers listening on loopback. Works on a fresh machine with no server
// installed. Faults: broker down/up with leader and coordinator failover, added round-trip time.
// With `network: lab` its brokers and clients become hosts of a lab network (embedded_lab.h).
//
// Limits of the mock worth knowing (documented in docs/platforms/embedded.md): it keeps one log
// per partition shared by all replicas, so a leader change never loses acknowledged data by
// itself; it has no CreateTopics API in librdkafka 2.0, so topics are created through the mock's
// control calls. Thread-safety: as platforms::Cluster.
#pragma once

#include <memory>

#include "platforms/platform.h"

namespace drone::platforms {

std::unique_ptr<Platform> NewEmbeddedPlatform();

}  // namespace drone::platforms
