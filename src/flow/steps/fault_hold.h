// What every fault step does once it has built its fault: register the heal as an undo action,
// inject, record the fault (`faults[]`, with the backend the fault chose while injecting) and
// the FAULT_INJECTED / FAULT_HEALED events at the record's exact times, hold for `hold` (nullopt:
// until teardown), heal. And the network faults of clusters in a lab network
// (network_fault_steps.cc): fault.network's impairments between hosts, fault.partition.
//
// Thread-safety: called on the step's own thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "faults/fault.h"
#include "flow/step_executor.h"
#include "platforms/platform.h"

namespace drone::flow {

// `node`: the resolved target for the record; `requested`: as written, when it differs.
Status InjectAndHold(StepContext& ctx, std::shared_ptr<faults::Fault> fault,
                     const std::string& node, const std::string& requested,
                     std::optional<int64_t> hold);

// fault.network (impairment) or fault.partition on `cluster`, which runs in a lab network.
Status RunLabFault(StepContext& ctx, platforms::Cluster& cluster);
// fault.network's impairment on a cluster outside a lab, carried by its platform in the nodes
// (NodeControl::NewImpairmentFault; Unimplemented where the platform cannot).
Status RunNodeImpairment(StepContext& ctx, platforms::Cluster& cluster);

std::unique_ptr<StepExecutor> NewFaultPartitionStep();

}  // namespace drone::flow
