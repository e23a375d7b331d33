// The flow format's fields as a table: for every section of a flow file (the top level, a step,
// each step kind's `with`, a size distribution, a key spec) the fields it allows, with their type,
// description, enum values, whether they are required and their default. It is the single source
// of truth for two users: the loader (spec/loader.cc) takes its allowed-key checks and
// suggestions from it, and FlowJsonSchema() turns it into the JSON Schema that `drone schema`
// prints, so the schema cannot drift from what the parser accepts. The loader still does the
// type checks itself (with file:line:col diagnostics); the schema states the same rules for
// editors and other tools.
//
// Thread-safety: the tables are immutable after their first use (function-local statics) and may
// be read from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace drone::spec {

// What a field's value looks like in the YAML file.
enum class FieldType {
  kString,       // any scalar, read as text
  kInteger,      // an integer, optionally within [minimum, maximum]
  kNumber,       // a number
  kBoolean,      // true / false
  kDuration,     // "250ms", "10s", "2m" (a unit is required)
  kSize,         // bytes: 512, "4KiB", "1MB"
  kMessageSize,  // a size, or a distribution map (SizeFields())
  kRate,         // messages per second, or max
  kKeys,         // none, or a key spec map (KeysFields())
  kRetry,        // a retry count, or a retry map (RetryFields())
  kAcks,         // 0, 1 or all
  kStringMap,    // a map of names to scalars
  kStringList,   // a non-empty list of scalars
  kNeeds,        // a step id, optionally with a state, or a list of them
  kConditions,   // a map of result fields to conditions (`expect:`)
  kParams,       // a map of parameter names to default values
  kSteps,        // a map of step ids to steps
  kWith,         // a step's parameters; their fields depend on the step's kind
  kHttpExpect,   // an http step's `expect:` map (HttpExpectFields())
  kMatrix,       // a map of declared parameters to non-empty lists of values
  kValue,        // a scalar or a map (a network impairment field, docs/network-faults.md)
};

// Which `${{ }}` expressions a field's value may contain. Parameters are substituted before
// type checking, so every scalar field may be written as "${{ params.NAME }}"; step outputs are
// only known during the run, so only some string fields may use them.
enum class Expressions {
  kNone,            // no expression at all (parameter defaults)
  kParams,          // ${{ params.NAME }}
  kParamsAndSteps,  // ... and ${{ steps.ID.outputs.NAME }}
};

struct FieldSchema {
  std::string name;
  FieldType type = FieldType::kString;
  std::string description;
  std::vector<std::string> enum_values;  // allowed values of a kString field; empty: any
  bool required = false;
  std::string default_json;  // the default as JSON text ("3", "\"all\""); empty: none
  Expressions expressions = Expressions::kParams;
  std::optional<int64_t> minimum;  // kInteger
  std::optional<int64_t> maximum;
};

struct StepKindSchema {
  std::string name;  // "cluster", "fault.kill", ...
  std::string description;
  std::vector<FieldSchema> with;  // the fields of `with` for this kind
};

// The keys at the top of a flow file: name, description, params, steps, finally, ...
const std::vector<FieldSchema>& TopLevelFields();

// The keys of every step, whatever its kind: kind, needs, with, background, ...
const std::vector<FieldSchema>& StepFields();

// Every step kind, in StepKind order (flow_spec.h).
const std::vector<StepKindSchema>& StepKinds();

// The kind named `name`, or nullptr.
const StepKindSchema* FindStepKind(const std::string& name);

// A workload's `size:` written as a map (a distribution).
const std::vector<FieldSchema>& SizeFields();

// A workload's `keys:` written as a map.
const std::vector<FieldSchema>& KeysFields();
// An http step's `expect:` map.
const std::vector<FieldSchema>& HttpExpectFields();

// The fields of a step's `retry:` map.
const std::vector<FieldSchema>& RetryFields();

// The states a need may name after a dot (`load.started`), in NeedState order.
const std::vector<std::string>& NeedStateNames();

// The names of `fields`, in table order.
std::vector<std::string> FieldNames(const std::vector<FieldSchema>& fields);

// The names of StepKinds(), in StepKind order.
std::vector<std::string> StepKindNames();

// The JSON Schema (draft 2020-12) of a flow file, generated from the tables above.
nlohmann::json FlowJsonSchema();

}  // namespace drone::spec
