// Loopback addresses and ports for local clusters: every node gets an address of its own in
// 127.0.0.0/8 (Linux routes the whole block to `lo`, no set-up needed) and ports that are free on
// it, and readiness probes wait for a port to accept connections with a deadline.
//
// Thread-safety: the functions are stateless and safe from any thread. A port found free may be
// taken by someone else before the server binds it; callers fail the start cleanly then.
#pragma once

#include <cstdint>
#include <string>

#include "core/cancel.h"
#include "core/status.h"

namespace drone::platforms::local {

// "127.0.0.<2 + index>" for index 0..250: node addresses. 127.0.0.1 stays for everything else.
std::string NodeHost(int index);

// A TCP port that is free on `host` now (bound to port 0, read back, closed).
Result<int> FreeTcpPort(const std::string& host);

// True when a TCP connection to host:port succeeds within `timeout_ns`.
bool CanConnect(const std::string& host, int port, int64_t timeout_ns);

// Waits until host:port accepts TCP connections, until `deadline_ns` (MonotonicNs) or until
// `cancel` (nullable) fires. DeadlineExceeded / Cancelled otherwise.
Status WaitForPort(const std::string& host, int port, int64_t deadline_ns, const CancelToken* cancel);

}  // namespace drone::platforms::local
