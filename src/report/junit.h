// JUnit XML of a run, for CI systems: one <testsuite> (the flow) in <testsuites>, one
// <testcase> per check (classname "FLOW.STEP", name the expectation) and one per workload with a
// delivery verdict (name "delivery (GUARANTEE)"). A failed check or delivery verdict is a
// <failure> whose message carries the observed value or the reasons; an `unknown` delivery
// verdict is an <error> (nothing failed, but it could not be decided), and so is a run that could
// not complete (exit code 3, an extra test case "run completes"). The shape is the common JUnit
// schema's (testsuites/testsuite/testcase/failure|error, with counts). A pure function of the
// result JSON, so it works for stored runs as well; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace drone::report {

std::string JunitXml(const nlohmann::json& result);

// Escapes text for XML attribute values and character data; characters XML 1.0 cannot carry
// (controls other than tab, newline, carriage return) become U+FFFD.
std::string XmlEscape(std::string_view text);

}  // namespace drone::report
