// The registry of platforms ("embedded", "external", ...). Registered once (call_once);
// read-only afterwards and safe from any thread.
#pragma once

#include "core/registry.h"
#include "platforms/platform.h"

namespace drone::platforms {

Registry<Platform>& PlatformRegistry();
void RegisterBuiltinPlatforms(Registry<Platform>& registry);

}  // namespace drone::platforms
