#include "core/run_id.h"

#include <cstdio>
#include <ctime>
#include <random>

namespace drone {

std::string NewRunId() {
  std::random_device rd;
  char buf[64];
  time_t now = time(nullptr);
  tm utc{};
  gmtime_r(&now, &utc);
  strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &utc);
  char suffix[16];
  snprintf(suffix, sizeof(suffix), "-%04x", rd() & 0xffff);
  return std::string(buf) + suffix;
}

}  // namespace drone
