#include "faults/fault.h"

#include "core/clock.h"

namespace drone::faults {

nlohmann::json FaultRecord::ToJson() const {
  nlohmann::json j = {{"step", step},       {"kind", kind},
                      {"target", target},   {"backend", backend},
                      {"start", FormatTimestamp(start_ns)},
                      {"end", end_ns > 0 ? nlohmann::json(FormatTimestamp(end_ns)) : nlohmann::json()},
                      {"start_ns", start_ns}, {"end_ns", end_ns}};
  if (!details.empty()) j["details"] = details;
  return j;
}

}  // namespace drone::faults
