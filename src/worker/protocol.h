// The control protocol between a coordinator and `drone worker` (docs/workers.md): JSON for
// assignments and status, base64 for the small binary histograms inside status, and the
// protocol version both sides check. The bulky result of a workload share (workload/part.h)
// travels as application/octet-stream, not JSON.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "drivers/driver.h"
#include "workload/part.h"
#include "workload/workload.h"

namespace drone::worker {

inline constexpr int kProtocolVersion = 1;
inline constexpr const char* kPathPrefix = "/v1";

// What a coordinator asks a worker to run: one share of one workload.
struct Assignment {
  std::string id;      // the coordinator's name for this share; [A-Za-z0-9._-], 1..64 chars
  std::string driver;  // "kafka"
  drivers::Endpoint endpoint;
  workload::WorkloadOptions options;  // with producer_ids / consumer_ids set
  int64_t lease_ns = 15'000'000'000;  // no request for this long: the worker aborts the share
};

nlohmann::json AssignmentToJson(const Assignment& a);
// InvalidArgument naming the first bad field.
Result<Assignment> AssignmentFromJson(const nlohmann::json& j);

// One status answer: the state of a share and where it stands.
struct ShareStatus {
  std::string state;  // preparing | ready | running | draining | finished | failed
  std::string error;  // when failed
  bool has_progress = false;
  workload::RunnerProgress progress;
  // Series points [first_point, first_point + points.size()) with their interval histograms.
  size_t first_point = 0;
  std::vector<workload::SeriesPoint> points;
  std::vector<workload::PartSecond> seconds;
};

nlohmann::json StatusToJson(const ShareStatus& s);
Result<ShareStatus> StatusFromJson(const nlohmann::json& j);

std::string Base64Encode(std::string_view bytes);
// InvalidArgument on anything but canonical padded base64.
Result<std::string> Base64Decode(std::string_view text);

bool ValidShareId(std::string_view id);

}  // namespace drone::worker
