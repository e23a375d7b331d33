// Checks a driver's option map (producer_config, consumer_config, topic config) against the keys
// the driver knows, so that a misspelt key is one clear error naming every accepted key instead
// of a setting silently ignored. Shared by the drivers that keep their keys in a set.
//
// Thread-safety: a pure function, safe from any thread.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "core/status.h"

namespace drone::drivers {

// InvalidArgument "<broker>: unknown <scope> key '<key>' (accepted: a, b, c)" for the first key of
// `options` that `accepted` lacks; OK when there is none.
Status CheckOptionKeys(std::string_view broker, const std::map<std::string, std::string>& options,
                       const std::set<std::string>& accepted, std::string_view scope);

}  // namespace drone::drivers
