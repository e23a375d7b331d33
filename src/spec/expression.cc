#include "spec/expression.h"

#include <utility>

namespace drone::spec {
namespace {

constexpr std::string_view kOpen = "${{";
constexpr std::string_view kClose = "}}";

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9') || c == '-'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

Status BadPath(std::string_view path, const std::string& why) {
  return InvalidArgument("malformed expression '${{ " + std::string(path) + " }}': " + why);
}

void AppendLiteral(std::vector<TemplatePiece>& pieces, std::string_view text, size_t offset) {
  if (text.empty()) return;
  if (!pieces.empty() && pieces.back().kind == TemplatePiece::Kind::kLiteral) {
    pieces.back().text.append(text);
    pieces.back().length += text.size();
    return;
  }
  pieces.push_back({TemplatePiece::Kind::kLiteral, std::string(text), offset, text.size()});
}

// Renders a path prefix for error messages: elements [0, n).
std::string PathPrefix(const std::vector<PathElement>& path, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (const auto* name = std::get_if<std::string>(&path[i])) {
      if (i > 0) out += '.';
      out += *name;
    } else {
      out += "[" + std::to_string(std::get<size_t>(path[i])) + "]";
    }
  }
  return out;
}

Result<const nlohmann::json*> Lookup(std::string_view path_text, const nlohmann::json& context) {
  ASSIGN_OR_RETURN(std::vector<PathElement> path, ParsePath(path_text));
  const nlohmann::json* node = &context;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string where = i == 0 ? "the context" : "'" + PathPrefix(path, i) + "'";
    if (const auto* name = std::get_if<std::string>(&path[i])) {
      if (!node->is_object() || !node->contains(*name)) {
        return NotFound("'" + std::string(path_text) + "' not found: " + where + " has no field '" +
                        *name + "'");
      }
      node = &(*node)[*name];
    } else {
      const size_t index = std::get<size_t>(path[i]);
      if (!node->is_array()) {
        return NotFound("'" + std::string(path_text) + "' not found: " + where + " is not a list");
      }
      if (index >= node->size()) {
        return NotFound("'" + std::string(path_text) + "' not found: " + where + " has " +
                        std::to_string(node->size()) + " elements, index " + std::to_string(index) +
                        " is out of range");
      }
      node = &(*node)[index];
    }
  }
  return node;
}

}  // namespace

Result<std::vector<PathElement>> ParsePath(std::string_view path) {
  std::vector<PathElement> out;
  if (path.empty()) return BadPath(path, "the path is empty");
  size_t i = 0;
  bool expect_name = true;  // at the start and after '.'
  while (i < path.size()) {
    const char c = path[i];
    if (expect_name) {
      if (!IsNameStart(c)) {
        return BadPath(path, "expected a name at '" + std::string(path.substr(i)) + "'");
      }
      const size_t start = i;
      while (i < path.size() && IsNameChar(path[i])) ++i;
      out.emplace_back(std::string(path.substr(start, i - start)));
      expect_name = false;
    } else if (c == '.') {
      ++i;
      expect_name = true;
    } else if (c == '[') {
      const size_t start = ++i;
      while (i < path.size() && IsDigit(path[i])) ++i;
      if (i == start || i >= path.size() || path[i] != ']') {
        return BadPath(path, "a list index is written [N] with a non-negative integer N");
      }
      if (i - start > 9) return BadPath(path, "list index is too large");
      out.emplace_back(
          static_cast<size_t>(std::stoull(std::string(path.substr(start, i - start)))));
      ++i;
    } else {
      return BadPath(path, "unexpected '" + std::string(1, c) + "'");
    }
  }
  if (expect_name) return BadPath(path, "the path ends with '.'");
  return out;
}

Result<std::vector<TemplatePiece>> SplitTemplate(std::string_view text) {
  std::vector<TemplatePiece> pieces;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find(kOpen, pos);
    if (open == std::string_view::npos) {
      AppendLiteral(pieces, text.substr(pos), pos);
      break;
    }
    AppendLiteral(pieces, text.substr(pos, open - pos), pos);
    const size_t body = open + kOpen.size();
    const size_t close = text.find(kClose, body);
    if (close == std::string_view::npos) {
      return InvalidArgument("expression '" + std::string(text.substr(open)) +
                             "' is not closed; write ${{ path }}");
    }
    const std::string_view path = Trim(text.substr(body, close - body));
    if (path.find(kOpen) != std::string_view::npos) {
      return InvalidArgument("expressions cannot be nested: '" +
                             std::string(text.substr(open, close + kClose.size() - open)) + "'");
    }
    RETURN_IF_ERROR(ParsePath(path).status());
    pieces.push_back(
        {TemplatePiece::Kind::kReference, std::string(path), open, close + kClose.size() - open});
    pos = close + kClose.size();
  }
  return pieces;
}

Result<std::string> Interpolate(std::string_view text, const nlohmann::json& context) {
  ASSIGN_OR_RETURN(std::vector<TemplatePiece> pieces, SplitTemplate(text));
  std::string out;
  for (const TemplatePiece& piece : pieces) {
    if (piece.kind == TemplatePiece::Kind::kLiteral) {
      out += piece.text;
      continue;
    }
    ASSIGN_OR_RETURN(const nlohmann::json* value, Lookup(piece.text, context));
    if (value->is_string()) {
      out += value->get<std::string>();
    } else {
      out += value->dump();
    }
  }
  return out;
}

std::vector<std::string> FindReferences(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find(kOpen, pos);
    if (open == std::string_view::npos) break;
    const size_t body = open + kOpen.size();
    const size_t close = text.find(kClose, body);
    if (close == std::string_view::npos) break;
    const std::string_view path = Trim(text.substr(body, close - body));
    if (ParsePath(path).ok()) out.emplace_back(path);
    pos = close + kClose.size();
  }
  return out;
}

}  // namespace drone::spec
