// `drone runs`: the stored runs of the run store (store/run_store.h, docs/store.md).
//   drone runs list [--flow F] [--verdict V] [--matrix ID] [--limit N] [--json]
//   drone runs show RUN_ID [--json]
//   drone runs rm RUN_ID...
// Called from main() only; prints to stdout, errors to stderr.
#pragma once

#include <string>
#include <vector>

namespace drone::cli {

// The default --data-dir: `$XDG_DATA_HOME/drone`, else `$HOME/.local/share/drone` (HOME falling
// back to the user's home directory from the password database); empty when none is known.
std::string DefaultDataDir();

// `action` is "list", "show" or "rm"; `ids` the run ids after it. `flow_filter`,
// `verdict_filter` and `matrix_filter` (empty: any) and `limit` (<= 0: all) apply to list. `json` prints JSON: for
// list an array of run summaries, for show the stored result exactly as `drone run --json` wrote
// it. Reading actions never create the data directory. Exit codes: 0 ok; 2 bad input (unknown
// action or run id, wrong number of ids, unusable --data-dir); 3 the store failed otherwise.
int RunsCommand(const std::string& data_dir, const std::string& action,
                const std::vector<std::string>& ids, bool json, const std::string& flow_filter,
                const std::string& verdict_filter, int limit,
                const std::string& matrix_filter = "");

}  // namespace drone::cli
