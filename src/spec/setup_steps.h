// The set-up part of a flow, for standing environments (`drone up`): the steps marked
// `setup: true`, or — unless marked `setup: false` — of the set-up kinds `cluster` and `topic`,
// together with every step they need (transitively). The result is a flow of those steps only,
// in the same order, with no `finally` steps.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <string>
#include <vector>

#include "spec/flow_spec.h"

namespace drone::spec {

// True for the kinds that are set-up steps unless marked otherwise: cluster, topic.
bool IsSetupKind(StepKind kind);

// The ids of the set-up steps of `flow` (see above), in flow order.
std::vector<std::string> SetupStepIds(const FlowSpec& flow);

// `flow` reduced to SetupStepIds(flow); `finally` is dropped.
FlowSpec SetupFlow(const FlowSpec& flow);

}  // namespace drone::spec
