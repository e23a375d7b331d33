// `drone report RUN_ID -o FILE [--data-dir DIR]`: the self-contained HTML report
// (report/html_report.h) of a stored run. Called from main() only.
#pragma once

#include <string>

namespace drone::cli {

// Exit codes: 0 written; 2 bad input (no such run, no run store in `data_dir`, no output file
// given or it cannot be written); 3 the store failed otherwise.
int ReportCommand(const std::string& data_dir, const std::string& run_id, const std::string& output);

}  // namespace drone::cli
