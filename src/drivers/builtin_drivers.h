// The registry of broker drivers ("kafka", ...). RegisterBuiltinDrivers() runs once (call_once);
// DriverRegistry() is read-only afterwards and safe from any thread.
#pragma once

#include "core/registry.h"
#include "drivers/driver.h"

namespace drone::drivers {

Registry<Driver>& DriverRegistry();
void RegisterBuiltinDrivers(Registry<Driver>& registry);

}  // namespace drone::drivers
