// Process faults: kill, stop, pause and restart nodes through the platform's NodeControl
// (embedded: the mock broker is set down and its partitions fail over; local: signals to the
// server process — kill = SIGKILL, stop = SIGTERM, pause = SIGSTOP, healed by starting the node
// again or by SIGCONT). A fault may hit several nodes at once (the target `minority`).
//
// Thread-safety: as faults::Fault.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "faults/fault.h"
#include "platforms/platform.h"

namespace drone::faults {

enum class ProcessAction {
  kKill,     // abrupt; healed by Start(failback)
  kStop,     // graceful shutdown; healed by Start
  kPause,    // frozen; healed by Resume
  kRestart,  // graceful shutdown; healed by Start (the step heals it at once or after `duration`)
};

const char* ProcessActionName(ProcessAction action);  // "kill", "stop", "pause", "restart"

// Splits a resolved target ("redis-2" or "nats-2,nats-3") into node names.
std::vector<std::string> SplitNodes(const std::string& resolved);

// `control` must outlive the fault. `backend` names the platform's mechanism for the result.
// Nodes are disturbed in order and healed in reverse order; if one cannot be disturbed, the ones
// already disturbed are healed before Inject() returns the error.
std::unique_ptr<Fault> NewProcessFault(ProcessAction action, platforms::NodeControl& control,
                                       std::vector<std::string> nodes, bool failback,
                                       std::string backend);

}  // namespace drone::faults
