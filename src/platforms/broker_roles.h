// Who holds a broker's roles, read from the brokers' own tools — the parsers that every platform
// shares, whether it runs the tool beside a local server or through `kubectl exec` in a pod:
// rabbitmqctl's queue list (a quorum queue's leader), NATS's /jsz monitoring document (a
// JetStream stream's leader, the meta leader), redis-cli's SENTINEL get-master-addr-by-name
// (the primary) and kafka-topics.sh --describe (a partition's leader).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace drone::platforms {

// One row of `rabbitmqctl list_queues --formatter json name type leader`.
struct RabbitMqQueueRow {
  std::string name;
  std::string type;    // "quorum", "classic", ...
  std::string leader;  // Erlang node name of a quorum queue's leader; empty for classic queues
};

// Parses that JSON; Unavailable when it is not what rabbitmqctl prints.
Result<std::vector<RabbitMqQueueRow>> ParseRabbitMqQueues(const std::string& json);

// `queue`, or with an empty `queue` the only queue there is (InvalidArgument when there are
// several: the role must name one).
Result<RabbitMqQueueRow> PickRabbitMqQueue(const std::vector<RabbitMqQueueRow>& rows,
                                           const std::string& queue);

// The leaders in a NATS server's `/jsz?streams=true` document: servers by their server_name.
struct NatsLeaders {
  std::string stream;       // the leader of the first stream by name that has one; or empty
  std::string stream_name;  // that stream
  std::string meta;         // the JetStream meta leader; or empty
};
// Unavailable when the text is not JSON.
Result<NatsLeaders> ParseNatsJsz(const std::string& json);

// The primary's host from `redis-cli SENTINEL get-master-addr-by-name NAME`: two lines, host and
// port. Unavailable when the sentinel knows no such master (redis-cli prints nothing or "(nil)").
Result<std::string> ParseSentinelPrimary(const std::string& output);

// The leader's broker id of `partition` of `topic` in `kafka-topics.sh --describe` output
// ("\tTopic: T\tPartition: 0\tLeader: 1\tReplicas: ..."). Unavailable when the partition has no
// leader (Leader: -1, or "none") or is not listed.
Result<int> ParseKafkaPartitionLeader(const std::string& output, const std::string& topic,
                                      int partition);

}  // namespace drone::platforms
