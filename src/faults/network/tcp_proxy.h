// The TCP proxy backend: network faults with no privilege at all. A TcpProxy listens on an
// address, connects every accepted client to one upstream, and impairs the two byte streams:
// latency with jitter (and its distribution) and bandwidth from the same Impairment the other
// backends take (delay, rate; the seeded model decides each chunk's release, in order), and the
// stream faults only a proxy can do — reset (every connection, new and open, gets a TCP reset),
// blackhole (bytes are taken and never forwarded) and slicer (the stream cut into small pieces
// sent apart). Packet-level faults (loss, duplicate, corrupt, reorder) cannot exist inside a TCP
// stream; Start() refuses them so nobody believes they were applied.
//
// One epoll thread per proxy; sockets are non-blocking; each direction buffers at most 4 MiB
// before it stops reading its source (the sender then feels back-pressure, as on a slow link).
//
// Thread-safety: Update(), stats() and Stop() are safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "core/status.h"
#include "faults/network/impairment.h"

namespace drone::faults::network {

struct TcpProxyStats {
  uint64_t connections = 0;  // accepted
  uint64_t resets = 0;       // connections reset by the reset fault
  uint64_t bytes_up = 0;     // client -> upstream, forwarded
  uint64_t bytes_down = 0;   // upstream -> client, forwarded
  uint64_t bytes_blackholed = 0;
  uint64_t open = 0;  // connections open now
  nlohmann::json ToJson() const;
};

class TcpProxy {
 public:
  // Listens on `listen` ("127.0.0.1:0" picks a port) and forwards to `upstream` ("host:port",
  // numeric IPv4). `up` impairs client -> upstream, `down` upstream -> client; either may be
  // empty (an Impairment with nothing set). Errors: bad addresses, the port is taken, a
  // packet-level fault was asked for. The listener is opened in the network namespace
  // `listen_netns` when it is not empty (a lab host's), the upstream connections in the caller's
  // own: the proxy then joins two namespaces.
  static Result<std::unique_ptr<TcpProxy>> Start(const std::string& listen,
                                                 const std::string& upstream, const Impairment& up,
                                                 const Impairment& down,
                                                 const std::string& listen_netns = "");
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"
  // New impairments for both directions; bytes already queued keep their release times (a
  // blackhole drops them). Returns once the proxy thread applies it: bytes read afterwards, and
  // the counters, belong to the new impairment.
  Status Update(const Impairment& up, const Impairment& down);
  TcpProxyStats stats() const;
  // Resets every connection open now (new ones are not affected), before any later Update()
  // takes effect: a stream that lost bytes to a blackhole cannot go on after a heal.
  void ResetOpen();
  // Closes every connection and the listener, joins the thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  TcpProxy() = default;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  std::string host_;
};

// The packet-level fields a TCP proxy cannot carry ("loss", "duplicate", ...), empty if none.
std::string ProxyUnsupportedFields(const Impairment& imp);

}  // namespace drone::faults::network
