// Platform "local": real broker servers from the distribution's packages, started here as child
// processes (platforms/local/child_process.h) — one run directory per cluster with a directory per
// node, an address of its own per node (127.0.0.N) and free ports, optionally HAProxy in front
// (`lb: haproxy`). What is broker-specific (config, join, readiness, roles) is a BrokerRecipe
// (platforms/local/broker_recipe.h). Process faults act by signals: kill = SIGKILL, stop =
// SIGTERM, pause = SIGSTOP/SIGCONT, start = the same command line again on the same data.
//
// Thread-safety: as platforms::Platform and platforms::Cluster — the platform is stateless; a
// cluster synchronises internally and may be used from fault, workload and teardown threads.
#pragma once

#include <memory>

#include "platforms/platform.h"

namespace drone::platforms {

std::unique_ptr<Platform> NewLocalPlatform();

}  // namespace drone::platforms
