// libFuzzer target for the flow loader and the expression functions: no input may crash, hang or
// break the loader's contract (a flow exactly when there are no diagnostics; every diagnostic
// names the file). Built only with clang; run e.g.
//   ./loader_fuzz_test -max_len=4096 -dict=... ../flows
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "spec/expression.h"
#include "spec/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const drone::spec::LoadResult r = drone::spec::LoadFlowText(text, "fuzz.yaml", {{"rate", "100"}});
  if (r.flow.has_value() == !r.errors.empty()) std::abort();
  for (const drone::spec::Diagnostic& d : r.errors) {
    if (d.loc.file != "fuzz.yaml" || d.loc.line < 0 || d.loc.column < 0) std::abort();
    (void)d.ToString();
  }
  static const nlohmann::json kContext = {
      {"params", {{"rate", 100}, {"name", "x"}}},
      {"steps", {{"c", {{"outputs", {{"nodes", {"a", "b"}}}}}}}}};
  (void)drone::spec::Interpolate(text, kContext);
  const auto pieces = drone::spec::SplitTemplate(text);
  // Splitting and finding must agree with each other on well-formed text.
  if (pieces.ok()) {
    size_t references = 0;
    for (const auto& piece : pieces.value()) {
      references += piece.kind == drone::spec::TemplatePiece::Kind::kReference ? 1 : 0;
    }
    if (drone::spec::FindReferences(text).size() != references) std::abort();
  }
  return 0;
}
