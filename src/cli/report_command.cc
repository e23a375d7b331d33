#include "cli/report_command.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "report/html_report.h"
#include "store/run_store.h"

namespace drone::cli {
namespace {

constexpr int kExitBadInput = 2;
constexpr int kExitIncomplete = 3;

}  // namespace

int ReportCommand(const std::string& data_dir, const std::string& run_id, const std::string& output) {
  // Reading must not create a data directory as a side effect, so look before opening.
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / store::kDatabaseFileName, ec)) {
    std::cerr << "drone report: no run '" << run_id << "': no runs are stored in " << data_dir
              << " yet (is --data-dir right?)\n";
    return kExitBadInput;
  }
  Result<std::unique_ptr<store::RunStore>> opened = store::RunStore::Open(data_dir);
  if (!opened.ok()) {
    std::cerr << "drone report: " << opened.status().message() << "\n";
    return kExitIncomplete;
  }
  Result<nlohmann::json> result = (*opened)->GetResult(run_id);
  if (!result.ok()) {
    std::cerr << "drone report: " << result.status().message() << "\n";
    return result.status().code() == StatusCode::kNotFound ? kExitBadInput : kExitIncomplete;
  }
  const std::string html = report::HtmlReport(*result);
  // Written next to the target and renamed, so that a failed write leaves no half report.
  const std::string tmp = output + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    out << html;
    out.close();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      std::cerr << "drone report: cannot write " << output << " (-o): check the directory exists and is writable\n";
      return kExitBadInput;
    }
  }
  std::filesystem::rename(tmp, output, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    std::cerr << "drone report: cannot write " << output << " (-o)\n";
    return kExitBadInput;
  }
  std::cerr << "drone report: wrote " << output << " (" << html.size() / 1024 + 1 << " KiB)\n";
  return 0;
}

}  // namespace drone::cli
