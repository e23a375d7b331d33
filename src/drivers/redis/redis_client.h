// A thin layer over hiredis's synchronous context: connect with a timeout, run one command from an
// argv array with a timeout, and find the current primary through Redis Sentinel. Shared by the
// Redis driver and the local platform's Redis recipe (readiness, roles).
//
// Thread-safety: a RedisConnection is used by one thread at a time. The free functions are safe
// from any thread.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace drone::drivers::redis {

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const {
    if (c != nullptr) redisFree(c);
  }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct HostPort {
  std::string host;
  int port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// "host:port" -> HostPort; InvalidArgument when malformed.
Result<HostPort> ParseHostPort(std::string_view text);
// "h:p,h:p" -> list.
Result<std::vector<HostPort>> ParseHostPorts(std::string_view text);

// A connected blocking context whose reads and writes time out after `timeout_ns`.
Result<Context> Connect(const HostPort& address, int64_t timeout_ns);

// Runs one command; Unavailable on I/O errors (the context is then unusable), the reply otherwise
// (an error reply is a reply: check reply->type == REDIS_REPLY_ERROR).
Result<Reply> Command(redisContext* c, const std::vector<std::string>& argv);

// The primary's address as one sentinel reports it (SENTINEL get-master-addr-by-name).
Result<HostPort> AskSentinel(const HostPort& sentinel, const std::string& master, int64_t timeout_ns);

// The first ROLE element of the server ("master", "slave", "sentinel").
Result<std::string> Role(redisContext* c);

// Where clients find the cluster: a plain server, or sentinels that name the primary.
struct Topology {
  std::vector<HostPort> addresses;  // the server, or the sentinels
  std::string master;               // the sentinel master name; empty: `addresses` is the server
};

// Builds the topology from an endpoint's bootstrap and its `redis.sentinel_master` property.
Result<Topology> TopologyOf(const std::string& bootstrap, const std::string& master);

// Connects to the current primary: asks each sentinel in turn and checks with ROLE that the
// server it names really is a primary (a failover may be under way). Unavailable when none
// answers with a primary.
Result<Context> ConnectPrimary(const Topology& topology, int64_t timeout_ns, HostPort* connected = nullptr);

}  // namespace drone::drivers::redis
