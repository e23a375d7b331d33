// The NATS recipe of the local platform: N nats-server processes with JetStream, clustered
// through routes (every node lists every node's cluster port), each with its own store directory
// under its node directory and its own client, cluster and monitoring (HTTP) ports. A node is
// ready when its /healthz answers ok and it knows the JetStream meta leader. Roles: `leader` is
// the leader of a stream's replica group (the first stream by name that has one) or, with no
// stream yet, the JetStream meta leader; `meta_leader` is always the latter.
//
// Thread-safety: as BrokerRecipe; the recipe keeps no state after Configure().
#pragma once

#include <memory>

#include "platforms/local/broker_recipe.h"

namespace drone::platforms::local {

std::unique_ptr<BrokerRecipe> NewNatsRecipe();

}  // namespace drone::platforms::local
