#include "report/junit.h"

#include <vector>

namespace drone::report {
namespace {

struct TestCase {
  std::string classname;
  std::string name;
  std::string outcome;  // "", "failure" or "error"
  std::string message;
  std::string type;
  std::string text;
};

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string Joined(const nlohmann::json& reasons) {
  std::string out;
  if (!reasons.is_array()) return out;
  for (const nlohmann::json& r : reasons) {
    if (!r.is_string()) continue;
    if (!out.empty()) out += "; ";
    out += r.get<std::string>();
  }
  return out;
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      case '\t': out += "&#9;"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\xEF\xBF\xBD";
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string JunitXml(const nlohmann::json& result) {
  const std::string flow = Str(result, "flow");
  std::vector<TestCase> cases;
  if (auto checks = result.find("checks"); checks != result.end() && checks->is_array()) {
    for (const nlohmann::json& c : *checks) {
      TestCase t{flow + "." + Str(c, "step"), Str(c, "expect"), "", "", "", ""};
      const std::string observed = c.contains("observed") ? c["observed"].dump() : "null";
      if (!c.value("passed", false)) {
        t.outcome = "failure";
        t.type = "check";
        t.message = "observed " + observed;
        t.text = "expected " + t.name + ", observed " + observed;
        const std::string detail = Str(c, "message");
        if (!detail.empty()) t.text += "\n" + detail;
      }
      cases.push_back(std::move(t));
    }
  }
  if (auto workloads = result.find("workloads"); workloads != result.end() && workloads->is_object()) {
    for (auto it = workloads->begin(); it != workloads->end(); ++it) {
      const nlohmann::json& w = it.value();
      const std::string verdict = Str(w, "verdict");
      if (verdict.empty()) continue;  // no consumers: no delivery verdict
      TestCase t{flow + "." + it.key(), "delivery (" + Str(w, "guarantee") + ")", "", "", "", ""};
      if (verdict != "pass") {
        t.outcome = verdict == "fail" ? "failure" : "error";
        t.type = "delivery-" + verdict;
        t.message = Joined(w.value("reasons", nlohmann::json::array()));
        if (t.message.empty()) t.message = "delivery verdict " + verdict;
        t.text = "delivery " + (w.contains("delivery") ? w["delivery"].dump() : std::string("{}"));
      }
      cases.push_back(std::move(t));
    }
  }
  if (result.value("exit_code", 0) == 3) {
    std::string reasons = Joined(result.value("reasons", nlohmann::json::array()));
    cases.push_back({flow, "run completes", "error", reasons.empty() ? "the run could not complete" : reasons,
                     "incomplete", reasons});
  }
  size_t failures = 0, errors = 0;
  for (const TestCase& t : cases) {
    failures += t.outcome == "failure";
    errors += t.outcome == "error";
  }
  const std::string counts = " tests=\"" + std::to_string(cases.size()) + "\" failures=\"" +
                             std::to_string(failures) + "\" errors=\"" + std::to_string(errors) + "\"";
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"drone\"" + counts + ">\n";
  out += "  <testsuite name=\"" + XmlEscape(flow) + "\"" + counts + " skipped=\"0\" timestamp=\"" +
         XmlEscape(Str(result, "started_at")) + "\">\n";
  out += "    <properties>\n";
  for (const char* key : {"run_id", "verdict", "started_at", "finished_at"}) {
    out += std::string("      <property name=\"") + key + "\" value=\"" + XmlEscape(Str(result, key)) + "\"/>\n";
  }
  out += "    </properties>\n";
  for (const TestCase& t : cases) {
    out += "    <testcase classname=\"" + XmlEscape(t.classname) + "\" name=\"" + XmlEscape(t.name) + "\"";
    if (t.outcome.empty()) {
      out += "/>\n";
      continue;
    }
    out += ">\n      <" + t.outcome + " message=\"" + XmlEscape(t.message) + "\" type=\"" +
           XmlEscape(t.type) + "\">" + XmlEscape(t.text) + "</" + t.outcome + ">\n    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace drone::report
