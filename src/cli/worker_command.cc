#include "cli/worker_command.h"

#include <httplib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cli/signals.h"
#include "core/clock.h"
#include "worker/worker_server.h"

namespace drone::cli {
namespace {

constexpr int kExitBadInput = 2;
constexpr int kExitIncomplete = 3;

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// "HOST:PORT" -> host, port; false when malformed.
bool SplitHostPort(const std::string& text, std::string* host, int* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  char* end = nullptr;
  const long p = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p < 0 || p > 65535) return false;
  *port = static_cast<int>(p);
  return true;
}

std::string Trim(std::string s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::string TokenOr(std::string token) {
  if (!token.empty()) return token;
  const char* env = std::getenv("DRONE_WORKER_TOKEN");
  return env == nullptr ? "" : env;
}

}  // namespace

int WorkerCommand(const WorkerFlags& flags) {
  worker::WorkerServerOptions options;
  if (!SplitHostPort(flags.listen, &options.host, &options.port)) {
    std::cerr << "drone worker: --listen expects HOST:PORT (e.g. 127.0.0.1:7700), got '" << flags.listen
              << "'\n";
    return kExitBadInput;
  }
  options.token = TokenOr(flags.token);
  if (!IsLoopback(options.host) && options.token.empty()) {
    std::cerr << "drone worker: " << flags.listen
              << " is not a loopback address: anyone who reaches it could drive load from this host.\n"
                 "  Give a token with --token T or $DRONE_WORKER_TOKEN (coordinators send it as\n"
                 "  'Authorization: Bearer T'), or listen on 127.0.0.1.\n";
    return kExitBadInput;
  }
  if (flags.max_shares < 1 || flags.max_shares > 64) {
    std::cerr << "drone worker: --max-shares must be within 1..64\n";
    return kExitBadInput;
  }
  options.max_shares = flags.max_shares;
  CancelToken cancel;
  SignalWatcher signals(cancel);
  Result<std::unique_ptr<worker::WorkerServer>> server = worker::WorkerServer::Start(options);
  if (!server.ok()) {
    std::cerr << "drone worker: " << server.status().message() << "\n";
    return kExitIncomplete;
  }
  if (!flags.port_file.empty()) {
    // Written under another name and renamed, so a reader never sees half a port.
    const std::string tmp = flags.port_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << (*server)->port() << "\n";
      if (!out) {
        std::cerr << "drone worker: cannot write " << tmp << "\n";
        return kExitBadInput;
      }
    }
    if (std::rename(tmp.c_str(), flags.port_file.c_str()) != 0) {
      std::cerr << "drone worker: cannot write " << flags.port_file << "\n";
      return kExitBadInput;
    }
  }
  // The first stdout line is the address: scripts read it.
  std::cout << (*server)->url() << std::endl;
  std::cerr << "drone worker: serving on " << (*server)->url()
            << (options.token.empty() ? "" : " (token required)") << "; Ctrl-C (or SIGTERM) stops it\n";
  while (!cancel.WaitFor(3600 * kNsPerSec)) {
  }
  server->reset();  // aborts what still runs, joins
  return 0;
}

Result<RunWorkers> StartRunWorkers(int count, const std::string& urls, std::string token,
                                   journal::Journal* journal) {
  RunWorkers out;
  if (count > 0 && !urls.empty()) return InvalidArgument("--workers and --workers-at exclude each other");
  if (count > 0) {
    Result<std::unique_ptr<worker::LocalWorkerPool>> pool =
        worker::LocalWorkerPool::Start(count, 15 * kNsPerSec, "", journal);
    if (!pool.ok()) return pool.status();
    out.addresses = (*pool)->addresses();
    out.pool = std::move(*pool);
    return out;
  }
  token = TokenOr(std::move(token));
  size_t begin = 0;
  while (begin <= urls.size()) {
    size_t comma = urls.find(',', begin);
    if (comma == std::string::npos) comma = urls.size();
    std::string url = Trim(urls.substr(begin, comma - begin));
    begin = comma + 1;
    if (url.empty()) continue;
    if (url.rfind("http://", 0) != 0) url = "http://" + url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    std::string host;
    int port = 0;
    if (!SplitHostPort(url.substr(7), &host, &port) || port == 0) {
      return InvalidArgument("--workers-at: '" + url + "' is not http://HOST:PORT");
    }
    httplib::Client client(url);
    client.set_connection_timeout(std::chrono::seconds(3));
    client.set_read_timeout(std::chrono::seconds(5));
    if (!token.empty()) client.set_default_headers({{"Authorization", "Bearer " + token}});
    httplib::Result health = client.Get("/v1/health");
    if (!health) {
      return InvalidArgument("--workers-at: no worker answers at " + url + " (" +
                             httplib::to_string(health.error()) + ")");
    }
    if (health->status == 401) {
      return InvalidArgument("--workers-at: " + url +
                             " wants a token: give --worker-token T or $DRONE_WORKER_TOKEN");
    }
    if (health->status != 200 || health->body.find("\"drone_worker\":true") == std::string::npos) {
      return InvalidArgument("--workers-at: " + url + " is not a drone worker (HTTP " +
                             std::to_string(health->status) + ")");
    }
    out.addresses.push_back({url, token});
  }
  if (out.addresses.empty()) return InvalidArgument("--workers-at: no worker address given");
  return out;
}

}  // namespace drone::cli
