#include "core/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/clock.h"

namespace drone {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Splits "12.5ms" into the number 12.5 and the unit "ms".
bool SplitNumber(std::string_view text, double* number, std::string* unit, bool allow_fraction) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) ||
                             (allow_fraction && text[i] == '.'))) {
    ++i;
  }
  if (i == 0) return false;
  std::string digits(text.substr(0, i));
  if (digits.front() == '.' || digits.back() == '.' ||
      digits.find('.') != digits.rfind('.')) {
    return false;
  }
  char* end = nullptr;
  *number = std::strtod(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size()) return false;
  std::string_view rest = text.substr(i);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  *unit = Lower(rest);
  return std::isfinite(*number);
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  double number = 0;
  std::string unit;
  if (!SplitNumber(text, &number, &unit, true)) {
    return InvalidArgument("'" + std::string(text) +
                           "' is not a duration; write a number and a unit, e.g. 250ms, 10s, 2m");
  }
  double scale = 0;
  if (unit == "ns") scale = 1;
  else if (unit == "us" || unit == "µs") scale = kNsPerUs;
  else if (unit == "ms") scale = kNsPerMs;
  else if (unit == "s") scale = kNsPerSec;
  else if (unit == "m") scale = 60.0 * kNsPerSec;
  else if (unit == "h") scale = 3600.0 * kNsPerSec;
  else if (unit.empty())
    return InvalidArgument("duration '" + std::string(text) +
                           "' has no unit; add one of ns, us, ms, s, m, h (e.g. " +
                           std::string(text) + "s)");
  else
    return InvalidArgument("duration '" + std::string(text) + "' has unknown unit '" + unit +
                           "'; use ns, us, ms, s, m or h");
  double ns = number * scale;
  if (ns > 9.0e18) return InvalidArgument("duration '" + std::string(text) + "' is too long");
  return static_cast<int64_t>(std::llround(ns));
}

Result<int64_t> ParseSize(std::string_view text) {
  double number = 0;
  std::string unit;
  if (!SplitNumber(text, &number, &unit, false)) {
    return InvalidArgument("'" + std::string(text) +
                           "' is not a size; write bytes, optionally with a unit: 512, 4KiB, 1MB");
  }
  double scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "kb") scale = 1e3;
  else if (unit == "kib") scale = 1024;
  else if (unit == "mb") scale = 1e6;
  else if (unit == "mib") scale = 1024.0 * 1024;
  else if (unit == "gb") scale = 1e9;
  else if (unit == "gib") scale = 1024.0 * 1024 * 1024;
  else
    return InvalidArgument("size '" + std::string(text) + "' has unknown unit '" + unit +
                           "'; use B, KB, KiB, MB, MiB, GB or GiB");
  double bytes = number * scale;
  if (bytes > 9.0e18) return InvalidArgument("size '" + std::string(text) + "' is too large");
  return static_cast<int64_t>(bytes);
}

std::string FormatDuration(int64_t ns) {
  char buf[32];
  if (ns % kNsPerSec == 0 && ns != 0) {
    snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(ns / kNsPerSec));
  } else if (ns >= kNsPerSec) {
    snprintf(buf, sizeof(buf), "%.3gs", static_cast<double>(ns) / kNsPerSec);
  } else if (ns >= kNsPerMs) {
    snprintf(buf, sizeof(buf), "%.3gms", static_cast<double>(ns) / kNsPerMs);
  } else if (ns >= kNsPerUs) {
    snprintf(buf, sizeof(buf), "%.3gus", static_cast<double>(ns) / kNsPerUs);
  } else {
    snprintf(buf, sizeof(buf), "%lldns", static_cast<long long>(ns));
  }
  return buf;
}

}  // namespace drone
