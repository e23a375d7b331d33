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

// The network a local cluster step runs in: its `network`, or by default, when a fault.network
// or fault.partition step targets it, "lab" if this process may create network namespaces and
// "proxy" (TCP proxies in front of the nodes) if not; "loopback" when no network fault targets
// it. Other platforms: "".
std::string ClusterNetwork(const spec::FlowSpec& flow, const spec::Step& cluster_step);

}  // namespace drone::flow
