// Kill a node and bring it back: through the platform's NodeControl (embedded: the mock broker is
// set down and its partitions fail over; local platforms: SIGKILL and restart).
// Thread-safety: as faults::Fault.
#pragma once

#include <memory>
#include <string>

#include "faults/fault.h"
#include "platforms/platform.h"

namespace drone::faults {

// `control` must outlive the fault. `backend` names the platform's mechanism for the result.
std::unique_ptr<Fault> NewNodeKill(platforms::NodeControl& control, std::string node,
                                   bool failback, std::string backend);

}  // namespace drone::faults
