// Loading a flow file: YAML -> FlowSpec (spec/flow_spec.h), with every problem reported as a
// Diagnostic that names file:line:col and the dotted field path. The loader does not stop at the
// first problem: one run reports all it can find, so a user fixes a file in one pass.
//
// What the loader does, in order:
//   1. parses YAML (a syntax error is the only diagnostic then);
//   2. reads `params` and applies the overrides (-p NAME=VALUE); FlowSpec::params gets the result;
//      then `matrix` (FlowSpec::matrix; an axis whose parameter is overridden keeps that value);
//   3. substitutes `${{ params.NAME }}` in every scalar before converting it to its type; when a
//      scalar is exactly one such expression, the value is read as if written there unquoted
//      (so "${{ params.rate }}" with rate 5000 is the integer 5000);
//   4. checks keys, types, ranges, `needs` (unknown steps, cycles), references between steps
//      (cluster, workload) and `${{ steps.ID.outputs.NAME }}` references, which are allowed only
//      in topic name, workload topic, fault target and cluster bootstrap, and only to ancestors;
//      they are left in the text for the engine (Interpolate() in spec/expression.h);
//   5. fills in omitted cluster/workload references and an omitted workload topic when the flow
//      has exactly one candidate step (a check in a flow without workloads keeps an empty
//      workload), and an omitted topic replication as min(3, nodes of the cluster); whether a
//      broker or platform name is built in is left to the registries (flow/preflight.cc);
//   6. orders steps (and, separately, finally steps) topologically, file order among ready steps.
//
// Free functions without shared state; safe to call from several threads at once.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec/flow_spec.h"

namespace drone::spec {

struct LoadResult {
  std::optional<FlowSpec> flow;    // set exactly when `errors` is empty
  std::vector<Diagnostic> errors;  // ordered by position in the file
};

// Reads and loads the flow at `path`. A file that cannot be read is one diagnostic without a line.
// `param_overrides` replace the defaults declared under `params:`; naming a parameter the flow
// does not declare is a diagnostic.
LoadResult LoadFlowFile(const std::string& path,
                        const std::map<std::string, std::string>& param_overrides);

// As LoadFlowFile, for text already in memory; `file_name` is used in diagnostics and
// FlowSpec::file.
LoadResult LoadFlowText(std::string_view text, const std::string& file_name,
                        const std::map<std::string, std::string>& param_overrides);

}  // namespace drone::spec
