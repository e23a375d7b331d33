#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "core/clock.h"

namespace drone {
namespace {

// DRONE_LOG=debug|info|warn|error sets the starting level (tests and debugging); flags override.
LogLevel InitialLevel() {
  const char* env = std::getenv("DRONE_LOG");
  std::string v = env == nullptr ? "" : env;
  if (v == "debug") return LogLevel::kDebug;
  if (v == "info") return LogLevel::kInfo;
  if (v == "error") return LogLevel::kError;
  return LogLevel::kWarn;
}

std::atomic<LogLevel> g_level{InitialLevel()};

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(level); }
LogLevel GetLogLevel() { return g_level.load(); }

void Log(LogLevel level, std::string_view message) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  std::string line = FormatTimestamp(NowNs()).substr(11);
  line += " ";
  line += kNames[static_cast<int>(level)];
  line += ": ";
  line += message;
  line += '\n';
  // One write per line keeps lines from different threads whole.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace drone
