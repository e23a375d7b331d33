#include "verify/expectation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iterator>

#include "core/text.h"
#include "core/units.h"

namespace drone::verify {
namespace {

// ---- The known shape of a workload result (DESIGN.md "Result contract"). ----

constexpr std::string_view kTopLevelCounts[] = {"sent", "acked", "failed", "indeterminate",
                                                "received"};
// Mirrors DeliveryReport::ToJson() (a test keeps the two in step).
constexpr std::string_view kDeliveryFields[] = {
    "ok",        "recovered", "unknown",   "failed",     "phantom",          "lost",
    "lost_gap",  "lost_tail", "unseen",    "duplicated", "duplicate_copies", "unacked_received",
    "reordered", "corrupt",   "unexpected"};
constexpr std::string_view kLatencyKinds[] = {"publish", "service", "end_to_end"};
constexpr std::string_view kPercentiles[] = {"p50", "p90", "p99", "p999", "max"};
constexpr std::string_view kThroughputFields[] = {"sent_per_s", "received_per_s", "mb_per_s"};
constexpr std::string_view kTopLevelGroups[] = {"delivery", "latency_ms", "throughput"};

template <size_t N>
bool Contains(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

template <size_t N>
std::string Alternatives(const std::string_view (&names)[N]) {
  std::string text;
  for (std::string_view name : names) {
    if (!text.empty()) text += "|";
    text += name;
  }
  return text;
}

// A one-line map of the known fields, for error messages.
std::string KnownFieldsSummary() {
  std::string text;
  for (std::string_view name : kTopLevelCounts) text += std::string(name) + ", ";
  return text + "delivery.<" + Alternatives(kDeliveryFields) + "> (or the category alone), " +
         "latency.<" + Alternatives(kLatencyKinds) + ">.<" + Alternatives(kPercentiles) + ">, " +
         "throughput.<" + Alternatives(kThroughputFields) + ">";
}

// A fault window's fields under phases[N] (workload/phases.h).
constexpr std::string_view kPhaseWindows[] = {"before", "during", "after"};
constexpr std::string_view kPhaseLatencyKinds[] = {"publish", "end_to_end"};
constexpr std::string_view kPhaseThroughput[] = {"sent_per_s", "acked_per_s", "received_per_s"};

// "phases[3]" -> 3; -1 for anything else.
int PhaseIndex(std::string_view part) {
  constexpr std::string_view kPrefix = "phases[";
  if (!part.starts_with(kPrefix) || !part.ends_with("]")) return -1;
  const std::string_view digits = part.substr(kPrefix.size(), part.size() - kPrefix.size() - 1);
  int index = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return -1;
  return index;
}

bool IsTopLevelName(std::string_view name) {
  return Contains(kTopLevelCounts, name) || Contains(kTopLevelGroups, name);
}

// ---- Paths. ----

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) {
    if (!text.empty()) text += ".";
    text += part;
  }
  return text;
}

// The canonical path segments of `field`, shorthands applied.
Result<std::vector<std::string>> CanonicalPath(std::string_view field) {
  field = Trim(field);
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = field.find('.', start);
    const std::string_view part =
        field.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty()) {
      return InvalidArgument("'" + std::string(field) +
                             "' is not a field name; write a dotted path such as "
                             "'delivery.lost' or 'latency.end_to_end.p99'");
    }
    parts.emplace_back(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (PhaseIndex(parts[0]) >= 0) {
    // phases[N].<window>.latency.* means phases[N].<window>.latency_ms.*
    if (parts.size() > 2 && parts[2] == "latency") parts[2] = "latency_ms";
    return parts;
  }
  if (parts.size() == 1 && !IsTopLevelName(parts[0]) && Contains(kDeliveryFields, parts[0])) {
    parts.insert(parts.begin(), "delivery");
  } else if (parts[0] == "latency") {
    parts[0] = "latency_ms";
  }
  return parts;
}

// " Did you mean 'x'?" for the known spelling (canonical or shorthand) closest to `field`, or
// nothing if none is close.
std::string Suggestion(std::string_view field) {
  std::vector<std::string> spellings = KnownResultFields();
  for (std::string_view name : kDeliveryFields) {
    if (!IsTopLevelName(name)) spellings.emplace_back(name);
  }
  for (const std::string& path : KnownResultFields()) {
    if (path.starts_with("latency_ms.")) spellings.push_back("latency." + path.substr(11));
  }
  size_t best_distance = std::max<size_t>(2, field.size() / 4) + 1;
  std::string best;
  for (const std::string& spelling : spellings) {
    const size_t distance = EditDistance(field, spelling);
    if (distance < best_distance) {
      best_distance = distance;
      best = spelling;
    }
  }
  return best.empty() ? "" : " Did you mean '" + best + "'?";
}

// ---- Units. ----

enum class TimeUnit { kMilliseconds, kSeconds };

// The unit in which a time-valued field is stored; InvalidArgument if it is not a time.
Result<TimeUnit> TimeUnitOf(const std::vector<std::string>& path, std::string_view field) {
  const std::string& leaf = path.back();
  if (std::find(path.begin(), path.end(), "latency_ms") != path.end() || leaf.ends_with("_ms")) {
    return TimeUnit::kMilliseconds;
  }
  if (leaf.ends_with("_s") && !leaf.ends_with("_per_s")) return TimeUnit::kSeconds;
  return InvalidArgument("'" + std::string(field) +
                         "' is not a time, so it cannot be compared with a duration; compare "
                         "it with a number (e.g. '" +
                         std::string(field) +
                         " == 0'). Durations apply to latency.* fields and fields whose name "
                         "ends in _ms or _s");
}

const char* UnitSuffix(TimeUnit unit) { return unit == TimeUnit::kMilliseconds ? " ms" : " s"; }

// 1834.25 -> "1834.25", 3 -> "3", 0.1234567 -> "0.123".
std::string FormatNumber(double value) {
  if (std::abs(value) < 1e15 && value == std::floor(value)) {
    return std::to_string(static_cast<long long>(value));
  }
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.3f", value);
  std::string text = buffer;
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

bool Compare(double observed, CompareOp op, double limit) {
  switch (op) {
    case CompareOp::kEq:
      return observed == limit;
    case CompareOp::kNe:
      return observed != limit;
    case CompareOp::kLt:
      return observed < limit;
    case CompareOp::kLe:
      return observed <= limit;
    case CompareOp::kGt:
      return observed > limit;
    case CompareOp::kGe:
      return observed >= limit;
  }
  return false;
}

std::string JsonTypeName(const nlohmann::json& value) {
  if (value.is_object()) return "a group of fields";
  if (value.is_array()) return "a list";
  if (value.is_string()) return "text";
  if (value.is_boolean()) return "true/false";
  return value.type_name();
}

}  // namespace

const char* CompareOpSymbol(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "==";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
  }
  return "?";
}

std::string Condition::ToString() const { return std::string(CompareOpSymbol(op)) + " " + operand; }

Result<Condition> ParseCondition(std::string_view text) {
  const std::string_view trimmed = Trim(text);
  auto error = [&](const std::string& detail) {
    return InvalidArgument("expectation '" + std::string(text) +
                           "' is not understood; write a number, which means equal ('0', "
                           "'12.5'), or an operator (<, <=, >, >=, ==, !=) and a number or a "
                           "duration ('< 2s', '<= 150ms', '> 1000', '>= 0.5', '!= 0')" +
                           detail);
  };
  struct OpSpelling {
    std::string_view symbol;
    CompareOp op;
  };
  // Two-character operators first, so that "<=" is not read as "<" and "=...".
  constexpr OpSpelling kOps[] = {{"<=", CompareOp::kLe}, {">=", CompareOp::kGe},
                                 {"==", CompareOp::kEq}, {"!=", CompareOp::kNe},
                                 {"<", CompareOp::kLt},  {">", CompareOp::kGt}};
  Condition condition;
  std::string_view rest = trimmed;
  for (const OpSpelling& spelling : kOps) {
    if (trimmed.starts_with(spelling.symbol)) {
      condition.op = spelling.op;
      rest = Trim(trimmed.substr(spelling.symbol.size()));
      break;
    }
  }
  if (rest.empty()) return error("");
  condition.operand = std::string(rest);

  double number = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), number);
  if (ec == std::errc() && end == rest.data() + rest.size()) {
    if (!std::isfinite(number)) return error("");
    condition.value = number;
    return condition;
  }
  Result<int64_t> duration = ParseDuration(rest);
  if (!duration.ok()) {
    // A digit first means the user meant a number or a duration: say what was wrong with it.
    const bool looks_numeric = rest[0] >= '0' && rest[0] <= '9';
    return error(looks_numeric ? " (" + duration.status().message() + ")" : "");
  }
  condition.is_duration = true;
  condition.value = static_cast<double>(duration.value());
  return condition;
}

const std::vector<std::string>& KnownResultFields() {
  static const std::vector<std::string>* const kFields = [] {
    auto* fields = new std::vector<std::string>;
    for (std::string_view name : kTopLevelCounts) fields->emplace_back(name);
    for (std::string_view name : kDeliveryFields)
      fields->push_back("delivery." + std::string(name));
    for (std::string_view kind : kLatencyKinds) {
      for (std::string_view percentile : kPercentiles) {
        fields->push_back("latency_ms." + std::string(kind) + "." + std::string(percentile));
      }
    }
    for (std::string_view name : kThroughputFields) {
      fields->push_back("throughput." + std::string(name));
    }
    // Fault windows, spelt with phases[0]; any index is accepted (ValidateExpectation).
    fields->push_back("phases[0].recovery_s");
    for (std::string_view window : kPhaseWindows) {
      const std::string w = "phases[0]." + std::string(window);
      fields->push_back(w + ".seconds");
      for (std::string_view name : kPhaseThroughput) {
        fields->push_back(w + ".throughput." + std::string(name));
      }
      for (std::string_view kind : kPhaseLatencyKinds) {
        for (std::string_view percentile : kPercentiles) {
          fields->push_back(w + ".latency_ms." + std::string(kind) + "." + std::string(percentile));
        }
      }
    }
    return fields;
  }();
  return *kFields;
}

Result<const nlohmann::json*> ResolveField(const nlohmann::json& workload_result,
                                           std::string_view field) {
  ASSIGN_OR_RETURN(std::vector<std::string> path, CanonicalPath(field));
  const nlohmann::json* node = &workload_result;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string parent = Join({path.begin(), path.begin() + static_cast<ptrdiff_t>(i)});
    if (!node->is_object()) {
      return NotFound("'" + std::string(Trim(field)) + "' does not exist: '" + parent + "' is " +
                      JsonTypeName(*node) + ", not a group of fields");
    }
    if (const int index = PhaseIndex(path[i]); index >= 0) {
      auto phases = node->find("phases");
      if (phases == node->end() || !phases->is_array() ||
          static_cast<size_t>(index) >= phases->size()) {
        const size_t n = phases == node->end() || !phases->is_array() ? 0 : phases->size();
        return NotFound("'" + std::string(Trim(field)) + "' does not exist: the workload has " +
                        std::to_string(n) + (n == 1 ? " fault window" : " fault windows") +
                        " (phases[0] is the first fault during its load)");
      }
      node = &(*phases)[static_cast<size_t>(index)];
      continue;
    }
    auto it = node->find(path[i]);
    if (it == node->end()) {
      std::string names;
      for (auto member = node->begin(); member != node->end(); ++member) {
        names += (names.empty() ? "" : ", ") + member.key();
      }
      const std::string where = i == 0 ? "the workload result" : "'" + parent + "'";
      std::string message = where + " has no field '" + path[i] + "'";
      message += names.empty() ? "; it is empty" : "; its fields are " + names;
      if (i == 0) {
        message +=
            " (a delivery category such as 'lost' may be named alone, and "
            "'latency.<kind>.<pN>' means 'latency_ms.<kind>.<pN>')";
      }
      return NotFound(message + "." + Suggestion(Trim(field)));
    }
    node = &*it;
  }
  return node;
}

Result<CheckOutcome> Evaluate(const nlohmann::json& workload_result, std::string_view field,
                              const Condition& condition) {
  const std::string name(Trim(field));
  ASSIGN_OR_RETURN(const nlohmann::json* value, ResolveField(workload_result, name));
  ASSIGN_OR_RETURN(std::vector<std::string> path, CanonicalPath(name));

  CheckOutcome outcome;
  outcome.expect = name + " " + condition.ToString();
  outcome.observed = *value;
  if (value->is_null()) {
    outcome.passed = false;
    outcome.message =
        name + " has no value (nothing was measured), expected " + condition.ToString();
    return outcome;
  }
  if (!value->is_number()) {
    return InvalidArgument("'" + name + "' is " + JsonTypeName(*value) +
                           ", not a number, so it cannot be checked against '" +
                           condition.ToString() + "'");
  }
  double limit = condition.value;
  std::string unit;
  if (condition.is_duration) {
    ASSIGN_OR_RETURN(TimeUnit time_unit, TimeUnitOf(path, name));
    limit /= time_unit == TimeUnit::kMilliseconds ? 1e6 : 1e9;
    unit = UnitSuffix(time_unit);
  }
  const double observed = value->get<double>();
  outcome.passed = Compare(observed, condition.op, limit);
  outcome.message = name + " is " + FormatNumber(observed) + unit;
  outcome.message +=
      outcome.passed ? " (" + condition.ToString() + ")" : ", expected " + condition.ToString();
  return outcome;
}

Status ValidateExpectation(std::string_view field, std::string_view condition) {
  const std::string name(Trim(field));
  Result<Condition> parsed = ParseCondition(condition);
  if (!parsed.ok()) return parsed.status().WithContext("expect '" + name + "'");
  ASSIGN_OR_RETURN(std::vector<std::string> path, CanonicalPath(name));
  if (PhaseIndex(path[0]) >= 0) path[0] = "phases[0]";  // every fault window has the same fields
  const std::string canonical = Join(path);
  const std::vector<std::string>& known = KnownResultFields();
  if (std::find(known.begin(), known.end(), canonical) == known.end()) {
    std::string members;
    for (const std::string& candidate : known) {
      if (candidate.starts_with(canonical + ".")) {
        members += (members.empty() ? "" : ", ") + candidate.substr(canonical.size() + 1);
      }
    }
    if (!members.empty()) {
      return InvalidArgument("expect '" + name +
                             "': this is a group of fields, not a number; name one of its "
                             "fields: " +
                             members);
    }
    return InvalidArgument("expect '" + name + "': a workload result has no such field." +
                           Suggestion(name) + " Fields: " + KnownFieldsSummary());
  }
  if (parsed->is_duration) {
    Result<TimeUnit> unit = TimeUnitOf(path, name);
    if (!unit.ok()) return unit.status().WithContext("expect '" + name + "'");
  }
  return Status::Ok();
}

}  // namespace drone::verify
