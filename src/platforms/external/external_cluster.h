// The external platform: a cluster that already runs somewhere the user named (bootstrap
// addresses). Drone only connects: topics are created through the driver's admin API, and there
// is no process-level control, so node faults are refused at validation.
// Thread-safety: as platforms::Cluster.
#pragma once

#include <memory>

#include "platforms/platform.h"

namespace drone::platforms {

std::unique_ptr<Platform> NewExternalPlatform();

}  // namespace drone::platforms
