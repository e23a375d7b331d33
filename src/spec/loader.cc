#include "spec/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <queue>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

#include "core/text.h"
#include "core/units.h"
#include "faults/network/impairment.h"
#include "faults/network/partition.h"
#include "spec/condition.h"
#include "spec/expression.h"
#include "spec/flow_schema.h"
#include "spec/http_url.h"

namespace drone::spec {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// The allowed keys of each section come from the flow format's table (spec/flow_schema.h), which
// `drone schema` turns into the JSON Schema.
const std::vector<std::string> kTopKeys = FieldNames(TopLevelFields());
const std::vector<std::string> kStepKeys = FieldNames(StepFields());
// In StepKind order.
const std::vector<std::string> kKindNames = StepKindNames();
const std::vector<std::string> kClusterKeys = FieldNames(FindStepKind("cluster")->with);
const std::vector<std::string> kTopicKeys = FieldNames(FindStepKind("topic")->with);
const std::vector<std::string> kWorkloadKeys = FieldNames(FindStepKind("workload")->with);
const std::vector<std::string> kFaultKillKeys = FieldNames(FindStepKind("fault.kill")->with);
const std::vector<std::string> kFaultNetworkKeys = FieldNames(FindStepKind("fault.network")->with);
const std::vector<std::string> kFaultProcessKeys = FieldNames(FindStepKind("fault.stop")->with);
const std::vector<std::string> kFaultPartitionKeys =
    FieldNames(FindStepKind("fault.partition")->with);
// fault.network's impairment fields, handed to the network-fault library as JSON.
const std::vector<std::string> kImpairmentKeys = {"delay",   "loss", "duplicate", "corrupt",
                                                  "reorder", "rate", "seed",
                                                  "reset",   "blackhole", "slicer"};
const std::vector<std::string> kPartitionSpecKeys = {"partition", "nodes", "groups",
                                                     "from",      "to",    "among"};
const std::vector<std::string> kCheckKeys = FieldNames(FindStepKind("check")->with);
const std::vector<std::string> kSleepKeys = FieldNames(FindStepKind("sleep")->with);
const std::vector<std::string> kExecKeys = FieldNames(FindStepKind("exec")->with);
const std::vector<std::string> kWaitKeys = FieldNames(FindStepKind("wait")->with);
const std::vector<std::string> kHttpKeys = FieldNames(FindStepKind("http")->with);
const std::vector<std::string> kHttpExpectKeys = FieldNames(HttpExpectFields());
const std::vector<std::string> kCollectKeys = FieldNames(FindStepKind("collect")->with);
const std::vector<std::string> kSubFlowKeys = FieldNames(FindStepKind("flow")->with);
const std::vector<std::string> kEachKeys = FieldNames(FindStepKind("each")->with);
const std::vector<std::string> kEachStepKeys = FieldNames(EachTemplateFields());
// The live totals of a running workload that `wait` can test (flow/run_context.h).
const std::vector<std::string> kLiveWorkloadFields = {"sent",     "acked", "failed",
                                                      "indeterminate", "received", "lag",
                                                      "elapsed_s"};
const std::vector<std::string> kSizeKeys = FieldNames(SizeFields());
const std::vector<std::string> kKeysKeys = FieldNames(KeysFields());
const std::vector<std::string> kNeedStates = NeedStateNames();
const std::vector<std::string> kRetryKeys = FieldNames(RetryFields());
constexpr int64_t kMaxRetries = 100;

constexpr const char* kExpressionHint =
    "expressions are written ${{ params.NAME }} or ${{ steps.ID.outputs.NAME }}";

// ---------- text helpers ----------

std::string Join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

// The candidate closest to `word`, when it is close enough to be a likely typo; else "".
std::string Closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const std::string& candidate : candidates) {
    const size_t d = EditDistance(word, candidate);
    const size_t limit = std::max<size_t>(1, candidate.size() / 3);
    if (d <= limit && d < word.size() && d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

// "did you mean 'x'?" or, without a close match, "<label>: a, b, c".
std::string SuggestHint(std::string_view word, const std::vector<std::string>& candidates,
                        std::string_view label) {
  const std::string best = Closest(word, candidates);
  if (!best.empty()) return "did you mean '" + best + "'?";
  if (candidates.empty()) return "";
  return std::string(label) + ": " + Join(candidates);
}

std::string JoinHints(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "; " + b;
}

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Step ids, parameter names: usable as a name inside `${{ }}` paths.
bool IsIdentifier(std::string_view s) {
  if (s.empty() || !(IsLower(s[0]) || IsUpper(s[0]) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return IsLower(c) || IsUpper(c) || IsDigit(c) || c == '_' || c == '-';
  });
}

bool IsFlowName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return IsLower(c) || IsDigit(c) || c == '-'; });
}

bool IsResultField(std::string_view s) {
  return !s.empty() && s.front() != '.' && s.back() != '.' &&
         std::all_of(s.begin(), s.end(), [](char c) {
           // '[' and ']' index a list: phases[0].during...
           return IsLower(c) || IsUpper(c) || IsDigit(c) || c == '_' || c == '.' || c == '[' ||
                  c == ']';
         });
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ---------- YAML 1.2 core schema, for plain (unquoted) scalars ----------

bool IsNullText(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

bool IsBoolText(std::string_view s, bool* value) {
  if (s == "true" || s == "True" || s == "TRUE") {
    *value = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    *value = false;
    return true;
  }
  return false;
}

bool AllOf(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}

// Integer forms: [-+]?[0-9]+, 0x[0-9a-fA-F]+, 0o[0-7]+. Sets *overflow when it does not fit.
bool ParseIntText(std::string_view s, int64_t* value, bool* overflow) {
  *overflow = false;
  int base = 10;
  bool negative = false;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    base = s[1] == 'x' ? 16 : 8;
    s.remove_prefix(2);
    const bool digits_ok =
        base == 16 ? AllOf(s,
                           [](char c) {
                             return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                           })
                   : AllOf(s, [](char c) { return c >= '0' && c <= '7'; });
    if (!digits_ok) return false;
  } else {
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
      negative = s[0] == '-';
      s.remove_prefix(1);
    }
    if (!AllOf(s, IsDigit)) return false;
  }
  uint64_t magnitude = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (ec == std::errc::result_out_of_range ||
      magnitude > static_cast<uint64_t>(kInt64Max) + (negative ? 1 : 0)) {
    *overflow = true;
    return true;
  }
  if (ec != std::errc() || ptr != s.data() + s.size()) return false;
  *value = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return true;
}

// Decimal number: [-+]?digits(.digits?)?([eE][-+]?digits)? or [-+]?.digits(...).
bool ParseFloatText(std::string_view s, double* value) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && IsDigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  if (i != s.size()) return false;
  const std::string text(s);
  *value = std::strtod(text.c_str(), nullptr);
  return std::isfinite(*value);
}

// Check conditions: "0", "12.5", "< 2s", "<= 150ms", "> 1000", ">= 0.5", "== 0", "!= 0".
Status ValidateCondition(std::string_view text) {
  const std::string_view t = TrimBlanks(text);
  const std::string kForms =
      "write a value (0, 12.5, 2s) or a comparison: < 2s, <= 150ms, >= 1000, "
      "== 0, != 0";
  if (t.empty()) return InvalidArgument("the condition is empty; " + kForms);
  std::string_view operand = t;
  for (std::string_view op : {"<=", ">=", "==", "!=", "<", ">"}) {
    if (t.substr(0, op.size()) == op) {
      operand = TrimBlanks(t.substr(op.size()));
      if (operand.empty()) {
        return InvalidArgument("condition '" + std::string(t) + "' has no value after '" +
                               std::string(op) + "'");
      }
      break;
    }
  }
  if (operand.front() == '=' || operand.front() == '<' || operand.front() == '>' ||
      operand.front() == '!') {
    return InvalidArgument("condition '" + std::string(t) + "' has no valid operator; " + kForms);
  }
  double number = 0;
  if (ParseFloatText(operand, &number)) return Status::Ok();
  if (ParseDuration(operand).ok()) return Status::Ok();
  return InvalidArgument("condition '" + std::string(t) + "': '" + std::string(operand) +
                         "' is neither a number nor a duration; " + kForms);
}

// ---------- the loader ----------

// A value in the file together with where it is and what it is called.
struct Field {
  std::string name;  // the key ("rate"); empty for list items and the document
  YAML::Node value;
  std::string path;  // "steps.load.with.rate"
  SourceLoc loc;     // of the value; of the key when the value is empty
  SourceLoc key_loc;
};

// The entries of one YAML map, duplicates removed (the first one counts).
struct MapFields {
  std::string path;
  SourceLoc loc;  // of the map; of its key when the map is empty or omitted
  std::vector<Field> entries;

  const Field* Find(std::string_view key) const {
    for (const Field& f : entries) {
      if (f.name == key) return &f;
    }
    return nullptr;
  }
};

// A scalar after `${{ params.* }}` substitution.
struct Scalar {
  std::string text;
  bool plain = true;  // read with YAML plain-scalar semantics (typed), else a string
  bool null = false;
  std::string origin;  // "params.rate = 'fast'" when parameters went into the text
};

enum class Refs { kReject, kAllow };

struct StepInfo {
  Step step;
  bool is_finally = false;
  std::string path;  // "steps.load" or "finally.logs"
  SourceLoc loc;     // of the step's mapping
  bool kind_ok = false;
  std::optional<Field> with;
  std::vector<std::string> need_paths;  // parallel to step.needs
  std::vector<SourceLoc> need_locs;
  std::vector<size_t> edges;   // indices of the steps this one needs (same section)
  std::set<size_t> ancestors;  // transitive closure of edges
  // Read with `with`, checked once every step is known.
  bool with_read = false;
  bool with_clean = false;  // `with` had no errors
  std::string with_path;
  SourceLoc with_loc;
  std::optional<Field> ref_field;  // `cluster` (or `workload` for checks) when written
  bool ref_bad = false;            // ... but not readable (already reported)
  bool topic_omitted = false;      // a workload without `topic`
  std::optional<Field> replication_field;
  std::optional<Field> when_field;  // read with `with`, once the graph is known
  bool wants_workload = false;  // a wait with a condition on a workload total
};

LoadResult LoadNested(const std::string& path,
                      const std::map<std::string, std::string>& param_overrides,
                      std::vector<std::string> stack);

class FlowLoader {
 public:
  // `stack`: the files of the flows that include this one through `kind: flow`, outermost first.
  FlowLoader(std::string file, const std::map<std::string, std::string>& overrides,
             std::vector<std::string> stack = {})
      : file_(std::move(file)), overrides_(overrides), stack_(std::move(stack)) {}

  LoadResult Load(std::string_view text) {
    YAML::Node root;
    bool parsed = false;
    try {
      root = YAML::Load(std::string(text));
      parsed = true;
    } catch (const YAML::Exception& e) {
      Error(MarkLoc(e.mark), "", "invalid YAML: " + e.msg);
    }
    if (parsed) {
      try {
        ReadFlow(root);
      } catch (const YAML::Exception& e) {
        // yaml-cpp throws only on misuse of its API after a successful parse; say so plainly
        // rather than crash, so a bad file can never take the process down.
        Error(MarkLoc(e.mark), "", std::string("internal error while reading YAML: ") + e.what());
      }
    }
    LoadResult result;
    std::stable_sort(errors_.begin(), errors_.end(), [](const Diagnostic& a, const Diagnostic& b) {
      return std::pair(a.loc.line, a.loc.column) < std::pair(b.loc.line, b.loc.column);
    });
    // Problems inside sub-flows follow, in the order of the steps that include them.
    errors_.insert(errors_.end(), sub_errors_.begin(), sub_errors_.end());
    result.errors = std::move(errors_);
    if (result.errors.empty()) result.flow = std::move(flow_);
    return result;
  }

 private:
  // ---- diagnostics and positions ----

  void Error(const SourceLoc& loc, std::string field, std::string message, std::string hint = "") {
    errors_.push_back({loc, std::move(field), std::move(message), std::move(hint)});
  }

  SourceLoc MarkLoc(const YAML::Mark& mark) const {
    if (mark.is_null() || mark.line < 0) return {file_, 0, 0};
    return {file_, mark.line + 1, mark.column + 1};
  }

  SourceLoc LocOf(const YAML::Node& node, const SourceLoc& fallback) const {
    if (!node.IsDefined() || node.IsNull()) return fallback;
    const SourceLoc loc = MarkLoc(node.Mark());
    return loc.line == 0 ? fallback : loc;
  }

  static std::string Describe(const YAML::Node& node) {
    if (node.IsMap()) return "a map";
    if (node.IsSequence()) return "a list";
    return "a value";
  }

  // ---- maps ----

  // Reads the map in `f`; reports a value that is not a map, keys that are not in `allowed` (when
  // given) and duplicate keys. An omitted or empty value is an empty map.
  std::optional<MapFields> ReadMap(const Field& f, const std::vector<std::string>* allowed,
                                   const std::map<std::string, std::string>& elsewhere = {}) {
    MapFields out;
    out.path = f.path;
    out.loc = f.loc;
    if (!f.value.IsDefined() || f.value.IsNull()) return out;
    if (!f.value.IsMap()) {
      Error(f.loc, f.path, "expected a map, got " + Describe(f.value));
      return std::nullopt;
    }
    std::map<std::string, SourceLoc> seen;
    for (auto it = f.value.begin(); it != f.value.end(); ++it) {
      // Copies: yaml-cpp's iterator hands out a temporary pair, so references would dangle.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const SourceLoc key_loc = LocOf(key, f.loc);
      if (!key.IsScalar()) {
        Error(key_loc, f.path, "keys must be names, got " + Describe(key));
        continue;
      }
      const std::string name = key.Scalar();
      const std::string path = Child(f.path, name);
      if (auto dup = seen.find(name); dup != seen.end()) {
        Error(key_loc, path,
              "duplicate key '" + name + "' (first defined at line " +
                  std::to_string(dup->second.line) + ", column " +
                  std::to_string(dup->second.column) + ")",
              "remove one of them; YAML does not allow a key twice in one map");
        continue;
      }
      seen.emplace(name, key_loc);
      if (allowed != nullptr &&
          std::find(allowed->begin(), allowed->end(), name) == allowed->end()) {
        std::string hint;
        if (auto e = elsewhere.find(name); e != elsewhere.end()) {
          hint = e->second;
        } else {
          hint = SuggestHint(name, *allowed, "allowed keys here");
        }
        Error(key_loc, path, "unknown key '" + name + "'", hint);
        continue;
      }
      out.entries.push_back({name, value, path, LocOf(value, key_loc), key_loc});
    }
    if (!out.entries.empty()) out.loc = LocOf(f.value, f.loc);
    return out;
  }

  void Missing(const MapFields& m, std::string_view key, const std::string& hint = "") {
    Error(m.loc, Child(m.path, key), "missing required field '" + std::string(key) + "'", hint);
  }

  // ---- scalars ----

  std::optional<Scalar> ReadScalar(const Field& f, const std::string& expected, Refs refs) {
    Scalar s;
    if (!f.value.IsDefined() || f.value.IsNull()) {
      s.null = true;
      return s;
    }
    if (!f.value.IsScalar()) {
      Error(f.loc, f.path, "expected " + expected + ", got " + Describe(f.value));
      return std::nullopt;
    }
    s.text = f.value.Scalar();
    s.plain = f.value.Tag() == "?";
    if (!Substitute(f, refs, s)) return std::nullopt;
    if (s.plain && IsNullText(s.text)) s.null = true;
    return s;
  }

  // Replaces `${{ params.NAME }}` in s.text; checks `${{ steps.ID.outputs.* }}` and leaves it.
  bool Substitute(const Field& f, Refs refs, Scalar& s) {
    if (s.text.find("${{") == std::string::npos) return true;
    auto pieces = SplitTemplate(s.text);
    if (!pieces.ok()) {
      Error(f.loc, f.path, pieces.status().message(), kExpressionHint);
      return false;
    }
    bool ok = true;
    bool used_params = false;
    std::string out;
    std::vector<std::string> origins;
    for (const TemplatePiece& piece : *pieces) {
      if (piece.kind == TemplatePiece::Kind::kLiteral) {
        out += piece.text;
        continue;
      }
      const std::string shown = "${{ " + piece.text + " }}";
      const std::vector<PathElement> path = ParsePath(piece.text).value();
      const std::string& root = std::get<std::string>(path[0]);
      if (root == "params") {
        used_params = true;
        if (path.size() != 2 || !std::holds_alternative<std::string>(path[1])) {
          Error(f.loc, f.path, "'" + shown + "': a parameter is written ${{ params.NAME }}");
          ok = false;
          continue;
        }
        const std::string& name = std::get<std::string>(path[1]);
        auto it = params_.find(name);
        if (it == params_.end()) {
          Error(f.loc, f.path, "unknown parameter '" + name + "' in '" + shown + "'",
                param_names_.empty() ? "declare it under params: at the top of the flow"
                                     : SuggestHint(name, param_names_, "declared parameters"));
          ok = false;
          continue;
        }
        out += it->second;
        origins.push_back("params." + name + " = '" + it->second + "'");
      } else if (root == "steps") {
        if (refs == Refs::kReject) {
          Error(f.loc, f.path, "'" + shown + "': step outputs cannot be used in this field",
                "only topic name, workload topic, fault target, cluster bootstrap, exec argv, "
                "http url and body "
                "may use "
                "${{ steps.ID.outputs.NAME }}; values known before the run belong in params");
          ok = false;
          continue;
        }
        if (!CheckStepReference(f, shown, path)) ok = false;
        out += s.text.substr(piece.offset, piece.length);
      } else if (root == "each") {
        if (!CheckEachReference(f, shown, path, refs)) ok = false;
        out += s.text.substr(piece.offset, piece.length);
      } else {
        Error(f.loc, f.path, "unknown expression '" + shown + "'", kExpressionHint);
        ok = false;
      }
    }
    // A scalar that is exactly one parameter reads as if the value were written there unquoted.
    if (pieces->size() == 1 && used_params) s.plain = true;
    s.text = std::move(out);
    s.origin = Join(origins);
    return ok;
  }

  // `${{ each.item }}`, `${{ each.item.PATH }}`, `${{ each.index }}`: only in an each step's
  // template, and only where step outputs may be used (both are known only during the run).
  bool CheckEachReference(const Field& f, const std::string& shown,
                          const std::vector<PathElement>& path, Refs refs) {
    if (!in_each_template_) {
      Error(f.loc, f.path, "'" + shown + "' is only known in the step template of an each step",
            "use it under with.step of a step of kind each");
      return false;
    }
    if (refs == Refs::kReject) {
      Error(f.loc, f.path, "'" + shown + "' cannot be used in this field",
            "only the fields that may use step outputs may use ${{ each.item }}");
      return false;
    }
    const bool item = path.size() >= 2 && std::holds_alternative<std::string>(path[1]) &&
                      std::get<std::string>(path[1]) == "item";
    const bool index = path.size() == 2 && std::holds_alternative<std::string>(path[1]) &&
                       std::get<std::string>(path[1]) == "index";
    if (!item && !index) {
      Error(f.loc, f.path, "'" + shown + "': an each step's template knows each.item and each.index",
            "e.g. ${{ each.item }}, ${{ each.item.name }}, ${{ each.index }}");
      return false;
    }
    return true;
  }

  bool CheckStepReference(const Field& f, const std::string& shown,
                          const std::vector<PathElement>& path) {
    const bool shape_ok = path.size() >= 4 && std::holds_alternative<std::string>(path[1]) &&
                          std::holds_alternative<std::string>(path[2]) &&
                          std::get<std::string>(path[2]) == "outputs" &&
                          std::holds_alternative<std::string>(path[3]);
    if (!shape_ok) {
      Error(f.loc, f.path,
            "'" + shown + "': a step output is written ${{ steps.ID.outputs.NAME }}");
      return false;
    }
    const std::string& id = std::get<std::string>(path[1]);
    auto it = id_index_.find(id);
    if (it == id_index_.end()) {
      Error(f.loc, f.path, "'" + shown + "' refers to unknown step '" + id + "'",
            SuggestHint(id, all_ids_, "steps"));
      return false;
    }
    if (current_ == nullptr) return true;
    if (it->second == current_index_) {
      Error(f.loc, f.path, "'" + shown + "': a step cannot use its own outputs");
      return false;
    }
    // Finally steps run after every main step has ended, so they may use any main step's outputs.
    const bool after_all = current_->is_finally && !steps_[it->second].is_finally;
    if (!after_all && current_->ancestors.count(it->second) == 0) {
      Error(f.loc, f.path,
            "'" + shown + "': step '" + current_->step.id + "' uses outputs of '" + id +
                "' but does not depend on it",
            "add '" + id + "' to the needs of '" + current_->step.id +
                "' (directly or through a step that needs it)");
      return false;
    }
    return true;
  }

  static std::string Got(const Scalar& s) {
    if (s.null) return "nothing";
    if (!s.plain) return "the quoted string '" + s.text + "'";
    return "'" + s.text + "'";
  }

  void TypeError(const Field& f, const Scalar& s, const std::string& expected,
                 const std::string& hint = "") {
    Error(f.loc, f.path, "expected " + expected + ", got " + Got(s),
          JoinHints(hint, s.origin.empty() ? "" : "the value comes from " + s.origin));
  }

  void ValueError(const Field& f, const Scalar& s, const std::string& message,
                  const std::string& hint = "") {
    Error(f.loc, f.path, message,
          JoinHints(hint, s.origin.empty() ? "" : "the value comes from " + s.origin));
  }

  std::optional<int64_t> ReadInt(const Field& f, int64_t lo, int64_t hi) {
    auto s = ReadScalar(f, "an integer", Refs::kReject);
    if (!s) return std::nullopt;
    int64_t v = 0;
    bool overflow = false;
    if (s->null || !ParseIntText(s->text, &v, &overflow)) {
      TypeError(f, *s, "an integer");
      return std::nullopt;
    }
    if (!s->plain) {
      TypeError(f, *s, "an integer", "remove the quotes to write a number");
      return std::nullopt;
    }
    if (overflow) {
      ValueError(f, *s, "the number " + s->text + " is too large");
      return std::nullopt;
    }
    if (v < lo || v > hi) {
      const std::string range =
          hi == kInt64Max ? "at least " + std::to_string(lo)
                          : "between " + std::to_string(lo) + " and " + std::to_string(hi);
      ValueError(f, *s, "must be " + range + ", got " + s->text);
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> ReadBool(const Field& f) {
    auto s = ReadScalar(f, "true or false", Refs::kReject);
    if (!s) return std::nullopt;
    bool v = false;
    if (s->null || !s->plain || !IsBoolText(s->text, &v)) {
      TypeError(f, *s, "true or false");
      return std::nullopt;
    }
    return v;
  }

  // Any scalar as text; an empty value is "".
  std::optional<std::string> ReadString(const Field& f, Refs refs) {
    auto s = ReadScalar(f, "a string", refs);
    if (!s) return std::nullopt;
    return s->null ? std::string() : s->text;
  }

  std::optional<std::string> ReadRequiredString(const Field& f, Refs refs) {
    auto v = ReadString(f, refs);
    if (v && v->empty()) {
      Error(f.loc, f.path, "must not be empty");
      return std::nullopt;
    }
    return v;
  }

  std::optional<int64_t> ReadDuration(const Field& f, bool allow_zero) {
    auto s = ReadScalar(f, "a duration", Refs::kReject);
    if (!s) return std::nullopt;
    if (s->null) {
      TypeError(f, *s, "a duration such as 250ms, 10s or 2m");
      return std::nullopt;
    }
    auto ns = ParseDuration(s->text);
    if (!ns.ok()) {
      ValueError(f, *s, ns.status().message());
      return std::nullopt;
    }
    if (!allow_zero && *ns == 0) {
      ValueError(f, *s, "must be longer than 0, got " + s->text);
      return std::nullopt;
    }
    return *ns;
  }

  // `origin`, when given, receives where parameters came from, for later range errors.
  std::optional<int64_t> ReadSize(const Field& f, std::string* origin = nullptr) {
    auto s = ReadScalar(f, "a size", Refs::kReject);
    if (!s) return std::nullopt;
    if (origin != nullptr) *origin = s->origin.empty() ? "" : "the value comes from " + s->origin;
    if (s->null) {
      TypeError(f, *s, "a size such as 512, 4KiB or 1MB");
      return std::nullopt;
    }
    auto bytes = ParseSize(s->text);
    if (!bytes.ok()) {
      ValueError(f, *s, bytes.status().message());
      return std::nullopt;
    }
    return *bytes;
  }

  // A message size: > 0, room for the envelope, at most kMaxMessageBytes.
  std::optional<int64_t> ReadMessageSize(const Field& f) {
    std::string origin;
    auto bytes = ReadSize(f, &origin);
    if (!bytes) return std::nullopt;
    if (*bytes <= 0) {
      Error(f.loc, f.path, "must be greater than 0 bytes", origin);
      return std::nullopt;
    }
    if (*bytes < kMinMessageBytes) {
      Error(f.loc, f.path,
            "must be at least " + std::to_string(kMinMessageBytes) + " bytes, got " +
                std::to_string(*bytes),
            JoinHints("every message starts with Drone's " + std::to_string(kMinMessageBytes) +
                          "-byte envelope (ids, sequence number, send time, checksum)",
                      origin));
      return std::nullopt;
    }
    if (*bytes > kMaxMessageBytes) {
      Error(f.loc, f.path,
            "must be at most 16 MiB (" + std::to_string(kMaxMessageBytes) + " bytes), got " +
                std::to_string(*bytes),
            origin);
      return std::nullopt;
    }
    return bytes;
  }

  std::optional<std::string> ReadEnum(const Field& f, const std::vector<std::string>& options) {
    const std::string expected = "one of " + Join(options);
    auto s = ReadScalar(f, expected, Refs::kReject);
    if (!s) return std::nullopt;
    if (s->null || std::find(options.begin(), options.end(), s->text) == options.end()) {
      const std::string best = s->null ? "" : Closest(s->text, options);
      TypeError(f, *s, expected, best.empty() ? "" : "did you mean '" + best + "'?");
      return std::nullopt;
    }
    return s->text;
  }

  std::optional<std::string> ReadPluginName(const Field& f) {
    auto v = ReadRequiredString(f, Refs::kReject);
    if (v && !IsFlowName(*v)) {
      Error(f.loc, f.path, "'" + *v + "' is not a plug-in name; names use a-z, 0-9 and '-'",
            "`drone plugins` lists the built-in ones");
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::map<std::string, std::string>> ReadStringMap(const Field& f) {
    auto m = ReadMap(f, nullptr);
    if (!m) return std::nullopt;
    std::map<std::string, std::string> out;
    bool ok = true;
    for (const Field& e : m->entries) {
      auto v = ReadString(e, Refs::kReject);
      if (v) {
        out[e.name] = *v;
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // ---- the document ----

  void ReadFlow(const YAML::Node& root) {
    const SourceLoc start{file_, 1, 1};
    if (!root.IsDefined() || root.IsNull()) {
      Error(start, "", "the file is empty", "a flow needs at least name: and steps:");
      return;
    }
    const Field doc{"", root, "", LocOf(root, start), start};
    if (!root.IsMap()) {
      Error(doc.loc, "",
            "expected a map with name, params, steps and finally, got " + Describe(root));
      return;
    }
    auto top = ReadMap(doc, &kTopKeys);
    if (!top) return;

    ReadParams(top->Find("params"));
    ApplyOverrides();
    if (const Field* f = top->Find("matrix")) ReadMatrix(*f);
    flow_.file = file_;
    flow_.params = params_;

    if (const Field* f = top->Find("name")) {
      auto name = ReadRequiredString(*f, Refs::kReject);
      if (name && !IsFlowName(*name)) {
        Error(f->loc, f->path, "flow name '" + *name + "' may contain only a-z, 0-9 and '-'",
              "e.g. kafka-broker-outage");
      } else if (name) {
        flow_.name = *name;
      }
    } else {
      Missing(*top, "name", "e.g. name: kafka-broker-outage");
    }
    if (const Field* f = top->Find("description")) {
      if (auto d = ReadString(*f, Refs::kReject)) flow_.description = *d;
    }

    if (const Field* f = top->Find("steps")) {
      ReadSteps(*f, false);
    } else {
      Missing(*top, "steps", "steps: is a map from step id to step, e.g. cluster: {kind: cluster}");
    }
    if (const Field* f = top->Find("finally")) ReadSteps(*f, true);

    ResolveNeeds();
    ReportCycles();
    ComputeAncestors();
    for (size_t i = 0; i < steps_.size(); ++i) ReadWith(i);
    for (StepInfo& info : steps_) ResolveReferences(info);

    for (size_t i : TopologicalOrder(false)) flow_.steps.push_back(steps_[i].step);
    for (size_t i : TopologicalOrder(true)) flow_.finally.push_back(steps_[i].step);
  }

  void ReadParams(const Field* f) {
    if (f == nullptr) return;
    auto m = ReadMap(*f, nullptr);
    if (!m) return;
    for (const Field& e : m->entries) {
      if (!IsIdentifier(e.name)) {
        Error(e.key_loc, e.path, "parameter name '" + e.name + "' is not a valid name",
              "use letters, digits, '_' and '-', starting with a letter or '_'");
        continue;
      }
      if (e.value.IsDefined() && !e.value.IsNull() && !e.value.IsScalar()) {
        Error(e.loc, e.path,
              "expected a default value (a number or a string), got " + Describe(e.value));
        continue;
      }
      if (!e.value.IsDefined() || e.value.IsNull()) {
        Error(e.loc, e.path, "parameter '" + e.name + "' has no default value",
              "write a default, e.g. " + e.name + ": 10; -p " + e.name + "=... overrides it");
        continue;
      }
      const std::string value = e.value.Scalar();
      if (value.find("${{") != std::string::npos) {
        Error(e.loc, e.path, "parameter defaults cannot contain expressions");
        continue;
      }
      param_names_.push_back(e.name);
      params_[e.name] = value;
    }
  }

  void ApplyOverrides() {
    for (const auto& [name, value] : overrides_) {
      const SourceLoc nowhere{file_, 0, 0};
      if (params_.count(name) == 0) {
        std::string message = "unknown parameter '" + name + "'; ";
        message += param_names_.empty() ? "this flow declares no parameters"
                                        : "declared: " + Join(param_names_);
        const std::string best = Closest(name, param_names_);
        Error(nowhere, "params." + name, message,
              best.empty() ? "" : "did you mean '" + best + "'?");
        continue;
      }
      if (value.find("${{") != std::string::npos) {
        Error(nowhere, "params." + name, "parameter values cannot contain expressions");
        continue;
      }
      params_[name] = value;
    }
  }

  // `matrix:` maps declared parameters to lists of values. A parameter fixed with -p keeps only
  // that value, so `-p size=100` runs the rest of the matrix at size 100.
  void ReadMatrix(const Field& f) {
    auto m = ReadMap(f, nullptr);
    if (!m) return;
    if (m->entries.empty()) {
      Error(f.loc, f.path, "the matrix is empty", "e.g. matrix: { size: [100, 1000] }");
      return;
    }
    for (const Field& e : m->entries) {
      if (params_.count(e.name) == 0) {
        const std::string best = Closest(e.name, param_names_);
        Error(e.key_loc, e.path, "matrix key '" + e.name + "' is not a declared parameter",
              best.empty() ? "declare it under params: with a default value"
                           : "did you mean '" + best + "'?");
        continue;
      }
      if (!e.value.IsSequence() || e.value.size() == 0) {
        Error(e.loc, e.path, "expected a non-empty list of values, got " +
                                 (e.value.IsSequence() ? std::string("an empty list")
                                                       : Describe(e.value)),
              "e.g. " + e.name + ": [100, 1000]");
        continue;
      }
      MatrixAxis axis{e.name, {}};
      bool ok = true;
      size_t i = 0;
      for (const YAML::Node& item : e.value) {
        const std::string path = e.path + "[" + std::to_string(i++) + "]";
        const SourceLoc loc = LocOf(item, e.loc);
        if (!item.IsScalar() || (item.Tag() == "?" && IsNullText(item.Scalar()))) {
          Error(loc, path, "expected a value (a number or a string), got " +
                               (item.IsScalar() ? std::string("nothing") : Describe(item)));
          ok = false;
          continue;
        }
        const std::string value = item.Scalar();
        if (value.find("${{") != std::string::npos) {
          Error(loc, path, "matrix values cannot contain expressions");
          ok = false;
          continue;
        }
        if (std::find(axis.values.begin(), axis.values.end(), value) != axis.values.end()) {
          Error(loc, path, "value '" + value + "' is listed twice for '" + e.name + "'");
          ok = false;
          continue;
        }
        axis.values.push_back(value);
      }
      if (!ok) continue;
      if (auto fixed = overrides_.find(e.name); fixed != overrides_.end()) {
        axis.values = {fixed->second};
      }
      flow_.matrix.push_back(std::move(axis));
    }
  }

  // ---- steps, first pass: ids, kind, needs and the step-level keys ----

  void ReadSteps(const Field& f, bool is_finally) {
    auto m = ReadMap(f, nullptr);
    if (!m) return;
    if (m->entries.empty() && !is_finally) {
      Error(f.loc, f.path, "a flow needs at least one step",
            "e.g. steps: { cluster: { kind: cluster } }");
    }
    for (const Field& e : m->entries) {
      if (!IsIdentifier(e.name)) {
        Error(e.key_loc, e.path, "step id '" + e.name + "' is not a valid name",
              "use letters, digits, '_' and '-', starting with a letter or '_' (no '.': it "
              "separates a step from its state in needs)");
        continue;
      }
      if (auto it = id_index_.find(e.name); it != id_index_.end()) {
        const SourceLoc& first = steps_[it->second].step.loc;
        Error(e.key_loc, e.path,
              "step id '" + e.name + "' is already used at line " + std::to_string(first.line) +
                  ", column " + std::to_string(first.column),
              "step ids must be unique across steps and finally");
        continue;
      }
      StepInfo info;
      info.step.id = e.name;
      info.step.loc = e.key_loc;
      info.is_finally = is_finally;
      info.path = e.path;
      info.loc = e.loc;
      ReadStepHeader(e, info);
      id_index_[e.name] = steps_.size();
      all_ids_.push_back(e.name);
      steps_.push_back(std::move(info));
    }
  }

  void ReadStepHeader(const Field& f, StepInfo& info) {
    if (!f.value.IsDefined() || f.value.IsNull()) {
      Error(f.loc, f.path, "the step is empty",
            "a step needs at least kind: (" + Join(kKindNames) + ")");
      return;
    }
    auto m = ReadMap(f, &kStepKeys);
    if (!m) return;
    info.loc = m->loc;
    if (const Field* k = m->Find("kind")) {
      auto s = ReadScalar(*k, "a step kind", Refs::kReject);
      if (s) {
        auto it = std::find(kKindNames.begin(), kKindNames.end(), s->text);
        if (s->null || it == kKindNames.end()) {
          Error(k->loc, k->path, "unknown step kind '" + s->text + "'",
                SuggestHint(s->text, kKindNames, "kinds"));
        } else {
          info.step.kind = static_cast<StepKind>(it - kKindNames.begin());
          info.kind_ok = true;
        }
      }
    } else {
      Missing(*m, "kind", "one of " + Join(kKindNames));
    }
    if (const Field* n = m->Find("needs")) ReadNeeds(*n, info);
    if (const Field* b = m->Find("background")) {
      if (auto v = ReadBool(*b)) info.step.background = *v;
    }
    if (const Field* a = m->Find("after")) {
      if (auto v = ReadDuration(*a, true)) info.step.after_ns = *v;
    }
    if (const Field* t = m->Find("timeout")) {
      if (auto v = ReadDuration(*t, false)) info.step.timeout_ns = *v;
    }
    if (const Field* o = m->Find("on_error")) {
      if (auto v = ReadEnum(*o, {"stop", "continue"})) {
        info.step.on_error = *v == "stop" ? OnError::kStop : OnError::kContinue;
      }
    }
    if (const Field* r = m->Find("retry")) ReadRetry(*r, info.step.retry);
    if (const Field* su = m->Find("setup")) {
      if (auto v = ReadBool(*su)) info.step.setup = *v;
    }
    if (const Field* w = m->Find("when")) info.when_field = *w;
    if (const Field* w = m->Find("with")) info.with = *w;
    info.with_path = Child(info.path, "with");
    info.with_loc = info.with ? info.with->loc : info.loc;
  }

  // `when: "${{ params.acks }} == all"` (spec/condition.h). Parameters are substituted now;
  // step outputs must be of steps this one depends on. A condition without step outputs is
  // evaluated now too, so that comparing text with < is reported before the run.
  void ReadWhen(const Field& f, Step& step) {
    auto s = ReadScalar(f, "a condition", Refs::kAllow);
    if (!s) return;
    const std::string hint =
        "e.g. when: \"${{ params.acks }} == all\" or when: \"${{ steps.x.outputs.code }} != 0\"";
    if (s->null) {
      Error(f.loc, f.path, "the condition is empty", hint);
      return;
    }
    auto condition = ParseCondition(s->text);
    if (!condition.ok()) {
      ValueError(f, *s, condition.status().message(), hint);
      return;
    }
    if (s->text.find("${{") == std::string::npos) {
      auto value = EvaluateCondition(*condition, nlohmann::json::object());
      if (!value.ok()) {
        ValueError(f, *s, value.status().message());
        return;
      }
    }
    step.when = s->text;
  }

  // `retry: 3` or `retry: { limit: 3, backoff: 1s, max_backoff: 30s, jitter: 0.2 }`.
  void ReadRetry(const Field& f, RetryPolicy& retry) {
    if (!f.value.IsMap()) {
      if (auto v = ReadInt(f, 0, kMaxRetries)) retry.limit = static_cast<int>(*v);
      return;
    }
    auto m = ReadMap(f, &kRetryKeys);
    if (!m) return;
    if (const Field* l = m->Find("limit")) {
      if (auto v = ReadInt(*l, 0, kMaxRetries)) retry.limit = static_cast<int>(*v);
    } else {
      Missing(*m, "limit", "how many times to try again after a failed attempt, e.g. limit: 3");
    }
    if (const Field* b = m->Find("backoff")) {
      if (auto v = ReadDuration(*b, true)) retry.backoff_ns = *v;
    }
    const Field* mb = m->Find("max_backoff");
    if (mb != nullptr) {
      if (auto v = ReadDuration(*mb, true)) retry.max_backoff_ns = *v;
    }
    if (retry.max_backoff_ns < retry.backoff_ns) {
      if (mb != nullptr) {
        Error(mb->loc, mb->path, "max_backoff is shorter than backoff",
              "max_backoff caps the doubling waits, so it must be at least backoff");
      } else {
        retry.max_backoff_ns = retry.backoff_ns;  // only backoff given, and longer than 30 s
      }
    }
    if (const Field* j = m->Find("jitter")) {
      auto sc = ReadScalar(*j, "a fraction between 0 and 1", Refs::kReject);
      double v = 0;
      if (sc && (sc->null || !sc->plain || !ParseFloatText(sc->text, &v) || v < 0 || v > 1)) {
        TypeError(*j, *sc, "a fraction between 0 and 1", "jitter: 0.2 varies each wait by +-20%");
      } else if (sc) {
        retry.jitter = v;
      }
    }
  }

  void ReadNeeds(const Field& f, StepInfo& info) {
    std::vector<Field> items;
    if (f.value.IsSequence()) {
      size_t i = 0;
      for (const YAML::Node& item : f.value) {
        items.push_back(
            {"", item, f.path + "[" + std::to_string(i++) + "]", LocOf(item, f.loc), f.loc});
      }
    } else if (f.value.IsScalar()) {
      items.push_back(f);  // `needs: cluster` is the one-element list
    } else if (f.value.IsDefined() && !f.value.IsNull()) {
      Error(f.loc, f.path, "expected a list of step ids, got " + Describe(f.value));
      return;
    }
    for (const Field& item : items) {
      auto s = ReadScalar(item, "a step id", Refs::kReject);
      if (!s) continue;
      if (s->null || s->text.empty()) {
        Error(item.loc, item.path, "expected a step id, got nothing");
        continue;
      }
      Need need;
      const size_t dot = s->text.find('.');
      need.step = s->text.substr(0, dot);
      if (dot != std::string::npos) {
        const std::string state = s->text.substr(dot + 1);
        auto it = std::find(kNeedStates.begin(), kNeedStates.end(), state);
        if (it == kNeedStates.end()) {
          Error(item.loc, item.path, "unknown state '" + state + "' in '" + s->text + "'",
                JoinHints(SuggestHint(state, kNeedStates, "states"),
                          "'" + need.step + "' alone means '" + need.step + ".succeeded'"));
          continue;
        }
        need.state = static_cast<NeedState>(it - kNeedStates.begin());
      }
      info.step.needs.push_back(need);
      info.need_paths.push_back(item.path);
      info.need_locs.push_back(item.loc);
    }
  }

  // ---- the graph ----

  void ResolveNeeds() {
    for (size_t i = 0; i < steps_.size(); ++i) {
      StepInfo& info = steps_[i];
      std::vector<Need> kept;
      std::vector<std::string> kept_paths;
      std::vector<SourceLoc> kept_locs;
      for (size_t j = 0; j < info.step.needs.size(); ++j) {
        const Need& need = info.step.needs[j];
        auto it = id_index_.find(need.step);
        if (it == id_index_.end()) {
          Error(info.need_locs[j], info.need_paths[j], "unknown step '" + need.step + "'",
                SuggestHint(need.step, all_ids_, "steps"));
          continue;
        }
        const StepInfo& target = steps_[it->second];
        if (target.is_finally && !info.is_finally) {
          Error(info.need_locs[j], info.need_paths[j],
                "a step cannot need the finally step '" + need.step + "'",
                "finally steps run after all other steps have ended");
          continue;
        }
        if (!target.is_finally && info.is_finally) {
          Error(info.need_locs[j], info.need_paths[j],
                "finally steps can only need other finally steps; '" + need.step + "' is in steps",
                "finally steps always run after every step has ended");
          continue;
        }
        info.edges.push_back(it->second);
        kept.push_back(need);
        kept_paths.push_back(info.need_paths[j]);
        kept_locs.push_back(info.need_locs[j]);
      }
      info.step.needs = std::move(kept);
      info.need_paths = std::move(kept_paths);
      info.need_locs = std::move(kept_locs);
    }
  }

  // Tarjan's strongly connected components; every component with a cycle is reported once, by a
  // shortest cycle through its first step in file order.
  void ReportCycles() {
    const size_t n = steps_.size();
    std::vector<int> index(n, -1), low(n, 0);
    std::vector<bool> on_stack(n, false);
    std::vector<size_t> stack;
    std::vector<std::vector<size_t>> components;
    int counter = 0;
    std::function<void(size_t)> connect = [&](size_t v) {
      index[v] = low[v] = counter++;
      stack.push_back(v);
      on_stack[v] = true;
      for (size_t w : steps_[v].edges) {
        if (index[w] < 0) {
          connect(w);
          low[v] = std::min(low[v], low[w]);
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
      }
      if (low[v] == index[v]) {
        std::vector<size_t> component;
        size_t w = 0;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = false;
          component.push_back(w);
        } while (w != v);
        components.push_back(std::move(component));
      }
    };
    for (size_t v = 0; v < n; ++v) {
      if (index[v] < 0) connect(v);
    }
    std::sort(components.begin(), components.end(), [](const auto& a, const auto& b) {
      return *std::min_element(a.begin(), a.end()) < *std::min_element(b.begin(), b.end());
    });
    for (const std::vector<size_t>& component : components) {
      const size_t start = *std::min_element(component.begin(), component.end());
      const auto& start_edges = steps_[start].edges;
      const bool self_loop =
          std::find(start_edges.begin(), start_edges.end(), start) != start_edges.end();
      if (component.size() == 1 && !self_loop) continue;
      ReportCycle(start, std::set<size_t>(component.begin(), component.end()));
    }
  }

  void ReportCycle(size_t start, const std::set<size_t>& component) {
    // Breadth-first search from `start` back to itself, inside the component.
    std::map<size_t, size_t> parent;
    std::queue<size_t> queue;
    queue.push(start);
    std::optional<size_t> last;
    while (!queue.empty() && !last) {
      const size_t v = queue.front();
      queue.pop();
      for (size_t w : steps_[v].edges) {
        if (component.count(w) == 0) continue;
        if (w == start) {
          last = v;
          break;
        }
        if (parent.emplace(w, v).second) queue.push(w);
      }
    }
    std::vector<size_t> cycle;  // start, ..., last
    for (size_t v = *last; v != start; v = parent[v]) cycle.push_back(v);
    cycle.push_back(start);
    std::reverse(cycle.begin(), cycle.end());
    std::string text;
    for (size_t v : cycle) text += steps_[v].step.id + " -> ";
    text += steps_[start].step.id;
    // Point at the need of `start` that enters the cycle.
    const StepInfo& s = steps_[start];
    const size_t next = cycle.size() > 1 ? cycle[1] : start;
    size_t j = 0;
    while (j < s.edges.size() && s.edges[j] != next) ++j;
    Error(s.need_locs[j], s.need_paths[j], "dependency cycle: " + text,
          "'->' reads 'needs'; remove one of these needs");
  }

  void ComputeAncestors() {
    for (StepInfo& info : steps_) {
      std::vector<size_t> todo(info.edges.begin(), info.edges.end());
      while (!todo.empty()) {
        const size_t v = todo.back();
        todo.pop_back();
        if (!info.ancestors.insert(v).second) continue;
        for (size_t w : steps_[v].edges) todo.push_back(w);
      }
    }
  }

  // Kahn's algorithm; among ready steps the earliest in the file goes first. Steps on a cycle
  // (already reported) follow in file order.
  std::vector<size_t> TopologicalOrder(bool is_finally) const {
    const size_t n = steps_.size();
    std::vector<size_t> missing(n, 0);
    std::vector<std::vector<size_t>> dependants(n);
    std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
    for (size_t i = 0; i < n; ++i) {
      if (steps_[i].is_finally != is_finally) continue;
      missing[i] = steps_[i].edges.size();
      for (size_t w : steps_[i].edges) dependants[w].push_back(i);
      if (missing[i] == 0) ready.push(i);
    }
    std::vector<size_t> order;
    std::vector<bool> placed(n, false);
    while (!ready.empty()) {
      const size_t v = ready.top();
      ready.pop();
      order.push_back(v);
      placed[v] = true;
      for (size_t d : dependants[v]) {
        if (--missing[d] == 0) ready.push(d);
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (steps_[i].is_finally == is_finally && !placed[i]) order.push_back(i);
    }
    return order;
  }

  // ---- steps, second pass: `with` ----

  void ReadWith(size_t i) {
    StepInfo& info = steps_[i];
    if (!info.kind_ok) return;
    current_ = &info;
    current_index_ = i;
    if (info.when_field) ReadWhen(*info.when_field, info.step);
    const size_t errors_before = errors_.size();
    const Field with =
        info.with ? *info.with : Field{"with", YAML::Node(), info.with_path, info.loc, info.loc};
    switch (info.step.kind) {
      case StepKind::kCluster:
        info.step.with = ReadCluster(with);
        break;
      case StepKind::kTopic:
        info.step.with = ReadTopic(with, info);
        break;
      case StepKind::kWorkload:
        info.step.with = ReadWorkload(with, info);
        break;
      case StepKind::kFaultKill:
      case StepKind::kFaultNetwork:
      case StepKind::kFaultStop:
      case StepKind::kFaultPause:
      case StepKind::kFaultRestart:
      case StepKind::kFaultPartition:
        info.step.with = ReadFault(with, info);
        break;
      case StepKind::kCheck:
        info.step.with = ReadCheck(with, info);
        break;
      case StepKind::kSleep:
        info.step.with = ReadSleep(with);
        break;
      case StepKind::kExec:
        info.step.with = ReadExec(with);
        break;
      case StepKind::kWait:
        info.step.with = ReadWait(with, info);
        break;
      case StepKind::kHttp:
        info.step.with = ReadHttp(with);
        break;
      case StepKind::kCollect:
        info.step.with = ReadCollect(with);
        break;
      case StepKind::kFlow:
        info.step.with = ReadSubFlow(with);
        break;
      case StepKind::kEach:
        info.step.with = ReadEach(with, info);
        break;
    }
    info.with_read = true;
    info.with_clean = errors_.size() == errors_before;
    current_ = nullptr;
  }

  ClusterWith ReadCluster(const Field& with) {
    ClusterWith c;
    auto m = ReadMap(with, &kClusterKeys);
    if (!m) return c;
    // Brokers and platforms are plug-ins: whether one is built in is for the registries to say
    // (flow/preflight.cc); here only the shape of the name is checked.
    if (const Field* f = m->Find("broker")) {
      if (auto v = ReadPluginName(*f)) c.broker = *v;
    }
    if (const Field* f = m->Find("platform")) {
      if (auto v = ReadPluginName(*f)) c.platform = *v;
    }
    if (const Field* f = m->Find("nodes")) {
      if (auto v = ReadInt(*f, 1, 16)) c.nodes = static_cast<int>(*v);
    }
    const Field* bootstrap = m->Find("bootstrap");
    std::optional<std::string> addresses;
    if (bootstrap != nullptr) {
      addresses = ReadString(*bootstrap, Refs::kAllow);
      if (addresses) c.bootstrap = *addresses;
    }
    if (c.platform == "external") {
      if (bootstrap == nullptr) {
        Missing(*m, "bootstrap",
                "platform: external needs the addresses, e.g. host1:9092,host2:9092");
      } else if (addresses && addresses->empty()) {
        Error(bootstrap->loc, bootstrap->path, "must not be empty",
              "platform: external needs the addresses, e.g. host1:9092,host2:9092");
      }
    }
    if (c.platform != "external" && bootstrap != nullptr && !c.bootstrap.empty()) {
      Error(bootstrap->loc, bootstrap->path, "bootstrap is only used with platform: external",
            "platform " + c.platform + " picks its own addresses; remove bootstrap");
    }
    ReadClusterLocal(*m, c);
    ReadClusterKubernetes(*m, c);
    if (const Field* f = m->Find("network")) {
      if (auto v = ReadEnum(*f, {"lab", "proxy", "loopback"})) {
        if ((c.platform != "local" && c.platform != "embedded") ||
            (*v == "proxy" && c.platform != "local")) {
          Error(f->loc, f->path,
                *v == "proxy" ? "network: proxy is only used with platform: local"
                              : "network is only used with platform: local or embedded",
                "platform " + c.platform + " has no lab network; remove network");
        } else {
          c.network = *v;
        }
      }
    }
    return c;
  }

  // context, provider, service, image: settings of platform kubernetes only. Which providers
  // exist is for the platform to say (preflight); here only their shape.
  template <typename Map>
  void ReadClusterKubernetes(const Map& m, ClusterWith& c) {
    for (const char* key : {"context", "provider", "service", "image"}) {
      const Field* f = m.Find(key);
      if (f == nullptr) continue;
      std::optional<std::string> v = ReadString(*f, Refs::kReject);
      if (!v) continue;
      if (c.platform != "kubernetes") {
        Error(f->loc, f->path, std::string(key) + " is only used with platform: kubernetes",
              "set platform: kubernetes, or remove " + std::string(key));
        continue;
      }
      const std::string k = key;
      if (k == "context") c.context = *v;
      if (k == "provider") c.provider = *v;
      if (k == "service") c.service = *v;
      if (k == "image") c.image = *v;
    }
  }

  // `lb` and `options`: settings of platforms that start their own servers (local). Which
  // options exist is for the broker's recipe to say (preflight); here only their shape.
  template <typename Map>
  void ReadClusterLocal(const Map& m, ClusterWith& c) {
    if (const Field* f = m.Find("lb")) {
      if (auto v = ReadString(*f, Refs::kReject)) {
        if (*v != "none" && *v != "haproxy") {
          Error(f->loc, f->path, "unknown load balancer '" + *v + "'", "lb: none or lb: haproxy");
        } else if (*v == "haproxy" && c.platform != "local") {
          Error(f->loc, f->path, "lb: haproxy needs platform: local",
                "platform " + c.platform + " has no load balancer; remove lb");
        } else {
          c.lb = *v;
        }
      }
    }
    if (const Field* f = m.Find("options")) {
      if (auto v = ReadStringMap(*f)) {
        if (c.platform != "local" && c.platform != "kubernetes" && !v->empty()) {
          Error(f->loc, f->path, "options are only used with platform: local or kubernetes",
                "platform " + c.platform + " takes no recipe options; remove options");
        } else {
          c.options = *v;
        }
      }
    }
  }

  TopicWith ReadTopic(const Field& with, StepInfo& info) {
    TopicWith t;
    auto m = ReadMap(with, &kTopicKeys);
    if (!m) return t;
    if (const Field* f = m->Find("cluster")) {
      if (auto v = ReadString(*f, Refs::kReject)) {
        t.cluster = *v;
        info.ref_field = *f;
      } else {
        info.ref_bad = true;
      }
    }
    if (const Field* f = m->Find("name")) {
      if (auto v = ReadRequiredString(*f, Refs::kAllow)) t.name = *v;
    } else {
      Missing(*m, "name", "e.g. name: orders");
    }
    if (const Field* f = m->Find("partitions")) {
      if (auto v = ReadInt(*f, 1, 10000)) t.partitions = static_cast<int>(*v);
    }
    if (const Field* f = m->Find("replication")) {
      // The upper bound is the cluster's node count, checked once all steps are read.
      if (auto v = ReadInt(*f, 1, std::numeric_limits<int>::max())) {
        t.replication = static_cast<int>(*v);
        info.replication_field = *f;
      }
    }
    if (const Field* f = m->Find("config")) {
      if (auto v = ReadStringMap(*f)) t.config = *v;
    }
    return t;
  }

  WorkloadWith ReadWorkload(const Field& with, StepInfo& info) {
    WorkloadWith w;
    auto m = ReadMap(with, &kWorkloadKeys);
    if (!m) return w;
    if (const Field* f = m->Find("cluster")) {
      if (auto v = ReadString(*f, Refs::kReject)) {
        w.cluster = *v;
        info.ref_field = *f;
      } else {
        info.ref_bad = true;
      }
    }
    if (const Field* f = m->Find("topic")) {
      if (auto v = ReadRequiredString(*f, Refs::kAllow)) w.topic = *v;
    } else {
      info.topic_omitted = true;  // the only topic step's name, filled in later
    }
    const Field* producers = m->Find("producers");
    const Field* consumers = m->Find("consumers");
    bool counts_ok = true;
    if (producers != nullptr) {
      auto v = ReadInt(*producers, 0, 256);
      counts_ok = counts_ok && v.has_value();
      if (v) w.producers = static_cast<int>(*v);
    }
    if (consumers != nullptr) {
      auto v = ReadInt(*consumers, 0, 256);
      counts_ok = counts_ok && v.has_value();
      if (v) w.consumers = static_cast<int>(*v);
    }
    if (counts_ok && w.producers == 0 && w.consumers == 0) {
      const Field* at = producers != nullptr ? producers : consumers;
      Error(at->loc, at->path, "producers and consumers are both 0; the workload would do nothing");
    }
    if (const Field* f = m->Find("rate")) ReadRate(*f, w);
    if (const Field* f = m->Find("size")) ReadSizeSpec(*f, w.size);
    if (const Field* f = m->Find("keys")) ReadKeys(*f, w.keys);
    const Field* duration = m->Find("duration");
    const Field* messages = m->Find("messages");
    if (duration != nullptr) w.duration_ns = ReadDuration(*duration, false);
    if (messages != nullptr) w.messages = ReadInt(*messages, 1, kInt64Max);
    if (duration != nullptr && messages != nullptr) {
      Error(messages->key_loc, messages->path, "set either duration or messages, not both",
            "duration runs the load for a time; messages sends a fixed count");
    } else if (duration == nullptr && messages == nullptr) {
      Error(m->loc, Child(m->path, "duration"), "missing duration or messages",
            "set duration: 30s to run for a time, or messages: 100000 to send a fixed count");
    }
    if (const Field* f = m->Find("acks")) ReadAcks(*f, w);
    if (const Field* f = m->Find("idempotence")) {
      if (auto v = ReadBool(*f)) w.idempotence = *v;
    }
    if (const Field* f = m->Find("linger")) w.linger_ns = ReadDuration(*f, true);
    if (const Field* f = m->Find("batch_size")) {
      auto v = ReadSize(*f);
      if (v && *v <= 0) {
        Error(f->loc, f->path, "must be greater than 0 bytes");
      } else if (v) {
        w.batch_bytes = *v;
      }
    }
    if (const Field* f = m->Find("compression")) {
      if (auto v = ReadEnum(*f, {"none", "gzip", "snappy", "lz4", "zstd"})) w.compression = *v;
    }
    if (const Field* f = m->Find("delivery")) {
      const std::vector<std::string> names = {"at-most-once", "at-least-once", "exactly-once",
                                              "ordered"};
      if (auto v = ReadEnum(*f, names)) {
        w.delivery =
            static_cast<Guarantee>(std::find(names.begin(), names.end(), *v) - names.begin());
      }
    }
    if (const Field* f = m->Find("drain_timeout")) {
      if (auto v = ReadDuration(*f, false)) w.drain_timeout_ns = *v;
    }
    if (const Field* f = m->Find("message_timeout")) {
      if (auto v = ReadDuration(*f, false)) w.message_timeout_ns = *v;
    }
    if (const Field* f = m->Find("group")) {
      if (auto v = ReadString(*f, Refs::kReject)) w.group = *v;
    }
    if (const Field* f = m->Find("seed")) {
      if (auto v = ReadInt(*f, 0, kInt64Max)) w.seed = static_cast<uint64_t>(*v);
    }
    if (const Field* f = m->Find("producer_config")) {
      if (auto v = ReadStringMap(*f)) w.producer_config = *v;
    }
    if (const Field* f = m->Find("consumer_config")) {
      if (auto v = ReadStringMap(*f)) w.consumer_config = *v;
    }
    return w;
  }

  void ReadRate(const Field& f, WorkloadWith& w) {
    const std::string expected = "a rate in messages per second, or max";
    auto s = ReadScalar(f, expected, Refs::kReject);
    if (!s) return;
    if (s->text == "max" || s->text == "unlimited") {
      w.rate = 0;
      return;
    }
    double v = 0;
    if (s->null || !ParseFloatText(s->text, &v)) {
      TypeError(f, *s, expected);
      return;
    }
    if (!s->plain) {
      TypeError(f, *s, expected, "remove the quotes to write a number");
      return;
    }
    if (v < 0) {
      ValueError(f, *s, "must be at least 0, got " + s->text, "0 or max means as fast as possible");
      return;
    }
    w.rate = v;
  }

  void ReadSizeSpec(const Field& f, SizeDist& size) {
    if (!f.value.IsMap()) {
      if (auto v = ReadMessageSize(f)) {
        size.kind = SizeDist::Kind::kFixed;
        size.bytes = *v;
      }
      return;
    }
    auto m = ReadMap(f, &kSizeKeys);
    if (!m) return;
    std::optional<std::string> distribution;
    if (const Field* d = m->Find("distribution")) {
      distribution = ReadEnum(*d, {"uniform", "normal"});
    } else {
      Missing(*m, "distribution", "uniform (with min and max) or normal (with mean and stddev)");
    }
    auto read = [&](std::string_view key, bool message_size) -> std::optional<int64_t> {
      const Field* e = m->Find(key);
      if (e == nullptr) return std::nullopt;
      return message_size ? ReadMessageSize(*e) : ReadSize(*e);
    };
    const auto min = read("min", true);
    const auto max = read("max", true);
    const auto mean = read("mean", true);
    const auto stddev = read("stddev", false);
    if (!distribution) return;
    auto misplaced = [&](std::string_view key, const char* belongs_to) {
      if (const Field* e = m->Find(key)) {
        Error(e->key_loc, e->path,
              "'" + std::string(key) + "' is not used by distribution: " + *distribution,
              "it belongs to distribution: " + std::string(belongs_to));
      }
    };
    if (*distribution == "uniform") {
      size.kind = SizeDist::Kind::kUniform;
      misplaced("mean", "normal");
      misplaced("stddev", "normal");
      if (m->Find("min") == nullptr) Missing(*m, "min");
      if (m->Find("max") == nullptr) Missing(*m, "max");
    } else {
      size.kind = SizeDist::Kind::kNormal;
      if (m->Find("mean") == nullptr) Missing(*m, "mean");
      if (m->Find("stddev") == nullptr) Missing(*m, "stddev");
      size.min = kMinMessageBytes;
      size.max = kMaxMessageBytes;
      if (mean) size.mean = *mean;
      if (stddev) size.stddev = *stddev;
    }
    if (min) size.min = *min;
    if (max) size.max = *max;
    if (size.min > size.max && (min || max)) {
      const Field* at = max ? m->Find("max") : m->Find("min");
      Error(at->loc, at->path,
            "max (" + std::to_string(size.max) + " bytes) is below min (" +
                std::to_string(size.min) + " bytes)");
    } else if (size.kind == SizeDist::Kind::kNormal && mean &&
               (*mean < size.min || *mean > size.max)) {
      const Field* at = m->Find("mean");
      Error(at->loc, at->path,
            "mean (" + std::to_string(*mean) + " bytes) is outside [min, max] = [" +
                std::to_string(size.min) + ", " + std::to_string(size.max) + "]");
    }
  }

  void ReadKeys(const Field& f, KeySpec& keys) {
    if (!f.value.IsMap()) {
      auto s = ReadScalar(f, "none or a map {mode, count}", Refs::kReject);
      if (!s) return;
      if (s->text != "none") {
        TypeError(f, *s, "none or a map {mode, count}",
                  "e.g. keys: {mode: round-robin, count: 100}");
        return;
      }
      keys.mode = KeySpec::Mode::kNone;
      return;
    }
    auto m = ReadMap(f, &kKeysKeys);
    if (!m) return;
    const Field* mode = m->Find("mode");
    if (mode == nullptr) {
      Missing(*m, "mode", "none, round-robin or random");
      return;
    }
    auto v = ReadEnum(*mode, {"none", "round-robin", "random"});
    if (!v) return;
    if (*v == "none") {
      keys.mode = KeySpec::Mode::kNone;
      return;
    }
    keys.mode = *v == "random" ? KeySpec::Mode::kRandom : KeySpec::Mode::kRoundRobin;
    if (const Field* c = m->Find("count")) {
      if (auto n = ReadInt(*c, 1, kInt64Max)) keys.count = *n;
    } else {
      Missing(*m, "count", "the number of distinct keys, e.g. count: 100");
    }
  }

  void ReadAcks(const Field& f, WorkloadWith& w) {
    auto s = ReadScalar(f, "acks 0, 1 or all", Refs::kReject);
    if (!s) return;
    if (s->text == "0" || s->text == "1" || s->text == "all") {
      w.acks = s->text;
    } else if (s->text == "-1") {
      w.acks = "all";
    } else {
      TypeError(f, *s, "acks 0, 1 or all");
    }
  }

  // A YAML value as JSON for the network-fault library: plain scalars that read as numbers or
  // booleans become those, everything else text (after parameter substitution).
  std::optional<nlohmann::json> ReadJsonValue(const Field& f) {
    if (f.value.IsMap()) {
      auto m = ReadMap(f, nullptr);
      if (!m) return std::nullopt;
      nlohmann::json out = nlohmann::json::object();
      for (const Field& e : m->entries) {
        auto v = ReadJsonValue(e);
        if (!v) return std::nullopt;
        out[e.name] = *v;
      }
      return out;
    }
    if (f.value.IsSequence()) {
      nlohmann::json out = nlohmann::json::array();
      for (size_t i = 0; i < f.value.size(); ++i) {
        const YAML::Node item = f.value[i];
        Field e{"", item, f.path + "[" + std::to_string(i) + "]", LocOf(item, f.loc), f.loc};
        auto v = ReadJsonValue(e);
        if (!v) return std::nullopt;
        out.push_back(*v);
      }
      return out;
    }
    auto sc = ReadScalar(f, "a value", Refs::kReject);
    if (!sc) return std::nullopt;
    if (sc->null) return nlohmann::json();
    if (sc->plain) {
      bool b = false;
      if (IsBoolText(sc->text, &b)) return nlohmann::json(b);
      nlohmann::json n = nlohmann::json::parse(sc->text, nullptr, false);
      if (!n.is_discarded() && n.is_number()) return n;
    }
    return nlohmann::json(sc->text);
  }

  // The fields of `m` named in `keys` as one JSON object; nullopt after an error.
  std::optional<nlohmann::json> ReadJsonFields(const MapFields& m,
                                               const std::vector<std::string>& keys) {
    nlohmann::json out = nlohmann::json::object();
    bool ok = true;
    for (const std::string& k : keys) {
      const Field* f = m.Find(k);
      if (f == nullptr) continue;
      auto v = ReadJsonValue(*f);
      if (v) {
        out[k] = *v;
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // A library error "delay.jitter: ..." is reported at the field it names.
  void NetworkSpecError(const MapFields& m, const std::string& message, const std::string& hint) {
    const std::string head = message.substr(0, message.find_first_of(".:["));
    const Field* f = m.Find(head);
    Error(f ? f->loc : m.loc, f ? f->path : m.path, message, hint);
  }

  void ReadNetworkFault(const MapFields& m, FaultWith& fw) {
    for (const char* k : {"from", "to", "endpoint"}) {
      if (const Field* f = m.Find(k)) {
        auto v = ReadRequiredString(*f, Refs::kAllow);
        if (!v) continue;
        (k[0] == 'f' ? fw.from : k[0] == 't' ? fw.to : fw.endpoint) = *v;
      }
    }
    const Field* target = m.Find("target");
    if (target != nullptr) {
      if (auto v = ReadRequiredString(*target, Refs::kAllow)) fw.target = *v;
    }
    const bool link = m.Find("from") || m.Find("to");
    if (link && (m.Find("from") == nullptr || m.Find("to") == nullptr)) {
      Missing(m, m.Find("from") ? "to" : "from", "a link needs from and to, e.g. from: clients, to: brokers");
    }
    const int ways = (target ? 1 : 0) + (m.Find("endpoint") ? 1 : 0) + (link ? 1 : 0);
    if (ways == 0) {
      Missing(m, "endpoint",
              "say where: from and to (a link), endpoint (a host), or target (a node)");
    } else if (ways > 1) {
      Error(m.loc, m.path, "give one of from/to, endpoint and target",
            "from and to impair a link, endpoint or target everything one host sends and "
            "receives");
    }
    auto imp = ReadJsonFields(m, kImpairmentKeys);
    if (!imp) return;
    if (imp->empty()) {
      Error(m.loc, m.path, "fault.network needs an impairment",
            "e.g. delay: 100ms, loss: 5%, rate: 10mbit (docs/network-faults.md)");
      return;
    }
    nlohmann::json probe = *imp;
    probe["endpoint"] = "host";
    auto parsed = faults::network::Impairment::FromJson(probe);
    if (!parsed.ok()) {
      NetworkSpecError(m, parsed.status().message(), "docs/network-faults.md lists the fields");
      return;
    }
    fw.impairment = imp->dump();
    // The embedded platform's node delay takes a plain duration.
    if (const Field* f = m.Find("delay"); f != nullptr && f->value.IsScalar() && parsed->delay &&
                                           parsed->delay->jitter_ns == 0) {
      fw.delay_ns = parsed->delay->time_ns;
    }
  }

  void ReadPartitionFault(const MapFields& m, FaultWith& fw) {
    auto spec = ReadJsonFields(m, kPartitionSpecKeys);
    if (!spec) return;
    if (!spec->contains("partition")) {
      Missing(m, "partition", "one of isolate, halves, groups, majorities-ring, bridge, one-way");
      return;
    }
    // A single name is a list of one.
    for (const char* k : {"nodes", "among"}) {
      if (spec->contains(k) && (*spec)[k].is_string()) (*spec)[k] = nlohmann::json::array({(*spec)[k]});
    }
    auto parsed = faults::network::PartitionSpec::FromJson(*spec);
    if (!parsed.ok()) {
      NetworkSpecError(m, parsed.status().message(), "docs/network-faults.md, Partitions");
      return;
    }
    fw.partition = spec->dump();
  }

  FaultWith ReadFault(const Field& with, StepInfo& info) {
    FaultWith fw;
    if (info.step.kind == StepKind::kFaultPartition) {
      auto m = ReadMap(with, &kFaultPartitionKeys);
      if (!m) return fw;
      ReadFaultCommon(*m, fw, info);
      ReadPartitionFault(*m, fw);
      return fw;
    }
    if (info.step.kind == StepKind::kFaultNetwork) {
      auto m = ReadMap(with, &kFaultNetworkKeys,
                       {{"failback", "'failback' is for kind: fault.kill"}});
      if (!m) return fw;
      ReadFaultCommon(*m, fw, info);
      ReadNetworkFault(*m, fw);
      return fw;
    }
    const bool kill = info.step.kind == StepKind::kFaultKill;
    const bool network = false;
    const std::map<std::string, std::string> elsewhere =
        kill ? std::map<std::string, std::string>{{"delay", "'delay' is for kind: fault.network"}}
        : network
            ? std::map<std::string, std::string>{{"failback", "'failback' is for kind: fault.kill"}}
            : std::map<std::string, std::string>{{"delay", "'delay' is for kind: fault.network"},
                                                 {"failback", "'failback' is for kind: fault.kill"}};
    auto m = ReadMap(with, kill ? &kFaultKillKeys : network ? &kFaultNetworkKeys : &kFaultProcessKeys,
                     elsewhere);
    if (!m) return fw;
    if (const Field* f = m->Find("cluster")) {
      if (auto v = ReadString(*f, Refs::kReject)) {
        fw.cluster = *v;
        info.ref_field = *f;
      } else {
        info.ref_bad = true;
      }
    }
    if (const Field* f = m->Find("target")) {
      if (auto v = ReadRequiredString(*f, Refs::kAllow)) fw.target = *v;
    } else {
      Missing(*m, "target", "a node (broker-1), a role (leader, random) or a step output");
    }
    if (const Field* f = m->Find("duration")) fw.duration_ns = ReadDuration(*f, false);
    if (const Field* f = m->Find("delay")) {
      fw.delay_ns = ReadDuration(*f, false);
    } else if (network) {
      Missing(*m, "delay", "the added round-trip time, e.g. delay: 50ms");
    }
    if (const Field* f = m->Find("failback")) {
      if (auto v = ReadBool(*f)) fw.failback = *v;
    }
    return fw;
  }

  // `cluster` and `duration`, as every fault kind has them.
  void ReadFaultCommon(const MapFields& m, FaultWith& fw, StepInfo& info) {
    if (const Field* f = m.Find("cluster")) {
      if (auto v = ReadString(*f, Refs::kReject)) {
        fw.cluster = *v;
        info.ref_field = *f;
      } else {
        info.ref_bad = true;
      }
    }
    if (const Field* f = m.Find("duration")) fw.duration_ns = ReadDuration(*f, false);
  }

  CheckWith ReadCheck(const Field& with, StepInfo& info) {
    CheckWith c;
    auto m = ReadMap(with, &kCheckKeys);
    if (!m) return c;
    if (const Field* f = m->Find("workload")) {
      if (auto v = ReadString(*f, Refs::kReject)) {
        c.workload = *v;
        info.ref_field = *f;
      } else {
        info.ref_bad = true;
      }
    }
    const Field* expect = m->Find("expect");
    if (expect == nullptr) {
      Missing(*m, "expect", "e.g. expect: { lost: 0, latency.end_to_end.p99: \"< 2s\" }");
      return c;
    }
    auto e = ReadMap(*expect, nullptr);
    if (!e) return c;
    if (e->entries.empty()) {
      Error(expect->loc, expect->path, "expect needs at least one condition",
            "e.g. expect: { lost: 0 }");
    }
    for (const Field& entry : e->entries) {
      if (!IsResultField(entry.name)) {
        Error(entry.key_loc, entry.path, "'" + entry.name + "' is not a result field",
              "result fields are dotted names, e.g. lost, latency.end_to_end.p99 or "
              "phases[0].during.latency.end_to_end.p50");
        continue;
      }
      auto s = ReadScalar(entry, "a condition", Refs::kReject);
      if (!s) continue;
      bool ignored = false;
      if (s->null || (s->plain && IsBoolText(s->text, &ignored))) {
        TypeError(entry, *s, "a condition such as 0, \"< 2s\" or \">= 1000\"");
        continue;
      }
      if (Status st = ValidateCondition(s->text); !st.ok()) {
        ValueError(entry, *s, st.message());
        continue;
      }
      c.expect.push_back({entry.name, s->text, entry.key_loc});
    }
    return c;
  }

  SleepWith ReadSleep(const Field& with) {
    SleepWith sw;
    auto m = ReadMap(with, &kSleepKeys);
    if (!m) return sw;
    if (const Field* f = m->Find("duration")) {
      if (auto v = ReadDuration(*f, false)) sw.duration_ns = *v;
    } else {
      Missing(*m, "duration", "how long to wait, e.g. duration: 5s");
    }
    return sw;
  }

  ExecWith ReadExec(const Field& with) {
    ExecWith e;
    auto m = ReadMap(with, &kExecKeys);
    if (!m) return e;
    if (const Field* f = m->Find("argv")) {
      ReadArgv(*f, e);
    } else {
      Missing(*m, "argv", "the program and its arguments, e.g. argv: [/bin/echo, hello]");
    }
    if (const Field* f = m->Find("env")) {
      if (auto entries = ReadMap(*f, nullptr)) {
        for (const Field& entry : entries->entries) {
          auto v = ReadString(entry, Refs::kReject);
          if (!v) continue;
          if (entry.name.empty() || entry.name.find('=') != std::string::npos) {
            Error(entry.key_loc, entry.path,
                  "'" + entry.name + "' is not an environment variable name",
                  "names must not be empty or contain '='");
            continue;
          }
          e.env[entry.name] = *v;
        }
      }
    }
    if (const Field* f = m->Find("cwd")) {
      if (auto v = ReadRequiredString(*f, Refs::kReject)) e.cwd = *v;
    }
    if (const Field* f = m->Find("expect_exit")) {
      if (auto v = ReadInt(*f, 0, 255)) e.expect_exit = static_cast<int>(*v);
    }
    if (const Field* f = m->Find("max_output")) {
      auto v = ReadSize(*f);
      if (v && *v <= 0) {
        Error(f->loc, f->path, "must be greater than 0 bytes");
      } else if (v) {
        e.max_output = *v;
      }
    }
    return e;
  }

  // A list of strings, the first one (the program) not empty. Elements may use step outputs;
  // they are not split on blanks: each element is one argument.
  void ReadArgv(const Field& f, ExecWith& e) {
    const std::string hint = "one element per argument, e.g. argv: [/bin/sh, -c, \"exit 3\"]";
    if (!f.value.IsDefined() || f.value.IsNull()) {
      Error(f.loc, f.path, "expected a non-empty list of strings, got nothing", hint);
      return;
    }
    if (!f.value.IsSequence()) {
      Error(f.loc, f.path, "expected a list of strings, got " + Describe(f.value),
            "exec runs no shell: " + hint);
      return;
    }
    if (f.value.size() == 0) {
      Error(f.loc, f.path, "must not be empty", "the first element is the program to run");
      return;
    }
    size_t i = 0;
    for (const YAML::Node& node : f.value) {
      const Field item{"", node, f.path + "[" + std::to_string(i) + "]", LocOf(node, f.loc), f.loc};
      auto v = i == 0 ? ReadRequiredString(item, Refs::kAllow) : ReadString(item, Refs::kAllow);
      if (v) e.argv.push_back(*v);
      ++i;
    }
  }

  // ---- the step kinds of flow/steps/{wait,http,collect,flow,each}_step.cc ----

  WaitWith ReadWait(const Field& with, StepInfo& info) {
    WaitWith w;
    auto m = ReadMap(with, &kWaitKeys);
    if (!m) return w;
    if (const Field* f = m->Find("workload")) {
      if (auto v = ReadString(*f, Refs::kReject)) {
        w.workload = *v;
        info.ref_field = *f;
        info.wants_workload = true;
      } else {
        info.ref_bad = true;
      }
    }
    if (const Field* f = m->Find("deadline")) {
      if (auto v = ReadDuration(*f, false)) w.deadline_ns = *v;
    } else {
      Missing(*m, "deadline", "how long to wait at most, e.g. deadline: 30s");
    }
    if (const Field* f = m->Find("poll")) {
      if (auto v = ReadDuration(*f, false)) w.poll_ns = *v;
    }
    const Field* until = m->Find("until");
    if (until == nullptr) {
      Missing(*m, "until",
              "e.g. until: { received: \">= 5000\" } or until: { "
              "\"steps.probe.outputs.status\": \"== ready\" }");
      return w;
    }
    auto u = ReadMap(*until, nullptr);
    if (!u) return w;
    if (u->entries.empty()) {
      Error(until->loc, until->path, "until needs at least one condition",
            "e.g. until: { received: \">= 5000\" }");
    }
    for (const Field& entry : u->entries) {
      const bool output = entry.name.rfind("steps.", 0) == 0;
      if (output) {
        if (!CheckWaitOutput(entry)) continue;
      } else if (std::find(kLiveWorkloadFields.begin(), kLiveWorkloadFields.end(), entry.name) ==
                 kLiveWorkloadFields.end()) {
        Error(entry.key_loc, entry.path,
              "'" + entry.name + "' is neither a live workload total nor a step output",
              JoinHints(SuggestHint(entry.name, kLiveWorkloadFields, "workload totals"),
                        "a step output is written steps.ID.outputs.NAME"));
        continue;
      } else {
        info.wants_workload = true;
      }
      auto s = ReadScalar(entry, "a condition", Refs::kReject);
      if (!s) continue;
      bool ignored = false;
      if (s->null || (s->plain && IsBoolText(s->text, &ignored))) {
        TypeError(entry, *s, "a condition such as \">= 5000\" or \"== ready\"");
        continue;
      }
      if (Status st = ValidateWaitCondition(entry.name, s->text, output); !st.ok()) {
        ValueError(entry, *s, st.message());
        continue;
      }
      w.until.push_back({entry.name, s->text, entry.key_loc});
    }
    return w;
  }

  // `steps.ID.outputs.PATH` as a key of `until`: well formed, naming another known step. The
  // step need not be an ancestor: waiting for what a parallel step reports is the point.
  bool CheckWaitOutput(const Field& entry) {
    auto path = ParsePath(entry.name);
    const bool shape_ok = path.ok() && path->size() >= 4 &&
                          std::holds_alternative<std::string>((*path)[1]) &&
                          std::holds_alternative<std::string>((*path)[2]) &&
                          std::get<std::string>((*path)[2]) == "outputs";
    if (!shape_ok) {
      Error(entry.key_loc, entry.path,
            "'" + entry.name + "': a step output is written steps.ID.outputs.NAME");
      return false;
    }
    const std::string& id = std::get<std::string>((*path)[1]);
    auto it = id_index_.find(id);
    if (it == id_index_.end()) {
      Error(entry.key_loc, entry.path, "'" + entry.name + "' refers to unknown step '" + id + "'",
            SuggestHint(id, all_ids_, "steps"));
      return false;
    }
    if (current_ != nullptr && it->second == current_index_) {
      Error(entry.key_loc, entry.path, "a wait cannot wait for its own outputs");
      return false;
    }
    return true;
  }

  // Workload totals take numeric conditions (durations only for elapsed_s); step outputs also
  // take text equality ("== ready"). See verify/output_condition.h.
  static Status ValidateWaitCondition(const std::string& field, const std::string& text,
                                      bool output) {
    const std::string_view t = TrimBlanks(text);
    Status numeric = ValidateCondition(t);
    if (!numeric.ok()) {
      const bool text_op = t.substr(0, 2) == "==" || t.substr(0, 2) == "!=";
      if (!output || !text_op) {
        return output ? InvalidArgument(numeric.message() + "; a step output may also be "
                                        "compared with text: == ready, != starting")
                      : numeric;
      }
      if (TrimBlanks(t.substr(2)).empty()) {
        return InvalidArgument("condition '" + std::string(t) + "' has no value after '" +
                               std::string(t.substr(0, 2)) + "'");
      }
      return Status::Ok();
    }
    // A numeric condition: is its operand a duration?
    std::string_view operand = t;
    for (std::string_view op : {"<=", ">=", "==", "!=", "<", ">"}) {
      if (operand.substr(0, op.size()) == op) {
        operand = TrimBlanks(operand.substr(op.size()));
        break;
      }
    }
    double number = 0;
    if (ParseFloatText(operand, &number)) return Status::Ok();
    const std::string_view name = std::string_view(field).substr(field.rfind('.') + 1);
    const bool timed = output ? (name.ends_with("_ms") || name.ends_with("_s")) : field == "elapsed_s";
    if (!timed) {
      return InvalidArgument("'" + field + "' is not a time, so it cannot be compared with the "
                             "duration " + std::string(operand) + "; compare it with a number");
    }
    return Status::Ok();
  }

  HttpWith ReadHttp(const Field& with) {
    HttpWith h;
    auto m = ReadMap(with, &kHttpKeys);
    if (!m) return h;
    if (const Field* f = m->Find("url")) {
      if (auto v = ReadRequiredString(*f, Refs::kAllow)) {
        h.url = *v;
        // A URL built from step outputs is checked when the step starts.
        if (v->find("${{") == std::string::npos) {
          if (Status s = CheckHttpUrl(*v); !s.ok()) {
            Error(f->loc, f->path, s.message(), "e.g. url: http://127.0.0.1:8080/health");
          }
        }
      }
    } else {
      Missing(*m, "url", "e.g. url: http://127.0.0.1:8080/health");
    }
    if (const Field* f = m->Find("method")) {
      if (auto v = ReadEnum(*f, {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"})) h.method = *v;
    }
    if (const Field* f = m->Find("headers")) {
      if (auto v = ReadStringMap(*f)) {
        for (const auto& [name, value] : *v) {
          const bool bad = name.empty() || std::any_of(name.begin(), name.end(), [](char c) {
            return c <= ' ' || c == ':' || c == 127;
          });
          if (bad || value.find_first_of("\r\n") != std::string::npos) {
            const Field* at = f;
            Error(at->loc, Child(at->path, name),
                  bad ? "'" + name + "' is not a header name" : "header values cannot span lines",
                  "e.g. headers: { Accept: application/json }");
            continue;
          }
          h.headers[name] = value;
        }
      }
    }
    if (const Field* f = m->Find("body")) {
      if (auto v = ReadString(*f, Refs::kAllow)) h.body = *v;
    }
    if (const Field* f = m->Find("expect")) ReadHttpExpect(*f, h);
    if (const Field* f = m->Find("deadline")) h.deadline_ns = ReadDuration(*f, false);
    if (const Field* f = m->Find("interval")) {
      if (auto v = ReadDuration(*f, false)) h.interval_ns = *v;
    }
    if (const Field* f = m->Find("request_timeout")) {
      if (auto v = ReadDuration(*f, false)) {
        if (*v < 1'000'000) {
          Error(f->loc, f->path, "must be at least 1ms", "e.g. request_timeout: 2s");
        } else {
          h.request_timeout_ns = *v;
        }
      }
    }
    if (const Field* f = m->Find("max_body")) {
      auto v = ReadSize(*f);
      if (v && *v <= 0) {
        Error(f->loc, f->path, "must be greater than 0 bytes");
      } else if (v) {
        h.max_body = *v;
      }
    }
    return h;
  }

  void ReadHttpExpect(const Field& f, HttpWith& h) {
    auto m = ReadMap(f, &kHttpExpectKeys);
    if (!m) return;
    if (const Field* s = m->Find("status")) {
      std::vector<Field> items;
      if (s->value.IsSequence()) {
        size_t i = 0;
        for (const YAML::Node& node : s->value) {
          items.push_back({"", node, s->path + "[" + std::to_string(i++) + "]", LocOf(node, s->loc),
                           s->loc});
        }
        if (items.empty()) Error(s->loc, s->path, "must not be empty", "e.g. status: [200, 204]");
      } else {
        items.push_back(*s);
      }
      for (const Field& item : items) {
        if (auto v = ReadInt(item, 100, 599)) h.expect_status.push_back(static_cast<int>(*v));
      }
    }
    if (const Field* c = m->Find("body_contains")) {
      if (auto v = ReadRequiredString(*c, Refs::kReject)) h.body_contains = *v;
    }
    if (const Field* r = m->Find("body_regex")) {
      if (auto v = ReadRequiredString(*r, Refs::kReject)) {
        try {
          std::regex compiled(*v, std::regex::ECMAScript);
          h.body_regex = *v;
        } catch (const std::regex_error& e) {
          Error(r->loc, r->path, "'" + *v + "' is not a valid regular expression: " + e.what(),
                "the syntax is ECMAScript's, e.g. body_regex: \"status.*up\"");
        }
      }
    }
  }

  CollectWith ReadCollect(const Field& with) {
    CollectWith c;
    auto m = ReadMap(with, &kCollectKeys);
    if (!m) return c;
    if (const Field* f = m->Find("paths")) {
      std::vector<Field> items;
      if (f->value.IsSequence()) {
        size_t i = 0;
        for (const YAML::Node& node : f->value) {
          items.push_back({"", node, f->path + "[" + std::to_string(i++) + "]",
                           LocOf(node, f->loc), f->loc});
        }
      } else if (f->value.IsScalar()) {
        items.push_back(*f);  // `paths: logs/*.log` is the one-element list
      } else {
        Error(f->loc, f->path, "expected a list of paths or glob patterns, got " +
                                   (f->value.IsDefined() && !f->value.IsNull() ? Describe(f->value)
                                                                                : "nothing"),
              "e.g. paths: [/var/log/app/*.log, out/report.txt]");
      }
      for (const Field& item : items) {
        if (auto v = ReadRequiredString(item, Refs::kAllow)) c.paths.push_back(*v);
      }
    }
    if (const Field* f = m->Find("name")) {
      if (auto v = ReadRequiredString(*f, Refs::kReject)) {
        if (v->find('/') != std::string::npos || *v == "." || *v == "..") {
          Error(f->loc, f->path, "'" + *v + "' is not a directory name",
                "one name, without '/', e.g. name: broker-logs");
        } else {
          c.name = *v;
        }
      }
    }
    if (const Field* f = m->Find("logs")) {
      if (auto v = ReadBool(*f)) c.logs = *v;
    }
    return c;
  }

  // each: `items` (a list, or one step-output reference), `step` (kind and with of a template
  // kind), `parallelism`, `fail_fast`. The template's fields are read as a step's of its kind, in
  // the each step's place: they may use what the each step may, and each.item / each.index.
  EachWith ReadEach(const Field& with, StepInfo& info) {
    EachWith e;
    auto m = ReadMap(with, &kEachKeys);
    if (!m) return e;
    const std::string items_hint =
        "e.g. items: [a, b, c] or items: \"${{ steps.cluster.outputs.nodes }}\"";
    if (const Field* f = m->Find("items")) {
      if (f->value.IsSequence()) {
        size_t i = 0;
        for (const YAML::Node& node : f->value) {
          const Field item{"", node, f->path + "[" + std::to_string(i++) + "]",
                           LocOf(node, f->loc), f->loc};
          if (auto v = ReadRequiredString(item, Refs::kReject)) e.items.push_back(*v);
        }
      } else if (auto v = ReadRequiredString(*f, Refs::kAllow)) {
        if (v->find("${{") == std::string::npos) {
          Error(f->loc, f->path, "expected a list, or a step output that is one; got '" + *v + "'",
                items_hint);
        } else {
          e.items_expr = *v;
        }
      }
    } else {
      Missing(*m, "items", items_hint);
    }
    if (const Field* f = m->Find("parallelism")) {
      if (auto v = ReadInt(*f, 1, 1024)) e.parallelism = static_cast<int>(*v);
    }
    if (const Field* f = m->Find("fail_fast")) {
      if (auto v = ReadBool(*f)) e.fail_fast = *v;
    }
    const Field* t = m->Find("step");
    if (t == nullptr) {
      Missing(*m, "step", "the step run per item, e.g. step: { kind: exec, with: { argv: [echo, "
                          "\"${{ each.item }}\"] } }");
      return e;
    }
    auto tm = ReadMap(*t, &kEachStepKeys);
    if (!tm) return e;
    Step step;
    step.id = info.step.id;
    step.loc = tm->loc;
    const Field* k = tm->Find("kind");
    if (k == nullptr) {
      Missing(*tm, "kind", "one of " + Join(EachTemplateKinds()));
      return e;
    }
    auto ks = ReadScalar(*k, "a step kind", Refs::kReject);
    if (!ks) return e;
    const std::vector<std::string>& kinds = EachTemplateKinds();
    if (ks->null || std::find(kinds.begin(), kinds.end(), ks->text) == kinds.end()) {
      Error(k->loc, k->path, "'" + ks->text + "' cannot be an each step's template",
            "a template is one of " + Join(kinds));
      return e;
    }
    step.kind = static_cast<StepKind>(
        std::find(kKindNames.begin(), kKindNames.end(), ks->text) - kKindNames.begin());
    const Field* tw = tm->Find("with");
    const Field twith = tw != nullptr ? *tw : Field{"with", YAML::Node(), t->path + ".with",
                                                    tm->loc, tm->loc};
    in_each_template_ = true;
    switch (step.kind) {
      case StepKind::kExec:
        step.with = ReadExec(twith);
        break;
      case StepKind::kHttp:
        step.with = ReadHttp(twith);
        break;
      case StepKind::kSleep:
        step.with = ReadSleep(twith);
        break;
      case StepKind::kCollect:
        step.with = ReadCollect(twith);
        break;
      default:
        break;  // not a template kind: reported above
    }
    in_each_template_ = false;
    e.step = std::make_shared<const Step>(std::move(step));
    return e;
  }

  SubFlowWith ReadSubFlow(const Field& with) {
    SubFlowWith sf;
    auto m = ReadMap(with, &kSubFlowKeys);
    if (!m) return sf;
    if (const Field* f = m->Find("params")) {
      if (auto v = ReadStringMap(*f)) sf.params = *v;
    }
    const Field* f = m->Find("path");
    if (f == nullptr) {
      Missing(*m, "path", "the sub-flow's file, relative to this one, e.g. path: setup.yaml");
      return sf;
    }
    auto v = ReadRequiredString(*f, Refs::kReject);
    if (!v) return sf;
    sf.path = *v;
    namespace fs = std::filesystem;
    const fs::path written(*v);
    sf.file = (written.is_absolute() ? written
                                     : fs::path(file_).parent_path() / written).lexically_normal();
    std::error_code ec;
    const std::string canonical = fs::weakly_canonical(sf.file, ec).string();
    const std::string self = fs::weakly_canonical(file_, ec).string();
    std::vector<std::string> stack = stack_;
    stack.push_back(self);
    if (std::find(stack.begin(), stack.end(), canonical) != stack.end()) {
      std::string chain;
      for (const std::string& s : stack) chain += fs::path(s).filename().string() + " -> ";
      chain += fs::path(canonical).filename().string();
      Error(f->loc, f->path, "sub-flow recursion: " + chain,
            "a flow cannot include itself, directly or through other flows");
      return sf;
    }
    if (stack.size() > 8) {
      Error(f->loc, f->path, "sub-flows nest more than 8 deep", "flatten some of them");
      return sf;
    }
    LoadResult sub = LoadNested(sf.file, sf.params, stack);
    if (!sub.errors.empty()) {
      Error(f->loc, f->path,
            "the sub-flow " + sf.file + " has " + std::to_string(sub.errors.size()) +
                (sub.errors.size() == 1 ? " problem" : " problems") + " (listed with its file:line)");
      sub_errors_.insert(sub_errors_.end(), sub.errors.begin(), sub.errors.end());
      return sf;
    }
    sf.flow = std::make_shared<const FlowSpec>(std::move(*sub.flow));
    return sf;
  }

  // ---- steps, third pass: references between steps ----

  // Resolves `*id` to a step of `want` kind (or fills in the only one), and checks that `info`
  // depends on it. Returns the target, or nullptr after reporting a problem.
  const StepInfo* ResolveReference(const StepInfo& info, StepKind want, std::string_view key,
                                   std::string* id) {
    const std::string want_name = StepKindName(want);
    std::vector<std::string> candidates;
    for (const StepInfo& s : steps_) {
      if (s.kind_ok && s.step.kind == want) candidates.push_back(s.step.id);
    }
    const SourceLoc loc = info.ref_field ? info.ref_field->loc : info.with_loc;
    const std::string path = Child(info.with_path, key);
    const StepInfo* target = nullptr;
    if (!id->empty()) {
      auto it = id_index_.find(*id);
      if (it == id_index_.end()) {
        Error(loc, path, "unknown step '" + *id + "'",
              SuggestHint(*id, candidates, want_name + " steps"));
        return nullptr;
      }
      target = &steps_[it->second];
      if (!target->kind_ok) return nullptr;  // its kind is already reported
      if (target->step.kind != want) {
        Error(loc, path,
              "step '" + *id + "' is a " + StepKindName(target->step.kind) + " step, not a " +
                  want_name + " step",
              candidates.empty() ? "this flow has no " + want_name + " step"
                                 : want_name + " steps: " + Join(candidates));
        return nullptr;
      }
    } else if (candidates.empty() && want == StepKind::kWorkload) {
      return nullptr;  // a check in a flow without workloads can only test flow-level results
    } else if (candidates.empty()) {
      Error(loc, path, "this flow has no " + want_name + " step",
            "add a step with kind: " + want_name);
      return nullptr;
    } else if (candidates.size() > 1) {
      Error(loc, path,
            "ambiguous: the flow has " + std::to_string(candidates.size()) + " " + want_name +
                " steps (" + Join(candidates) + ")",
            "set " + std::string(key) + ": to one of them");
      return nullptr;
    } else {
      *id = candidates.front();
      target = &steps_[id_index_.at(*id)];
    }
    // Finally steps run after everything else, so they may use any main step.
    const size_t target_index = id_index_.at(*id);
    if (!info.is_finally && info.ancestors.count(target_index) == 0) {
      Error(loc, path,
            "step '" + info.step.id + "' uses " + want_name + " '" + *id +
                "' but does not depend on it",
            "add '" + *id + "' to the needs of '" + info.step.id +
                "' (directly or through a step that needs it)");
      return nullptr;
    }
    return target;
  }

  // A workload without `topic` uses the flow's only topic step, which it must depend on.
  void ResolveOmittedTopic(StepInfo& info) {
    std::vector<size_t> topics;
    std::vector<std::string> names;
    for (size_t i = 0; i < steps_.size(); ++i) {
      if (steps_[i].kind_ok && steps_[i].step.kind == StepKind::kTopic) {
        topics.push_back(i);
        names.push_back(steps_[i].step.id);
      }
    }
    const std::string path = Child(info.with_path, "topic");
    if (topics.empty()) {
      Error(info.with_loc, path, "missing required field 'topic'",
            "the topic name, e.g. topic: orders (or add a step with kind: topic)");
      return;
    }
    if (topics.size() > 1) {
      Error(info.with_loc, path,
            "missing topic, and the flow has " + std::to_string(topics.size()) + " topic steps (" +
                Join(names) + ")",
            "set topic: to the name of one of them");
      return;
    }
    const StepInfo& topic = steps_[topics.front()];
    if (!info.is_finally && info.ancestors.count(topics.front()) == 0) {
      Error(info.with_loc, path,
            "step '" + info.step.id + "' writes to the topic of step '" + topic.step.id +
                "' but does not depend on it",
            "add '" + topic.step.id + "' to the needs of '" + info.step.id +
                "', or set topic: explicitly");
      return;
    }
    if (!topic.with_clean) return;  // the topic's own problems are already reported
    std::get<WorkloadWith>(info.step.with).topic = std::get<TopicWith>(topic.step.with).name;
  }

  void ResolveReferences(StepInfo& info) {
    if (!info.kind_ok || !info.with_read || info.ref_bad) return;
    if (auto* c = std::get_if<CheckWith>(&info.step.with)) {
      ResolveReference(info, StepKind::kWorkload, "workload", &c->workload);
      return;
    }
    if (auto* w = std::get_if<WaitWith>(&info.step.with)) {
      if (!info.wants_workload) return;
      const bool had_workloads = std::any_of(steps_.begin(), steps_.end(), [](const StepInfo& s) {
        return s.kind_ok && s.step.kind == StepKind::kWorkload;
      });
      if (!had_workloads) {
        Error(info.with_loc, Child(info.with_path, "until"),
              "a condition names a workload total, but this flow has no workload step",
              "add a step with kind: workload, or wait for a step output (steps.ID.outputs.NAME)");
        return;
      }
      ResolveReference(info, StepKind::kWorkload, "workload", &w->workload);
      return;
    }
    std::string* cluster = nullptr;
    if (auto* t = std::get_if<TopicWith>(&info.step.with)) cluster = &t->cluster;
    if (auto* w = std::get_if<WorkloadWith>(&info.step.with)) cluster = &w->cluster;
    if (auto* f = std::get_if<FaultWith>(&info.step.with)) cluster = &f->cluster;
    if (cluster == nullptr) return;
    const StepInfo* target = ResolveReference(info, StepKind::kCluster, "cluster", cluster);
    if (info.topic_omitted) ResolveOmittedTopic(info);
    auto* topic = std::get_if<TopicWith>(&info.step.with);
    if (topic == nullptr || target == nullptr || !target->with_clean) return;
    const ClusterWith& c = std::get<ClusterWith>(target->step.with);
    if (c.platform == "external") return;  // the node count of an external cluster is unknown
    if (!info.replication_field) {
      topic->replication = std::min(topic->replication, c.nodes);
    } else if (topic->replication > c.nodes) {
      Error(info.replication_field->loc, info.replication_field->path,
            "replication " + std::to_string(topic->replication) + " exceeds the " +
                std::to_string(c.nodes) + " nodes of cluster '" + target->step.id + "'",
            "use at most " + std::to_string(c.nodes) + ", or add nodes to the cluster");
    }
  }

  const std::string file_;
  const std::map<std::string, std::string>& overrides_;
  const std::vector<std::string> stack_;
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> sub_errors_;  // from sub-flows, with their own file:line
  std::map<std::string, std::string> params_;
  std::vector<std::string> param_names_;  // declared, in file order
  std::vector<StepInfo> steps_;           // steps, then finally steps, in file order
  std::map<std::string, size_t> id_index_;
  std::vector<std::string> all_ids_;
  const StepInfo* current_ = nullptr;  // the step whose `with` is being read
  size_t current_index_ = 0;
  bool in_each_template_ = false;  // reading an each step's template: each.* may be used
  FlowSpec flow_;
};

}  // namespace

LoadResult LoadFlowText(std::string_view text, const std::string& file_name,
                        const std::map<std::string, std::string>& param_overrides) {
  return FlowLoader(file_name, param_overrides).Load(text);
}

LoadResult LoadFlowFile(const std::string& path,
                        const std::map<std::string, std::string>& param_overrides) {
  return LoadNested(path, param_overrides, {});
}

namespace {

LoadResult LoadNested(const std::string& path,
                      const std::map<std::string, std::string>& param_overrides,
                      std::vector<std::string> stack) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.errors.push_back(
        {{path, 0, 0}, "", "cannot read the file: " + std::string(std::strerror(errno)), ""});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return FlowLoader(path, param_overrides, std::move(stack)).Load(text.str());
}

}  // namespace

}  // namespace drone::spec
