// A small HTTP server for headless runs (`drone run --metrics-port`): GET /metrics answers with
// a PrometheusRegistry's exposition; everything else is 404 (405 for other methods on /metrics).
// Built on cpp-httplib (Debian's libcpp-httplib-dev), kept out of this header.
//
// Thread-safety: Start() and the destructor are called from one thread; requests are served on
// the server's own threads, which only read the registry (itself thread-safe).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "metrics/prometheus.h"

namespace drone::metrics {

class MetricsHttpServer {
 public:
  // Binds `host`:`port` (port 0: an ephemeral port) and starts serving `registry`, which must
  // outlive the server. Unavailable (naming the address) when the address cannot be bound.
  static Result<std::unique_ptr<MetricsHttpServer>> Start(const std::string& host, int port,
                                                          const PrometheusRegistry& registry);
  // Stops accepting, finishes the requests in flight and joins the server thread.
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const;
  // "http://HOST:PORT/metrics", for messages.
  std::string url() const;

 private:
  struct Impl;
  explicit MetricsHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace drone::metrics
