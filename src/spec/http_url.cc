#include "spec/http_url.h"

#include <algorithm>
#include <charconv>

namespace drone::spec {

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  const std::string shown = "'" + std::string(url) + "'";
  if (url.starts_with("https://")) {
    return InvalidArgument(shown + ": https is not supported; the http step speaks plain HTTP "
                                   "(http://)");
  }
  if (!url.starts_with("http://")) {
    return InvalidArgument(shown + " is not an http:// URL");
  }
  std::string_view rest = url.substr(7);
  const size_t slash = std::min(rest.find('/'), rest.find('?'));
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  if (slash != std::string_view::npos) {
    out.target = std::string(rest.substr(slash));
    if (out.target[0] == '?') out.target = "/" + out.target;
  }
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgument(shown + ": credentials in the URL are not supported; send an "
                                   "Authorization header instead");
  }
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument(shown + ": unclosed '[' in the host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return InvalidArgument(shown + ": unexpected text after the host");
      port_text = after.substr(1);
      if (port_text.empty()) return InvalidArgument(shown + ": empty port");
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return InvalidArgument(shown + ": empty port");
    }
  }
  if (out.host.empty()) return InvalidArgument(shown + " has no host");
  if (!port_text.empty()) {
    int port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      return InvalidArgument(shown + ": the port must be a number from 1 to 65535");
    }
    out.port = port;
  }
  if (out.target.find_first_of(" \r\n\t") != std::string::npos) {
    return InvalidArgument(shown + ": the path contains blanks; encode them as %20");
  }
  return out;
}

}  // namespace drone::spec
