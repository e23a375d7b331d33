// Runs the loader over every tests/bad_input/*.yaml. Each file starts with one comment line per
// expected diagnostic, in order:
//   # expect: LINE:COL: FIELD: MESSAGE...
// and must produce exactly those diagnostics; each expectation is a prefix of the diagnostic as
// printed by Diagnostic::ToString() after the file name.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "spec/loader.h"

namespace drone::spec {
namespace {

std::vector<std::string> Expectations(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  const std::string prefix = "# expect: ";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) break;
    out.push_back(line.substr(prefix.size()));
  }
  return out;
}

TEST(BadInputTest, EveryFixtureProducesItsStatedDiagnostics) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(DRONE_BAD_INPUT_DIR)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << "no fixtures in " << DRONE_BAD_INPUT_DIR;
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    const std::vector<std::string> expected = Expectations(file);
    ASSERT_FALSE(expected.empty()) << "the fixture states no '# expect:' line";
    const LoadResult r = LoadFlowFile(file, {});
    EXPECT_FALSE(r.flow.has_value());
    ASSERT_EQ(r.errors.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const std::string got = r.errors[i].ToString().substr(file.size() + 1);
      EXPECT_EQ(got.substr(0, expected[i].size()), expected[i]) << "full diagnostic: " << got;
    }
  }
}

}  // namespace
}  // namespace drone::spec
