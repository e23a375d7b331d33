// `drone run` and `drone validate` for a flow with a `matrix:`: every combination of the matrix's
// parameter values is loaded (and validated) as if run with `-p`, then run one after another, each
// a full run stored with the matrix's shared id; a comparison table (and, with --json, a JSON
// document) sums them up. docs/flows.md (matrix) and docs/results.md describe the output.
// Called from main()'s thread only.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "spec/flow_spec.h"

namespace drone::cli {

// Runs every combination of `flow.matrix` (`flow` loaded with flags.params). Exit code: the worst
// of the runs (2 > 3 > 1 > 4 > 0); 2 with nothing started when a combination does not validate.
// SIGINT/SIGTERM stop the current run with full teardown and skip the rest (exit 3).
int MatrixRunCommand(const RunFlags& flags, const spec::FlowSpec& flow);

// Loads (and preflights) every combination of `flow.matrix`, the flow at `path` with `params` plus
// the combination's values; prints the problems of those that do not validate and returns false
// when there was one. Fills `combinations` with one {params, valid} per combination and, when
// given, `flows` with the loaded flow of each (in order; complete only when it returns true).
bool ValidateMatrix(const std::string& path, const std::map<std::string, std::string>& params,
                    const spec::FlowSpec& flow, nlohmann::json* combinations,
                    std::vector<spec::FlowSpec>* flows = nullptr);

// The worse of two exit codes, for a matrix's overall result.
int WorseExitCode(int a, int b);

// The comparison table of a `{"matrix": [...]}` document, one row per combination.
std::string MatrixTable(const nlohmann::json& document);

}  // namespace drone::cli
