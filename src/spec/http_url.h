// http:// URLs as the `http` step kind takes them: http://HOST[:PORT][/PATH][?QUERY]. HOST is a
// name, an IPv4 address or a bracketed IPv6 address; PORT defaults to 80; an empty path is "/".
// https is refused with a clear message (the step speaks plain HTTP only). Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace drone::spec {

struct HttpUrl {
  std::string host;  // without brackets
  int port = 80;
  std::string target = "/";  // path and query, as sent in the request line
};

// InvalidArgument, saying what is wrong, for anything else.
Result<HttpUrl> ParseHttpUrl(std::string_view url);

inline Status CheckHttpUrl(std::string_view url) { return ParseHttpUrl(url).status(); }

}  // namespace drone::spec
