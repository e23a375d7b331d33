// `expect:` thresholds on workload results, e.g. `lost: 0` or `"latency.end_to_end.p99": "< 2s"`.
// A check names a field of one workload's result (the object under "workloads.<id>" in the result
// contract of DESIGN.md) and a condition; Evaluate() compares the two, ValidateExpectation()
// rejects typos before anything runs. Pure functions over value types; thread-safe.
//
// Field names are dotted paths into the result ("delivery.lost", "throughput.mb_per_s"), with two
// shorthands: a delivery category alone ("lost", "duplicated") means delivery.<name> unless it is
// itself a top-level field ("failed" is the top-level count of nacked sends; write
// "delivery.failed" for the category), and a leading "latency." means "latency_ms.".
//
// Conditions: a number alone means equality ("0", "12.5"); otherwise an operator (<, <=, >, >=,
// ==, !=) and a number or a duration ("< 2s", "<= 150ms", "!= 0"). A duration compares in
// milliseconds against fields under latency_ms and fields whose name ends in "_ms", and in
// seconds against fields whose name ends in "_s" (but not rates, "_per_s"); against any other
// field it is an error.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace drone::verify {

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };

// "==", "!=", "<", "<=", ">", ">=".
const char* CompareOpSymbol(CompareOp op);

struct Condition {
  CompareOp op = CompareOp::kEq;
  double value = 0;  // the operand: the number, or nanoseconds if is_duration
  bool is_duration = false;
  std::string operand;  // the operand as written: "2s", "0.5"

  // Normalised text, always with an operator: "< 2s", "== 0".
  std::string ToString() const;
};

// Parses "0", "12.5", "< 2s", "<= 150ms", "> 1000", ">= 0.5", "== 0", "!= 0" (spaces optional).
// InvalidArgument, naming the accepted forms, for anything else.
Result<Condition> ParseCondition(std::string_view text);

// The value `field` names in `workload_result` (shorthands applied); the pointer is into
// `workload_result`. NotFound, listing the result's top-level names, if there is no such field;
// InvalidArgument for a malformed path ("a..b", "").
Result<const nlohmann::json*> ResolveField(const nlohmann::json& workload_result,
                                           std::string_view field);

struct CheckOutcome {
  std::string expect;       // field as written and normalised condition: "lost == 0"
  nlohmann::json observed;  // the field's value
  bool passed = false;      // a field without a value (null: nothing measured) fails
  std::string message;      // "latency.end_to_end.p99 is 2450 ms, expected < 2s"
};

// Checks `condition` against `field` of `workload_result`. Errors: ResolveField's; InvalidArgument
// if the field is not a number (and not null) or a duration is compared with a field that is not
// a time.
Result<CheckOutcome> Evaluate(const nlohmann::json& workload_result, std::string_view field,
                              const Condition& condition);

// Checks an expectation against the known shape of a workload result, without a result, so that
// `drone validate` rejects typos before a run: the condition parses, the field is a known numeric
// field (KnownResultFields(), after shorthands), and a duration is compared only with a time.
// InvalidArgument otherwise, with a suggestion where one is close.
Status ValidateExpectation(std::string_view field, std::string_view condition);

// Every numeric field of a workload result that checks may name, as canonical dotted paths
// ("delivery.lost", "latency_ms.end_to_end.p99"). This list and the shorthands are the one place
// that knows the result shape; extend it when the result contract grows.
const std::vector<std::string>& KnownResultFields();

}  // namespace drone::verify
