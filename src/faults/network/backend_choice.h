// Which backend carries an impairment here, decided per impairment from what the kernel offers
// (DetectKernelSupport) and whether the endpoints live in Drone's lab namespaces — and why, in
// words for the result (`faults[].backend`, `faults[].details.backend_reason`).
//
//   stream faults (reset, blackhole, slicer)    -> tcp-proxy
//   no privilege, or endpoints outside the lab  -> tcp-proxy (delay and rate only)
//   sch_netem present                           -> tc-netem (+ tc-tbf for a rate)
//   no sch_netem, a netem-only field, NFQUEUE   -> nfqueue (the whole impairment, seeded)
//   no sch_netem, rate and/or plain random loss -> tc-tbf and/or iptables
//
// Pure function; thread-safe.
#pragma once

#include <string>

#include "core/status.h"
#include "faults/network/impairment.h"
#include "faults/network/lab_network.h"

namespace drone::faults::network {

inline constexpr char kBackendTcNetem[] = "tc-netem";
inline constexpr char kBackendTcTbf[] = "tc-tbf";
inline constexpr char kBackendIptables[] = "iptables";
inline constexpr char kBackendNfqueue[] = "nfqueue";
inline constexpr char kBackendTcpProxy[] = "tcp-proxy";

struct BackendChoice {
  std::string backend;  // one of the names above, or two joined by '+' ("tc-tbf+iptables")
  std::string reason;
  bool Kernel() const { return backend != kBackendNfqueue && backend != kBackendTcpProxy; }
};

// FailedPrecondition when nothing here can carry the impairment (packet loss without privilege),
// with what to do about it.
Result<BackendChoice> ChooseBackend(const Impairment& imp, const KernelSupport& support,
                                    bool in_lab);

}  // namespace drone::faults::network
