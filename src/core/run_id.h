// Run ids: "20261124-063747-1e5f" — the UTC time of the start and a random suffix, so that ids
// sort by time and two runs started in the same second still differ. `drone run` and `drone ui`
// (which names a run before it starts it) both make them here.
//
// Thread-safety: NewRunId() may be called from any thread.
#pragma once

#include <string>

namespace drone {

std::string NewRunId();

}  // namespace drone
