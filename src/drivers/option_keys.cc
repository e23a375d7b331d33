#include "drivers/option_keys.h"

namespace drone::drivers {

Status CheckOptionKeys(std::string_view broker, const std::map<std::string, std::string>& options,
                       const std::set<std::string>& accepted, std::string_view scope) {
  for (const auto& [key, value] : options) {
    if (accepted.count(key) != 0) continue;
    std::string names;
    for (const std::string& k : accepted) names += (names.empty() ? "" : ", ") + k;
    return InvalidArgument(std::string(broker) + ": unknown " + std::string(scope) + " key '" + key +
                           "' (accepted: " + names + ")");
  }
  return Status::Ok();
}

}  // namespace drone::drivers
