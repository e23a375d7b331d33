#include "cli/stored_run.h"

#include <fstream>
#include <sstream>

namespace drone::cli {

store::RunExtras RunExtrasOf(const flow::RunContext& run, std::string flow_text) {
  store::RunExtras extras;
  extras.flow_text = std::move(flow_text);
  for (const auto& [id, record] : run.Workloads()) {
    const workload::WorkloadResult& r = record.result;
    const metrics::Histogram* histograms[] = {&r.publish, &r.end_to_end, &r.service, &r.send_delay};
    for (size_t i = 0; i < std::size(histograms); ++i) {
      extras.histograms.push_back(
          {id, kStoredMeasurements[i], histograms[i]->TotalCount(), histograms[i]->Serialize()});
    }
  }
  return extras;
}

std::string ReadFlowText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string();
  std::ostringstream text;
  text << in.rdbuf();
  return in.bad() ? std::string() : text.str();
}

}  // namespace drone::cli
