// The userspace packet impairer: what makes delay, jitter, duplication, corruption, reordering,
// Gilbert-Elliott loss and a seeded rate work on kernels without sch_netem. iptables rules in a
// namespace (RenderNfqueue) hand a link's packets to an NFQUEUE; a PacketImpairer binds that
// queue from inside the namespace and decides each packet with the seeded ImpairmentModel:
//
// - drop: an NF_DROP verdict at once;
// - delay (and the rate's queueing): the packet stays in the kernel's queue and its NF_ACCEPT
//   verdict is given when its release time comes (a min-heap of release times; verdicts may come
//   in any order, which is also how reordering happens);
// - duplicate: the original is accepted and a copy is written, at the same release time, to a raw
//   socket in the namespace. The copy carries the socket mark kInjectMark, which the NFQUEUE rules
//   exclude, so it is not queued again. (NF_REPEAT would not do: it re-runs the hook with the one
//   packet rather than adding a second.) An egress copy leaves by the routing table like the
//   original; an ingress copy (dst = the namespace's own address) is delivered over loopback;
// - corrupt: one bit of the transport payload flipped (or, for a packet without one, of the bytes
//   after the IP header), given back with the verdict; no checksum is fixed;
// - reorder: the packet skips the delay, so it overtakes those held.
//
// The queue is fail-open: if it ever overflows, packets pass rather than vanish. On Stop() every
// held packet is released at once (healing must not lose the packets in flight), then the queue is
// unbound. Install the iptables rules after Start() and remove them before Stop(); with
// --queue-bypass packets pass unimpaired whenever no impairer is bound.
//
// Thread-safety: the impairer runs its own thread. Update(), stats() and Stop() are safe from any
// thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "core/status.h"
#include "faults/network/impairment.h"

namespace drone::faults::network {

// Marks packets the impairer writes itself (duplicates) so that the NFQUEUE rules let them pass.
inline constexpr uint32_t kInjectMark = 0xd7a1;

struct PacketImpairerStats {
  uint64_t queued = 0;      // packets seen
  uint64_t dropped = 0;     // lost by the model or by the rate limit
  uint64_t duplicated = 0;  // copies written
  uint64_t corrupted = 0;
  uint64_t reordered = 0;       // sent ahead of held packets
  uint64_t delayed = 0;         // held for a while before their verdict
  uint64_t released = 0;        // accepted (at once or later)
  uint64_t max_held = 0;        // the most packets held at one time
  uint64_t verdict_errors = 0;  // verdicts the kernel refused (the packet then waits for Stop)
  std::string last_error;
  nlohmann::json ToJson() const;
};

class PacketImpairer {
 public:
  // Binds NFQUEUE `queue` inside `netns` ("" = Drone's own namespace) and starts the thread.
  // Errors: the namespace does not exist, the queue is taken, no privilege.
  static Result<std::unique_ptr<PacketImpairer>> Start(const std::string& netns, int queue,
                                                       const Impairment& impairment);
  ~PacketImpairer();
  PacketImpairer(const PacketImpairer&) = delete;
  PacketImpairer& operator=(const PacketImpairer&) = delete;

  // Changes the impairment for the packets that arrive from now on; held packets keep their
  // release times. The model's random streams carry on (ImpairmentModel::Update).
  void Update(const Impairment& impairment);
  PacketImpairerStats stats() const;
  // Releases every held packet, unbinds the queue, joins the thread. Idempotent.
  void Stop();

  int queue() const { return queue_; }
  const std::string& netns() const { return netns_; }

  struct State;  // libnetfilter_queue handles, the heap of held packets, the model

 private:
  PacketImpairer() = default;
  void Loop();

  std::string netns_;
  int queue_ = 0;
  std::unique_ptr<State> state_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;
  std::once_flag stopped_;
};

}  // namespace drone::faults::network
