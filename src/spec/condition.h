// `when:` conditions: a small comparison language over text that may hold `${{ }}` references.
//
//   when: "${{ params.acks }} == all"
//   when: "${{ steps.probe.outputs.exit_code }} != 0"
//   when: "${{ steps.load.outputs.sent }} >= 1000"
//   when: "${{ steps.check.outputs.ready }}"        (no operator: a truth test)
//
// A condition is one operand, or two operands around one operator (==, !=, <, <=, >, >=) written
// outside any `${{ }}` and outside quotes. Operands are trimmed; one may be quoted ('a b' or
// "a b") to keep blanks or operator characters. After interpolation, two numbers compare as
// numbers, anything else as text (== and != only; ordering text is an error). A lone operand is
// false when it is empty, false, no, off, 0 or null (any case), true otherwise.
//
// Pure functions; safe to call from several threads at once.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace drone::spec {

struct Condition {
  enum class Op { kTruth, kEq, kNe, kLt, kLe, kGt, kGe };
  Op op = Op::kTruth;
  std::string left;   // templates, quotes removed
  std::string right;  // empty for kTruth
};

// Splits `text` into operands and operator. InvalidArgument (saying what to write) when it is
// empty, an operand is missing, or there is more than one operator.
Result<Condition> ParseCondition(std::string_view text);

// The outcome of a condition, with the operand values it saw (for the STEP_SKIPPED message).
struct ConditionResult {
  bool value = false;
  std::string explanation;  // "'all' == 'all'", "'3' >= 1000 is false", ...
};

// Interpolates both operands against `context` (as spec::Interpolate) and compares them.
// NotFound when a reference does not resolve; InvalidArgument when text would be ordered.
Result<ConditionResult> EvaluateCondition(const Condition& condition, const nlohmann::json& context);

}  // namespace drone::spec
