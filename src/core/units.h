// Literals for durations ("250ms", "1.5s", "2m", "1h", "100us") and sizes ("512", "1KiB", "4kb",
// "1MiB", "2MB"). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace drone {

// Accepts a non-negative decimal number followed by ns|us|ms|s|m|h. A bare number is rejected:
// a duration without a unit is ambiguous. Returns nanoseconds.
Result<int64_t> ParseDuration(std::string_view text);

// Accepts a non-negative integer optionally followed by B, KB, KiB, MB, MiB, GB, GiB (case
// insensitive; KB = 1000, KiB = 1024). Returns bytes.
Result<int64_t> ParseSize(std::string_view text);

// "1.5s", "250ms", "20us": the shortest exact-ish human form.
std::string FormatDuration(int64_t ns);

}  // namespace drone
