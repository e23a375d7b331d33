// `${{ path }}` expressions in flow text. The loader substitutes `${{ params.NAME }}` when the flow
// is loaded; the flow engine calls Interpolate() when a step starts to fill in
// `${{ steps.ID.outputs.NAME }}` from the outputs of finished steps.
//
// A path is a dotted list of names with optional list indices: `params.rate`,
// `steps.cluster.outputs.nodes[1]`. Names are [A-Za-z_][A-Za-z0-9_-]*; blanks around the path
// inside `${{ }}` are ignored. Text outside `${{ ... }}` (including a lone `$` or `${`) is literal.
//
// Pure functions over their arguments; safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace drone::spec {

// One piece of a template string: literal text or a `${{ path }}` reference.
struct TemplatePiece {
  enum class Kind { kLiteral, kReference };
  Kind kind = Kind::kLiteral;
  std::string text;   // kLiteral: the text itself; kReference: the path, blanks trimmed
  size_t offset = 0;  // byte offset of the piece in the template (of "${{" for a reference)
  size_t length = 0;  // bytes of the template the piece spans ("${{ ... }}" for a reference)
};

// Splits `text` into literal and reference pieces, in order. Adjacent literal text is one piece.
// InvalidArgument when a `${{` has no closing `}}` or the path inside is malformed.
Result<std::vector<TemplatePiece>> SplitTemplate(std::string_view text);

// One element of a path: a name (`outputs`) or a list index (`[1]`).
using PathElement = std::variant<std::string, size_t>;

// Parses "steps.cluster.outputs.nodes[1]" into {"steps", "cluster", "outputs", "nodes", 1}.
// The path must start with a name. InvalidArgument when malformed.
Result<std::vector<PathElement>> ParsePath(std::string_view path);

// Replaces every `${{ path }}` in `text` by the value at `path` in `context`, an object such as
// {"params": {...}, "steps": {"cluster": {"outputs": {...}}}}. Strings are inserted as they are;
// every other value (number, bool, null, list, object) in its compact JSON form.
// NotFound (naming the path) when a path does not resolve; InvalidArgument when malformed.
Result<std::string> Interpolate(std::string_view text, const nlohmann::json& context);

// The paths of all well-formed references in `text`, in order ("params.rate", ...). Malformed
// expressions are skipped; use SplitTemplate() to report them.
std::vector<std::string> FindReferences(std::string_view text);

}  // namespace drone::spec
