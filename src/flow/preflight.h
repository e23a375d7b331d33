// Checks that need more than the flow file itself — that platforms, drivers and step kinds exist
// and accept the requested configuration, that faults target platforms able to carry them out,
// that `expect:` fields name real result fields — before anything is started. Used by
// `drone validate` and at the start of `drone run`. Thread-safe (pure).
#pragma once

#include <vector>

#include "spec/flow_spec.h"

namespace drone::flow {

std::vector<spec::Diagnostic> Preflight(const spec::FlowSpec& flow);

}  // namespace drone::flow
