#include "spec/condition.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "spec/expression.h"

namespace drone::spec {
namespace {

constexpr const char* kForms =
    "write a value, or two around one of == != < <= > >=, e.g. \"${{ params.acks }} == all\"";

// Two-character operators first, so that "<=" is not read as "<".
const std::pair<std::string_view, Condition::Op> kOperators[] = {
    {"==", Condition::Op::kEq}, {"!=", Condition::Op::kNe}, {"<=", Condition::Op::kLe},
    {">=", Condition::Op::kGe}, {"<", Condition::Op::kLt},  {">", Condition::Op::kGt}};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<std::string> Operand(std::string_view raw, std::string_view whole) {
  std::string_view t = Trim(raw);
  if (t.size() >= 2 && (t.front() == '\'' || t.front() == '"') && t.back() == t.front()) {
    return std::string(t.substr(1, t.size() - 2));
  }
  if (t.find('\'') != std::string_view::npos || t.find('"') != std::string_view::npos) {
    return InvalidArgument("condition '" + std::string(whole) +
                           "': quote a whole operand ('a b'), not part of one");
  }
  return std::string(t);
}

const char* OpText(Condition::Op op) {
  switch (op) {
    case Condition::Op::kEq: return "==";
    case Condition::Op::kNe: return "!=";
    case Condition::Op::kLt: return "<";
    case Condition::Op::kLe: return "<=";
    case Condition::Op::kGt: return ">";
    case Condition::Op::kGe: return ">=";
    case Condition::Op::kTruth: break;
  }
  return "";
}

bool AsNumber(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(*out);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

Result<Condition> ParseCondition(std::string_view text) {
  const std::string whole(Trim(text));
  if (whole.empty()) return InvalidArgument(std::string("the condition is empty; ") + kForms);
  // Operators count only outside `${{ }}` and outside quotes.
  Condition c;
  size_t op_at = std::string::npos, op_len = 0;
  char quote = 0;
  for (size_t i = 0; i < whole.size(); ++i) {
    const char ch = whole[i];
    if (quote != 0) {
      if (ch == quote) quote = 0;
      continue;
    }
    if (ch == '\'' || ch == '"') {
      quote = ch;
      continue;
    }
    if (whole.compare(i, 3, "${{") == 0) {
      const size_t close = whole.find("}}", i + 3);
      if (close == std::string::npos) break;  // SplitTemplate() reports it
      i = close + 1;
      continue;
    }
    if (ch == '=' && whole.compare(i, 2, "==") != 0) {
      return InvalidArgument("condition '" + whole + "': '=' alone is not an operator; use ==");
    }
    Condition::Op op = Condition::Op::kTruth;
    size_t len = 0;
    for (const auto& [token, candidate] : kOperators) {
      if (whole.compare(i, token.size(), token) == 0) {
        op = candidate;
        len = token.size();
        break;
      }
    }
    if (len == 0) continue;
    if (op_at != std::string::npos) {
      return InvalidArgument("condition '" + whole + "' has more than one operator; " + kForms);
    }
    op_at = i;
    op_len = len;
    c.op = op;
    i += len - 1;
  }
  if (quote != 0) return InvalidArgument("condition '" + whole + "' has an unclosed quote");
  if (op_at == std::string::npos) {
    ASSIGN_OR_RETURN(c.left, Operand(whole, whole));
    return c;
  }
  const std::string_view left = Trim(std::string_view(whole).substr(0, op_at));
  const std::string_view right = Trim(std::string_view(whole).substr(op_at + op_len));
  if (left.empty() || right.empty()) {
    return InvalidArgument("condition '" + whole + "' needs a value on both sides of '" +
                           OpText(c.op) + "'");
  }
  ASSIGN_OR_RETURN(c.left, Operand(left, whole));
  ASSIGN_OR_RETURN(c.right, Operand(right, whole));
  return c;
}

Result<ConditionResult> EvaluateCondition(const Condition& c, const nlohmann::json& context) {
  ASSIGN_OR_RETURN(std::string left, Interpolate(c.left, context));
  ConditionResult out;
  if (c.op == Condition::Op::kTruth) {
    const std::string v = Lower(left);
    out.value = !(v.empty() || v == "false" || v == "no" || v == "off" || v == "0" || v == "null");
    out.explanation = "'" + left + "' is " + (out.value ? "true" : "false");
    return out;
  }
  ASSIGN_OR_RETURN(std::string right, Interpolate(c.right, context));
  double a = 0, b = 0;
  const bool numbers = AsNumber(left, &a) && AsNumber(right, &b);
  switch (c.op) {
    case Condition::Op::kEq: out.value = numbers ? a == b : left == right; break;
    case Condition::Op::kNe: out.value = numbers ? a != b : left != right; break;
    default:
      if (!numbers) {
        return InvalidArgument("cannot order '" + left + "' " + OpText(c.op) + " '" + right +
                               "': < <= > >= compare numbers only");
      }
      out.value = c.op == Condition::Op::kLt   ? a < b
                  : c.op == Condition::Op::kLe ? a <= b
                  : c.op == Condition::Op::kGt ? a > b
                                               : a >= b;
  }
  out.explanation = "'" + left + "' " + OpText(c.op) + " '" + right + "' is " +
                    (out.value ? "true" : "false");
  return out;
}

}  // namespace drone::spec
