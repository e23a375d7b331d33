// The RabbitMQ recipe of the local platform: N nodes of Debian's rabbitmq-server (default 3) formed
// into one cluster with rabbitmqctl join_cluster. Every node has its own node name, AMQP and
// distribution ports, config, data (mnesia) and log directories under the run directory, and all
// share one Erlang cookie. The cluster brings its own epmd, on a port of its own, run as a helper
// process that the platform stops with the nodes, so nothing outlives the run and no other Erlang
// system on the machine is touched. In a lab network (a namespace per node) the nodes use long
// names by address (name@10.213.0.N) and every node has its own epmd in its namespace; rabbitmqctl
// runs in the namespace of the node it asks. Role `leader` is the node leading a quorum queue (or
// hosting a classic one), asked from rabbitmqctl at the moment a fault fires.
//
// Thread-safety: as BrokerRecipe — after Configure() the recipe holds only immutable data.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "platforms/local/broker_recipe.h"

namespace drone::platforms::local {

std::unique_ptr<BrokerRecipe> NewRabbitMqRecipe();

// One row of `rabbitmqctl list_queues --formatter json name type leader`.
struct RabbitMqQueueRow {
  std::string name;
  std::string type;    // "quorum", "classic", ...
  std::string leader;  // Erlang node name of a quorum queue's leader; empty for classic queues
};

// Parses that JSON; Unavailable when it is not what rabbitmqctl prints.
Result<std::vector<RabbitMqQueueRow>> ParseRabbitMqQueues(const std::string& json);

// `queue`, or with an empty `queue` the only queue there is (InvalidArgument when there are
// several: the role must name one). Exposed for unit tests.
Result<RabbitMqQueueRow> PickRabbitMqQueue(const std::vector<RabbitMqQueueRow>& rows,
                                           const std::string& queue);

}  // namespace drone::platforms::local
