#include "faults/network/backend_choice.h"

#include "faults/network/kernel_render.h"
#include "faults/network/tcp_proxy.h"

namespace drone::faults::network {

Result<BackendChoice> ChooseBackend(const Impairment& imp, const KernelSupport& support,
                                    bool in_lab) {
  RETURN_IF_ERROR(imp.Validate());
  const std::string packet_fields = ProxyUnsupportedFields(imp);
  if (imp.NeedsProxy()) {
    if (!packet_fields.empty()) {
      return InvalidArgument(
          "reset, blackhole and slicer act on TCP streams and cannot be "
          "combined with " +
          packet_fields + "; use two faults");
    }
    return BackendChoice{kBackendTcpProxy, "stream faults (reset, blackhole, slicer) need a proxy"};
  }
  const bool privileged = support.privileged && support.netns;
  if (!privileged || !in_lab) {
    const std::string why = !privileged ? "no privilege for network namespaces"
                                        : "the endpoints are not in Drone's lab network";
    if (!packet_fields.empty()) {
      return FailedPrecondition(packet_fields + " needs packet access, and here " + why +
                                "; run as root with a lab network, or keep to delay and rate "
                                "(the TCP proxy carries those)");
    }
    return BackendChoice{kBackendTcpProxy, why + ": the TCP proxy carries delay and rate"};
  }
  if (support.netem) {
    if (!NeedsNetem(imp) && !imp.loss) {
      return BackendChoice{kBackendTcTbf, "a rate alone: the kernel's tbf"};
    }
    return BackendChoice{imp.rate ? std::string(kBackendTcNetem) + "+" + kBackendTcTbf
                                  : std::string(kBackendTcNetem),
                         "the kernel has sch_netem"};
  }
  if (NeedsNetem(imp)) {
    if (!support.nfqueue) {
      return FailedPrecondition(
          "this kernel has neither sch_netem nor NFQUEUE; only rate, plain "
          "random loss and partitions are possible here");
    }
    return BackendChoice{kBackendNfqueue,
                         "no sch_netem in this kernel: the userspace impairer (NFQUEUE) carries "
                         "delay, jitter, duplicate, corrupt, reorder and correlated or burst loss"};
  }
  std::string backend;
  if (imp.rate) {
    if (!support.tbf) {
      if (!support.nfqueue) return FailedPrecondition("no tbf and no NFQUEUE: no rate limit here");
      return BackendChoice{kBackendNfqueue, "no sch_tbf in this kernel: the userspace impairer"};
    }
    backend = kBackendTcTbf;
  }
  if (imp.loss) {
    if (!support.iptables_statistic) {
      if (!support.nfqueue) return FailedPrecondition("no iptables statistic match and no NFQUEUE");
      return BackendChoice{kBackendNfqueue, "no iptables statistic match: the userspace impairer"};
    }
    backend += backend.empty() ? kBackendIptables : std::string("+") + kBackendIptables;
  }
  return BackendChoice{backend,
                       "no sch_netem in this kernel; rate and plain random loss stay in "
                       "the kernel (tbf, iptables statistic)"};
}

}  // namespace drone::faults::network
