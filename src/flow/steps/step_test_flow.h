// Test helper for step-kind tests: loads a flow from text (failing the test on any diagnostic)
// and runs it with a FlowEngine. Not thread-safe; one per test.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "flow/engine.h"
#include "spec/loader.h"

namespace drone::flow {

inline spec::FlowSpec LoadTestFlow(const std::string& text, const std::string& file = "test.yaml") {
  spec::LoadResult r = spec::LoadFlowText(text, file, {});
  for (const auto& d : r.errors) ADD_FAILURE() << d.ToString();
  if (!r.flow) throw std::runtime_error("the test flow does not load");
  return *r.flow;
}

struct TestFlowRun {
  // `run_dir`: the run directory, for steps that keep files (collect).
  explicit TestFlowRun(const std::string& text, const std::string& file = "test.yaml",
                       const std::string& run_dir = "")
      : flow(LoadTestFlow(text, file)), ctx(flow, "run-1", 5, nullptr, nullptr) {
    if (!run_dir.empty()) ctx.SetRunDir(run_dir, false);
    outcome = FlowEngine(ctx).Run(cancel);
  }
  const StepRecord& Step(const std::string& id) const {
    for (const StepRecord& r : outcome.steps) {
      if (r.id == id) return r;
    }
    throw std::runtime_error("no step " + id);
  }
  // "TYPE:step" for every event, in order.
  std::vector<std::string> EventTypes() const {
    std::vector<std::string> out;
    for (const Event& e : ctx.Events()) out.push_back(e.type + (e.step.empty() ? "" : ":" + e.step));
    return out;
  }
  // Index of the first event "TYPE:step", or -1.
  int EventIndex(const std::string& type_and_step) const {
    const std::vector<std::string> types = EventTypes();
    auto it = std::find(types.begin(), types.end(), type_and_step);
    return it == types.end() ? -1 : static_cast<int>(it - types.begin());
  }
  spec::FlowSpec flow;
  RunContext ctx;
  CancelToken cancel;
  RunOutcome outcome;
};

}  // namespace drone::flow
