// Checks that need more than the flow file itself — that platforms, drivers and step kinds exist
// and accept the requested configuration, that faults target platforms able to carry them out,
// that `expect:` fields name real result fields — before anything is started. Used by
// `drone validate` and at the start of `drone run`. Thread-safe (pure).
#pragma once

#include <string>
#include <vector>

#include "spec/flow_spec.h"

namespace drone::flow {

std::vector<spec::Diagnostic> Preflight(const spec::FlowSpec& flow);

// The network a local cluster step runs in: its `network`, or by default "lab" when a
// fault.network or fault.partition step targets it and this process may create network
// namespaces, else "loopback". Other platforms: "".
std::string ClusterNetwork(const spec::FlowSpec& flow, const spec::Step& cluster_step);

}  // namespace drone::flow
