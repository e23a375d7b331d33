#include "drivers/redis/redis_client.h"

#include <sys/time.h>

#include <algorithm>
#include <charconv>

namespace drone::drivers::redis {
namespace {

timeval ToTimeval(int64_t ns) {
  ns = std::max<int64_t>(ns, 1'000'000);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  tv.tv_usec = static_cast<suseconds_t>((ns % 1'000'000'000) / 1000);
  return tv;
}

}  // namespace

Result<HostPort> ParseHostPort(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return InvalidArgument("expected host:port, got '" + std::string(text) + "'");
  }
  int port = 0;
  std::string_view digits = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || port <= 0 || port > 65535) {
    return InvalidArgument("bad port in '" + std::string(text) + "'");
  }
  return HostPort{std::string(text.substr(0, colon)), port};
}

Result<std::vector<HostPort>> ParseHostPorts(std::string_view text) {
  std::vector<HostPort> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) {
      ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(text.substr(start, end - start)));
      out.push_back(std::move(hp));
    }
    start = end + 1;
  }
  if (out.empty()) return InvalidArgument("no address in '" + std::string(text) + "'");
  return out;
}

Result<Context> Connect(const HostPort& address, int64_t timeout_ns) {
  Context c(redisConnectWithTimeout(address.host.c_str(), address.port, ToTimeval(timeout_ns)));
  if (!c) return Unavailable("redis " + address.ToString() + ": out of memory");
  if (c->err != 0) return Unavailable("redis " + address.ToString() + ": " + c->errstr);
  if (redisSetTimeout(c.get(), ToTimeval(timeout_ns)) != REDIS_OK) {
    return Unavailable("redis " + address.ToString() + ": cannot set the timeout");
  }
  return c;
}

Result<Reply> Command(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  void* raw = redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data());
  if (raw == nullptr) return Unavailable(std::string("redis: ") + (c->err != 0 ? c->errstr : "no reply"));
  return Reply(static_cast<redisReply*>(raw));
}

Result<HostPort> AskSentinel(const HostPort& sentinel, const std::string& master, int64_t timeout_ns) {
  ASSIGN_OR_RETURN(Context c, Connect(sentinel, timeout_ns));
  ASSIGN_OR_RETURN(Reply r, Command(c.get(), {"SENTINEL", "get-master-addr-by-name", master}));
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
      r->element[1]->type != REDIS_REPLY_STRING) {
    return Unavailable("sentinel " + sentinel.ToString() + " names no primary for '" + master + "'");
  }
  return ParseHostPort(std::string(r->element[0]->str, r->element[0]->len) + ":" +
                       std::string(r->element[1]->str, r->element[1]->len));
}

Result<std::string> Role(redisContext* c) {
  ASSIGN_OR_RETURN(Reply r, Command(c, {"ROLE"}));
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->element[0]->type != REDIS_REPLY_STRING) {
    return Unavailable("unexpected ROLE reply");
  }
  return std::string(r->element[0]->str, r->element[0]->len);
}

Result<Topology> TopologyOf(const std::string& bootstrap, const std::string& master) {
  Topology t;
  ASSIGN_OR_RETURN(t.addresses, ParseHostPorts(bootstrap));
  t.master = master;
  return t;
}

Result<Context> ConnectPrimary(const Topology& topology, int64_t timeout_ns, HostPort* connected) {
  if (topology.master.empty()) {
    ASSIGN_OR_RETURN(Context c, Connect(topology.addresses.front(), timeout_ns));
    if (connected != nullptr) *connected = topology.addresses.front();
    return c;
  }
  std::string why;
  for (const HostPort& sentinel : topology.addresses) {
    Result<HostPort> primary = AskSentinel(sentinel, topology.master, timeout_ns);
    if (!primary.ok()) {
      why = primary.status().message();
      continue;
    }
    Result<Context> c = Connect(*primary, timeout_ns);
    if (!c.ok()) {
      why = c.status().message();
      continue;
    }
    Result<std::string> role = Role(c->get());
    if (role.ok() && *role == "master") {
      if (connected != nullptr) *connected = *primary;
      return std::move(*c);
    }
    why = primary->ToString() + " is not a primary (yet)";
  }
  return Unavailable("no primary found through the sentinels: " + why);
}

}  // namespace drone::drivers::redis
