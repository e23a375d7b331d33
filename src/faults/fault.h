// Faults: timed disturbances of a cluster. A Fault is injected, stays active for a while, and is
// healed — always, also when the run fails or is interrupted: the flow engine registers Heal() as
// an undo action before it calls Inject(). Process faults live in faults/process/, network
// impairments in faults/network/; each names the backend that carries it out, which is recorded
// in the result (`faults[].backend`).
//
// Thread-safety: a Fault is driven by one thread; Heal() may be called from the teardown thread
// after Inject() returned, never concurrently with it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace drone::faults {

class Fault {
 public:
  virtual ~Fault() = default;
  virtual std::string Kind() const = 0;     // "kill", "delay"
  virtual std::string Target() const = 0;   // resolved node name
  virtual std::string Backend() const = 0;  // "embedded-mock", "tc-netem", "signal", ...
  virtual nlohmann::json Details() const { return nlohmann::json::object(); }
  // What the fault observed while it was on, once healed (merged into the result's details as
  // `at_heal`); null when it has nothing to add.
  virtual nlohmann::json HealDetails() const { return nullptr; }
  // Starts the disturbance. On error nothing is left disturbed.
  virtual Status Inject() = 0;
  // Ends it. Idempotent: healing twice, or healing a fault whose Inject() failed, is OK.
  virtual Status Heal() = 0;
};

// What the result reports of a fault (DESIGN.md `faults[]`).
struct FaultRecord {
  std::string step;
  std::string kind;
  std::string target;
  std::string backend;
  int64_t start_ns = 0;
  int64_t end_ns = 0;  // 0 while active
  nlohmann::json details = nlohmann::json::object();
  nlohmann::json ToJson() const;
};

}  // namespace drone::faults
