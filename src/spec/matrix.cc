#include "spec/matrix.h"

namespace drone::spec {

std::vector<MatrixCombination> MatrixCombinations(const std::vector<MatrixAxis>& axes) {
  if (axes.empty()) return {};
  std::vector<MatrixCombination> out = {{}};
  for (const MatrixAxis& axis : axes) {
    std::vector<MatrixCombination> next;
    next.reserve(out.size() * axis.values.size());
    for (const MatrixCombination& partial : out) {
      for (const std::string& value : axis.values) {
        MatrixCombination c = partial;
        c[axis.param] = value;
        next.push_back(std::move(c));
      }
    }
    out = std::move(next);
  }
  return out;
}

std::string DescribeCombination(const std::vector<MatrixAxis>& axes,
                                const MatrixCombination& combination) {
  std::string out;
  for (const MatrixAxis& axis : axes) {
    auto it = combination.find(axis.param);
    if (it == combination.end()) continue;
    if (!out.empty()) out += " ";
    out += axis.param + "=" + it->second;
  }
  return out;
}

}  // namespace drone::spec
