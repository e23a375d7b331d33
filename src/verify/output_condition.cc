#include "verify/output_condition.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

namespace drone::verify {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view LastName(std::string_view field) {
  const size_t dot = field.rfind('.');
  return dot == std::string_view::npos ? field : field.substr(dot + 1);
}

std::optional<double> AsNumber(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (!value.is_string()) return std::nullopt;
  const std::string text(Trim(value.get<std::string>()));
  if (text.empty()) return std::nullopt;
  double number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(number)) {
    return std::nullopt;
  }
  return number;
}

bool Compare(double observed, CompareOp op, double limit) {
  switch (op) {
    case CompareOp::kEq: return observed == limit;
    case CompareOp::kNe: return observed != limit;
    case CompareOp::kLt: return observed < limit;
    case CompareOp::kLe: return observed <= limit;
    case CompareOp::kGt: return observed > limit;
    case CompareOp::kGe: return observed >= limit;
  }
  return false;
}

std::string Shown(const nlohmann::json& value) {
  std::string text = value.is_string() ? "'" + value.get<std::string>() + "'" : value.dump();
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  return text;
}

}  // namespace

std::string OutputCondition::ToString() const {
  if (!is_text) return numeric.ToString();
  return std::string(CompareOpSymbol(text_op)) + " " + text;
}

Result<OutputCondition> ParseOutputCondition(std::string_view text) {
  OutputCondition c;
  Result<Condition> numeric = ParseCondition(text);
  if (numeric.ok()) {
    c.numeric = *numeric;
    return c;
  }
  const std::string_view t = Trim(text);
  const bool eq = t.starts_with("==");
  if (!eq && !t.starts_with("!=")) return numeric.status();
  std::string_view operand = Trim(t.substr(2));
  if (operand.size() >= 2 && (operand.front() == '"' || operand.front() == '\'') &&
      operand.back() == operand.front()) {
    operand = operand.substr(1, operand.size() - 2);
  }
  if (operand.empty()) {
    return InvalidArgument("condition '" + std::string(t) + "' has no value after '" +
                           std::string(t.substr(0, 2)) + "'");
  }
  c.is_text = true;
  c.text_op = eq ? CompareOp::kEq : CompareOp::kNe;
  c.text = std::string(operand);
  return c;
}

CheckOutcome EvaluateOutput(const nlohmann::json* value, std::string_view field,
                            const OutputCondition& condition) {
  CheckOutcome out;
  out.expect = std::string(field) + " " + condition.ToString();
  if (value == nullptr) {
    out.message = std::string(field) + " is not set (yet)";
    return out;
  }
  out.observed = *value;
  if (condition.is_text) {
    const std::string observed = value->is_string() ? value->get<std::string>() : value->dump();
    out.passed = (observed == condition.text) == (condition.text_op == CompareOp::kEq);
    out.message = std::string(field) + " is " + Shown(*value) + ", expected " +
                  condition.ToString();
    return out;
  }
  const std::optional<double> number = AsNumber(*value);
  if (!number) {
    out.message = std::string(field) + " is " + Shown(*value) + ", not a number";
    return out;
  }
  double limit = condition.numeric.value;
  if (condition.numeric.is_duration) {
    const std::string_view name = LastName(field);
    if (name.ends_with("_ms")) {
      limit /= 1e6;
    } else if (name.ends_with("_s")) {
      limit /= 1e9;
    } else {
      out.message = std::string(field) +
                    " is not a time (its name ends neither in _ms nor in _s); compare it with a "
                    "number";
      return out;
    }
  }
  out.passed = Compare(*number, condition.numeric.op, limit);
  out.message = std::string(field) + " is " + Shown(*value) + ", expected " +
                condition.ToString();
  return out;
}

}  // namespace drone::verify
