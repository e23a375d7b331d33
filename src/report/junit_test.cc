#include "report/junit.h"

#include <gtest/gtest.h>

namespace drone::report {
namespace {

nlohmann::json Result() {
  return nlohmann::json::parse(R"({
    "run_id": "r-1", "flow": "kafka <outage>", "verdict": "fail", "exit_code": 1,
    "started_at": "2026-12-01T09:00:00.000Z", "finished_at": "2026-12-01T09:00:10.000Z",
    "checks": [
      {"step": "verify", "expect": "lost == 0", "observed": 3, "passed": false, "message": ""},
      {"step": "verify", "expect": "latency.end_to_end.p99 < 2s", "observed": 0.5, "passed": true}
    ],
    "workloads": {
      "load": {"guarantee": "at-least-once", "verdict": "fail",
               "reasons": ["3 acknowledged messages were lost"], "delivery": {"lost": 3}},
      "quiet": {"guarantee": "at-least-once"}
    }
  })");
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(JunitTest, OneCasePerCheckAndDeliveryVerdictWithFailures) {
  const std::string xml = JunitXml(Result());
  EXPECT_EQ(Count(xml, "<testcase "), 3u);
  EXPECT_NE(xml.find("tests=\"3\" failures=\"2\" errors=\"0\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase classname=\"kafka &lt;outage&gt;.verify\" name=\"lost == 0\">\n"
                     "      <failure message=\"observed 3\" type=\"check\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("name=\"latency.end_to_end.p99 &lt; 2s\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"delivery (at-least-once)\">\n      <failure message=\"3 acknowledged "
                     "messages were lost\" type=\"delivery-fail\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<property name=\"run_id\" value=\"r-1\"/>"), std::string::npos);
}

TEST(JunitTest, UnknownVerdictAndIncompleteRunAreErrors) {
  nlohmann::json r = Result();
  r["checks"] = nlohmann::json::array();
  r["workloads"]["load"]["verdict"] = "unknown";
  r["workloads"]["load"]["reasons"] = {"5 messages unseen"};
  r["exit_code"] = 3;
  r["reasons"] = {"step cluster failed"};
  const std::string xml = JunitXml(r);
  EXPECT_NE(xml.find("tests=\"2\" failures=\"0\" errors=\"2\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<error message=\"5 messages unseen\" type=\"delivery-unknown\">"), std::string::npos);
  EXPECT_NE(xml.find("name=\"run completes\">\n      <error message=\"step cluster failed\""), std::string::npos);
}

TEST(JunitTest, PassingRunHasNoFailureElements) {
  nlohmann::json r = Result();
  r["checks"][0]["passed"] = true;
  r["workloads"]["load"]["verdict"] = "pass";
  const std::string xml = JunitXml(r);
  EXPECT_EQ(xml.find("<failure"), std::string::npos);
  EXPECT_NE(xml.find("tests=\"3\" failures=\"0\" errors=\"0\""), std::string::npos);
}

TEST(JunitTest, EscapesMarkupAndControlCharacters) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'\n"), "a&lt;b&gt;&amp;&quot;c&apos;&#10;");
  EXPECT_EQ(XmlEscape(std::string("x\x01y", 3)), "x\xEF\xBF\xBDy");
}

}  // namespace
}  // namespace drone::report
