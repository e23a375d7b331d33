#include "metrics/metrics_http_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace drone::metrics {

struct MetricsHttpServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> done{false};  // the accept loop has returned
  std::string host;
  int port = 0;
};

Result<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host, int port, const PrometheusRegistry& registry) {
  auto impl = std::make_unique<Impl>();
  impl->host = host;
  impl->server.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.Exposition(), kPrometheusContentType);
  });
  // A scraper needs no keep-alive; short timeouts keep shutdown prompt.
  impl->server.set_keep_alive_max_count(1);
  impl->server.set_read_timeout(5, 0);
  impl->server.set_write_timeout(5, 0);
  impl->server.set_payload_max_length(64 * 1024);
  if (port == 0) {
    impl->port = impl->server.bind_to_any_port(host);
    if (impl->port <= 0) {
      return Unavailable("cannot listen on " + host + " (ephemeral port)");
    }
  } else {
    if (!impl->server.bind_to_port(host, port)) {
      return Unavailable("cannot listen on " + host + ":" + std::to_string(port) +
                         " (in use?); choose another --metrics-port, or 0 for any free one");
    }
    impl->port = port;
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    raw->server.listen_after_bind();
    raw->done.store(true);
  });
  return std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(std::move(impl)));
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsHttpServer::~MetricsHttpServer() {
  // stop() is a no-op until the accept loop has started, so repeat it until the loop has ended
  // (bounded: the loop starts within microseconds of Start()).
  for (int i = 0; i < 10000 && !impl_->done.load(); ++i) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

int MetricsHttpServer::port() const { return impl_->port; }

std::string MetricsHttpServer::url() const {
  return "http://" + impl_->host + ":" + std::to_string(impl_->port) + "/metrics";
}

}  // namespace drone::metrics
