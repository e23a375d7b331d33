#include "spec/matrix.h"

#include <gtest/gtest.h>

#include "spec/loader.h"

namespace drone::spec {
namespace {

constexpr const char* kFlow = R"(name: m
params: { size: 512, acks: all, rate: 100 }
matrix: { size: [100, 1000, 4KiB], acks: ["1", all] }
steps:
  s: { kind: sleep, with: { duration: 1ms } }
)";

LoadResult Load(const std::string& text, const std::map<std::string, std::string>& p = {}) {
  return LoadFlowText(text, "f.yaml", p);
}

std::string Errors(const LoadResult& r) {
  std::string out;
  for (const Diagnostic& d : r.errors) out += d.ToString() + "\n";
  return out;
}

TEST(MatrixTest, CombinationsAreTheCartesianProductFirstAxisSlowest) {
  const std::vector<MatrixAxis> axes = {{"size", {"100", "1000"}}, {"acks", {"1", "all", "0"}}};
  const std::vector<MatrixCombination> got = MatrixCombinations(axes);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0], (MatrixCombination{{"size", "100"}, {"acks", "1"}}));
  EXPECT_EQ(got[2], (MatrixCombination{{"size", "100"}, {"acks", "0"}}));
  EXPECT_EQ(got[3], (MatrixCombination{{"size", "1000"}, {"acks", "1"}}));
  EXPECT_EQ(got[5], (MatrixCombination{{"size", "1000"}, {"acks", "0"}}));
  EXPECT_EQ(DescribeCombination(axes, got[4]), "size=1000 acks=all");
  EXPECT_TRUE(MatrixCombinations({}).empty());
}

TEST(MatrixTest, LoaderReadsTheMatrixInFileOrder) {
  const LoadResult r = Load(kFlow);
  ASSERT_TRUE(r.flow) << Errors(r);
  ASSERT_EQ(r.flow->matrix.size(), 2u);
  EXPECT_EQ(r.flow->matrix[0].param, "size");
  EXPECT_EQ(r.flow->matrix[0].values, (std::vector<std::string>{"100", "1000", "4KiB"}));
  EXPECT_EQ(r.flow->matrix[1].param, "acks");
  EXPECT_EQ(r.flow->matrix[1].values, (std::vector<std::string>{"1", "all"}));
  EXPECT_EQ(MatrixCombinations(r.flow->matrix).size(), 6u);
}

TEST(MatrixTest, AParameterFixedWithDashPKeepsOneValue) {
  const LoadResult r = Load(kFlow, {{"acks", "0"}});
  ASSERT_TRUE(r.flow) << Errors(r);
  EXPECT_EQ(r.flow->matrix[1].values, (std::vector<std::string>{"0"}));
  const std::vector<MatrixCombination> got = MatrixCombinations(r.flow->matrix);
  ASSERT_EQ(got.size(), 3u);
  for (const MatrixCombination& c : got) EXPECT_EQ(c.at("acks"), "0");
}

TEST(MatrixTest, BadMatricesAreReportedWithTheirPlace) {
  const std::string head = "name: m\nparams: { size: 512 }\n";
  const std::string tail = "steps:\n  s: { kind: sleep, with: { duration: 1ms } }\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"matrix: { sise: [1, 2] }\n", "matrix key 'sise' is not a declared parameter"},
      {"matrix: { size: [] }\n", "expected a non-empty list of values, got an empty list"},
      {"matrix: { size: 100 }\n", "expected a non-empty list of values, got a value"},
      {"matrix: { size: [100, 100] }\n", "value '100' is listed twice"},
      {"matrix: { size: [100, ~] }\n", "expected a value"},
      {"matrix: { size: [\"${{ params.size }}\"] }\n", "cannot contain expressions"},
      {"matrix: {}\n", "the matrix is empty"},
  };
  for (const auto& [matrix, message] : cases) {
    const LoadResult r = Load(head + matrix + tail);
    ASSERT_EQ(r.errors.size(), 1u) << matrix << Errors(r);
    EXPECT_NE(r.errors[0].message.find(message), std::string::npos) << Errors(r);
    EXPECT_EQ(r.errors[0].loc.line, 3) << Errors(r);
  }
}

}  // namespace
}  // namespace drone::spec
