// The MQTT recipe of the local platform: one mosquitto broker (mosquitto does not cluster) on
// its own address and port, with persistence in its node directory (mosquitto.db, written on a
// graceful stop and every `autosave_interval` seconds), ready when an MQTT CONNECT is answered.
// Options: persistence (true|false), autosave_interval (seconds), max_inflight_messages,
// max_queued_messages. No roles: target the node by name (mosquitto-1).
//
// Thread-safety: as BrokerRecipe; the recipe keeps no state after Configure().
#pragma once

#include <memory>

#include "platforms/local/broker_recipe.h"

namespace drone::platforms::local {

std::unique_ptr<BrokerRecipe> NewMosquittoRecipe();

}  // namespace drone::platforms::local
