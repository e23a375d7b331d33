// A flow's matrix expanded into its combinations: one map of parameter values per run, the
// cartesian product of the axes in file order (the first axis varies slowest). Each combination
// is given to the loader as parameter overrides, so every run is loaded and validated like a
// flow run with `-p`. Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "spec/flow_spec.h"

namespace drone::spec {

using MatrixCombination = std::map<std::string, std::string>;

// Every combination of `axes`; empty when there are no axes.
std::vector<MatrixCombination> MatrixCombinations(const std::vector<MatrixAxis>& axes);

// "size=100 acks=all", in the axes' order.
std::string DescribeCombination(const std::vector<MatrixAxis>& axes,
                                const MatrixCombination& combination);

}  // namespace drone::spec
