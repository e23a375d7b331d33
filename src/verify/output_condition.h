// Conditions on step outputs, for `wait` (`until: { "steps.probe.outputs.status": "== ready" }`).
// The syntax is that of check `expect:` (verify/expectation.h) — a number alone, or an operator
// and a number or a duration — plus text equality: "== ready", "!= starting" (the operand may be
// quoted, "== \"a b\""), for outputs that are strings.
//
// A numeric condition holds for a number, or for a string that is a whole number in decimal
// notation (exec stdout, for instance); a duration compares in milliseconds with an output whose
// name ends in "_ms", in seconds with one ending in "_s". A text condition compares a string as
// it is and any other value in its compact JSON form. A missing output (the step has not set it
// yet) satisfies no condition. Pure functions over value types; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"
#include "verify/expectation.h"

namespace drone::verify {

struct OutputCondition {
  bool is_text = false;
  Condition numeric;        // when !is_text
  CompareOp text_op = CompareOp::kEq;  // when is_text: kEq or kNe
  std::string text;         // when is_text: the operand, quotes removed

  // "== ready", ">= 5000".
  std::string ToString() const;
};

// Parses a condition; InvalidArgument naming the accepted forms.
Result<OutputCondition> ParseOutputCondition(std::string_view text);

// Whether `value` (nullptr when the output is missing) satisfies `condition`. `field` is the
// output's path as written ("steps.probe.outputs.elapsed_ms"); its last name decides the unit of a
// duration. The outcome's message says what was observed and why it does not hold.
CheckOutcome EvaluateOutput(const nlohmann::json* value, std::string_view field,
                            const OutputCondition& condition);

}  // namespace drone::verify
