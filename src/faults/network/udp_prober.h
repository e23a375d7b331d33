// A UDP prober of timestamped packets across a lab link, for the accuracy benchmark and the live
// tests of the backends: the sender (in one host's namespace) paces `count` datagrams, each with a
// sequence number, its send time and a checksum of its bytes; a receiver thread (in the other
// host's namespace) records one-way latency from the send time to the read (both ends share this
// machine's clock, so no offset enters), losses, duplicates, corruption, reordering and the
// received bit rate.
//
// Thread-safety: ProbeUdp is reentrant; each call uses its own sockets and receiver thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace drone::faults::network {

struct ProbeOptions {
  int count = 1000;
  size_t size = 64;         // datagram payload bytes (at least 32)
  int64_t interval_ns = 0;  // between sends (open loop); 0: as fast as the socket takes them
  int64_t settle_ns = 300'000'000;  // how long after the last send the receiver keeps listening
  uint16_t port = 0;                // receiver port; 0: any
};

struct ProbeResult {
  int sent = 0;
  int received = 0;                 // distinct sequence numbers that arrived intact
  int duplicates = 0;               // arrivals of a sequence number already seen
  int corrupt = 0;                  // arrivals whose checksum did not match
  int reordered = 0;                // arrivals with a sequence number below the highest seen before
  std::vector<int64_t> latency_ns;  // one-way latency of each first intact arrival
  // Device arrival times (SO_TIMESTAMPNS, CLOCK_REALTIME) of the first and last intact datagram.
  int64_t first_rx_ns = 0, last_rx_ns = 0;
  int64_t rx_bytes = 0;  // payload bytes of intact first arrivals
  int64_t send_span_ns = 0;
  int send_failures = 0;  // datagrams the sender's kernel refused (e.g. EPERM: a drop rule)
  std::string last_send_error;

  double LossRate() const { return sent ? 1.0 - static_cast<double>(received) / sent : 0; }
  double MeanLatencyMs() const;
  double PercentileLatencyMs(double q) const;
  double StddevLatencyMs() const;
  // Payload bits per second between the first and the last arrival at the receiving device (a
  // rate imposed on the receiver's own INPUT hook does not show here).
  double ReceiveBitsPerSecond() const;
};

// Probes from the namespace `from_netns` to `to_address` bound in `to_netns`.
Result<ProbeResult> ProbeUdp(const std::string& from_netns, const std::string& to_netns,
                             const std::string& to_address, const ProbeOptions& options);

}  // namespace drone::faults::network
