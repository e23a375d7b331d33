// The Redis recipe of the local platform: a primary (redis-1), nodes-1 replicas (redis-2...) with
// asynchronous replication, and `sentinels` Redis Sentinels (sentinel-1...) that monitor the
// primary as master "drone" and fail over to a replica when it is down for `down_after_ms`.
// Clients find the primary through the sentinels (bootstrap = the sentinels' addresses), so they
// follow a failover; the role `primary` (also `leader`) is what the sentinels report at the moment
// a fault fires. Options: sentinels (0..7, default 3; 0 = no failover, clients use redis-1),
// down_after_ms (default 1000), failover_timeout_ms (default 5000), appendfsync
// (always | everysec | no, default everysec; the append-only file is on).
//
// Thread-safety: as BrokerRecipe; the settings are fixed by Configure().
#pragma once

#include <memory>

#include "platforms/local/broker_recipe.h"

namespace drone::platforms::local {

std::unique_ptr<BrokerRecipe> NewRedisRecipe();

}  // namespace drone::platforms::local
