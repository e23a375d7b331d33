#include "spec/condition.h"

#include <gtest/gtest.h>

namespace drone::spec {
namespace {

// Evaluates `text` against {"steps": {"a": {"outputs": {...}}}}; "error: ..." on failure.
std::string Eval(const std::string& text) {
  nlohmann::json context;
  context["steps"]["a"]["outputs"] = {{"code", 3}, {"name", "orders"}, {"ok", true}, {"empty", ""}};
  Result<Condition> c = ParseCondition(text);
  if (!c.ok()) return "error: " + c.status().message();
  Result<ConditionResult> r = EvaluateCondition(*c, context);
  if (!r.ok()) return "error: " + r.status().message();
  return r->value ? "true" : "false";
}

TEST(ConditionTest, ComparesNumbersAsNumbersAndTextAsText) {
  EXPECT_EQ(Eval("${{ steps.a.outputs.code }} == 3"), "true");
  EXPECT_EQ(Eval("${{ steps.a.outputs.code }} == 3.0"), "true");
  EXPECT_EQ(Eval("${{ steps.a.outputs.code }} != 3"), "false");
  EXPECT_EQ(Eval("${{ steps.a.outputs.code }} < 10"), "true");
  EXPECT_EQ(Eval("${{ steps.a.outputs.code }} <= 3"), "true");
  EXPECT_EQ(Eval("${{ steps.a.outputs.code }} > 3"), "false");
  EXPECT_EQ(Eval("${{ steps.a.outputs.code }} >= 3"), "true");
  EXPECT_EQ(Eval("${{ steps.a.outputs.name }} == orders"), "true");
  EXPECT_EQ(Eval("${{ steps.a.outputs.name }} != 'orders'"), "false");
  EXPECT_EQ(Eval("'a == b' == \"a == b\""), "true") << "operators inside quotes are text";
  EXPECT_EQ(Eval("all==all"), "true");
}

TEST(ConditionTest, ALoneValueIsATruthTest) {
  EXPECT_EQ(Eval("${{ steps.a.outputs.ok }}"), "true");
  EXPECT_EQ(Eval("${{ steps.a.outputs.empty }}"), "false");
  for (const char* falsy : {"false", "FALSE", "no", "off", "0", "null", "''"}) {
    EXPECT_EQ(Eval(falsy), "false") << falsy;
  }
  EXPECT_EQ(Eval("yes"), "true");
}

TEST(ConditionTest, ReportsMalformedConditions) {
  EXPECT_NE(Eval("").find("empty"), std::string::npos);
  EXPECT_NE(Eval("a == ").find("both sides"), std::string::npos);
  EXPECT_NE(Eval("== a").find("both sides"), std::string::npos);
  EXPECT_NE(Eval("a = b").find("use =="), std::string::npos);
  EXPECT_NE(Eval("1 < 2 < 3").find("more than one operator"), std::string::npos);
  EXPECT_NE(Eval("'a == b").find("unclosed quote"), std::string::npos);
  EXPECT_NE(Eval("abc < def").find("compare numbers only"), std::string::npos);
  EXPECT_NE(Eval("${{ steps.a.outputs.nope }} == 1").find("not found"), std::string::npos);
}

}  // namespace
}  // namespace drone::spec
