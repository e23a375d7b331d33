// Added round-trip time on everything a node answers. On the embedded platform this is the mock
// broker's RTT setting; the link-level impairments of the network fault work (netem, the
// userspace impairer, the TCP proxy) slot in beside it. Thread-safety: as faults::Fault.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "faults/fault.h"
#include "platforms/platform.h"

namespace drone::faults {

std::unique_ptr<Fault> NewNodeDelay(platforms::NodeControl& control, std::string node,
                                    int64_t delay_ns, std::string backend);

}  // namespace drone::faults
