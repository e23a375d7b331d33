// Loader tests for the step kinds wait, http, collect, flow and each.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "spec/loader.h"

namespace drone::spec {
namespace {

LoadResult Load(std::string_view text) { return LoadFlowText(text, "f.yaml", {}); }

std::string AllErrors(const LoadResult& r) {
  std::string out;
  for (const Diagnostic& d : r.errors) out += d.ToString() + "\n";
  return out;
}

// Exactly one diagnostic, at line:col on `field`, containing `message_part`.
testing::AssertionResult OneError(const LoadResult& r, int line, int col, const std::string& field,
                                  const std::string& message_part) {
  if (r.errors.size() != 1) {
    return testing::AssertionFailure() << "expected 1 diagnostic, got " << r.errors.size() << ":\n"
                                       << AllErrors(r);
  }
  const Diagnostic& d = r.errors[0];
  if (d.loc.line != line || d.loc.column != col || d.field != field ||
      d.message.find(message_part) == std::string::npos) {
    return testing::AssertionFailure() << "expected :" << line << ":" << col << ": " << field
                                       << ": ..." << message_part << "...\ngot " << d.ToString();
  }
  if (r.flow.has_value()) return testing::AssertionFailure() << "flow set despite an error";
  return testing::AssertionSuccess();
}

const Step& StepOf(const LoadResult& r, const std::string& id) {
  for (const Step& s : r.flow->steps) {
    if (s.id == id) return s;
  }
  for (const Step& s : r.flow->finally) {
    if (s.id == id) return s;
  }
  throw std::runtime_error("no step " + id);
}

constexpr const char* kLoad = R"(name: t
steps:
  cluster: {kind: cluster}
  topic: {kind: topic, needs: [cluster], with: {name: orders}}
  load: {kind: workload, needs: [topic], background: true, with: {duration: 10s}}
)";

// ---- wait ----

TEST(LoaderWaitTest, ReadsWorkloadAndOutputConditions) {
  const LoadResult r = Load(std::string(kLoad) + R"(  probe: {kind: exec, with: {argv: [echo, ready]}}
  w:
    kind: wait
    needs: [load.started]
    with:
      until: {received: ">= 5000", "steps.probe.outputs.stdout": "== ready", elapsed_s: "> 2s"}
      deadline: 30s
      poll: 100ms
)");
  ASSERT_TRUE(r.flow) << AllErrors(r);
  const auto& w = std::get<WaitWith>(StepOf(r, "w").with);
  EXPECT_EQ(StepOf(r, "w").kind, StepKind::kWait);
  EXPECT_EQ(w.workload, "load");  // the only workload, filled in
  ASSERT_EQ(w.until.size(), 3u);
  EXPECT_EQ(w.until[0].field, "received");
  EXPECT_EQ(w.until[0].condition, ">= 5000");
  EXPECT_EQ(w.until[1].field, "steps.probe.outputs.stdout");
  EXPECT_EQ(w.until[1].loc.line, 11);
  EXPECT_EQ(w.deadline_ns, 30'000'000'000);
  EXPECT_EQ(w.poll_ns, 100'000'000);
}

TEST(LoaderWaitTest, OutputConditionsNeedNoWorkload) {
  const LoadResult r = Load(R"(name: t
steps:
  probe: {kind: exec, background: true, with: {argv: [echo, ready]}}
  w: {kind: wait, with: {until: {"steps.probe.outputs.exit_code": 0}, deadline: 5s}}
)");
  ASSERT_TRUE(r.flow) << AllErrors(r);
  EXPECT_EQ(std::get<WaitWith>(StepOf(r, "w").with).workload, "");
}

TEST(LoaderWaitTest, DeadlineIsRequired) {
  EXPECT_TRUE(OneError(Load(R"(name: t
steps:
  probe: {kind: exec, with: {argv: [echo]}}
  w: {kind: wait, with: {until: {"steps.probe.outputs.exit_code": 0}}}
)"),
                       4, 25, "steps.w.with.deadline", "missing required field 'deadline'"));
}

TEST(LoaderWaitTest, UnknownWorkloadTotalSuggestsTheClosest) {
  const LoadResult r = Load(std::string(kLoad) + R"(  w: {kind: wait, needs: [load.started], with: {until: {recieved: 10}, deadline: 5s}}
)");
  ASSERT_TRUE(OneError(r, 6, 57, "steps.w.with.until.recieved", "neither a live workload total"));
  EXPECT_NE(r.errors[0].hint.find("did you mean 'received'?"), std::string::npos);
}

TEST(LoaderWaitTest, TextConditionsOnlyForStepOutputs) {
  EXPECT_TRUE(OneError(Load(std::string(kLoad) +
                            R"(  w: {kind: wait, needs: [load.started], with: {until: {received: "== many"}, deadline: 5s}}
)"),
                       6, 67, "steps.w.with.until.received", "neither a number nor a duration"));
}

TEST(LoaderWaitTest, DurationsOnlyForTimes) {
  EXPECT_TRUE(OneError(Load(std::string(kLoad) +
                            R"(  w: {kind: wait, needs: [load.started], with: {until: {lag: "< 2s"}, deadline: 5s}}
)"),
                       6, 62, "steps.w.with.until.lag", "'lag' is not a time"));
}

TEST(LoaderWaitTest, OutputOfAnUnknownStep) {
  const LoadResult r = Load(R"(name: t
steps:
  probe: {kind: exec, with: {argv: [echo]}}
  w: {kind: wait, with: {until: {"steps.prob.outputs.stdout": "== x"}, deadline: 5s}}
)");
  ASSERT_TRUE(OneError(r, 4, 34, "steps.w.with.until.steps.prob.outputs.stdout", "unknown step 'prob'"));
}

TEST(LoaderWaitTest, MalformedOutputPath) {
  EXPECT_TRUE(OneError(Load(R"(name: t
steps:
  probe: {kind: exec, with: {argv: [echo]}}
  w: {kind: wait, with: {until: {"steps.probe.stdout": "== x"}, deadline: 5s}}
)"),
                       4, 34, "steps.w.with.until.steps.probe.stdout", "steps.ID.outputs.NAME"));
}

TEST(LoaderWaitTest, WorkloadTotalsNeedAWorkload) {
  EXPECT_TRUE(OneError(Load(R"(name: t
steps:
  w: {kind: wait, with: {until: {received: 5}, deadline: 5s}}
)"),
                       3, 25, "steps.w.with.until", "this flow has no workload step"));
}

TEST(LoaderWaitTest, WorkloadMustBeNeeded) {
  EXPECT_TRUE(OneError(Load(std::string(kLoad) + R"(  w: {kind: wait, with: {until: {received: 5}, deadline: 5s}}
)"),
                       6, 25, "steps.w.with.workload", "does not depend on it"));
}

// ---- http ----

TEST(LoaderHttpTest, ReadsEveryField) {
  const LoadResult r = Load(R"(name: t
steps:
  probe:
    kind: http
    with:
      url: http://127.0.0.1:8080/health?full=1
      method: POST
      headers: {Accept: application/json}
      body: "{}"
      expect: {status: [200, 204], body_contains: up, body_regex: "\"status\": *\"up\""}
      deadline: 30s
      interval: 250ms
      request_timeout: 2s
      max_body: 4KiB
)");
  ASSERT_TRUE(r.flow) << AllErrors(r);
  const auto& h = std::get<HttpWith>(StepOf(r, "probe").with);
  EXPECT_EQ(StepOf(r, "probe").kind, StepKind::kHttp);
  EXPECT_EQ(h.url, "http://127.0.0.1:8080/health?full=1");
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.headers.at("Accept"), "application/json");
  EXPECT_EQ(h.body, "{}");
  EXPECT_EQ(h.expect_status, (std::vector<int>{200, 204}));
  EXPECT_EQ(h.body_contains, "up");
  EXPECT_EQ(h.deadline_ns, 30'000'000'000);
  EXPECT_EQ(h.interval_ns, 250'000'000);
  EXPECT_EQ(h.request_timeout_ns, 2'000'000'000);
  EXPECT_EQ(h.max_body, 4096);
}

TEST(LoaderHttpTest, DefaultsToOneGetExpectingAny2xx) {
  const LoadResult r = Load("name: t\nsteps:\n  p: {kind: http, with: {url: \"http://h/\"}}\n");
  ASSERT_TRUE(r.flow) << AllErrors(r);
  const auto& h = std::get<HttpWith>(StepOf(r, "p").with);
  EXPECT_EQ(h.method, "GET");
  EXPECT_TRUE(h.expect_status.empty());
  EXPECT_FALSE(h.deadline_ns.has_value());
}

TEST(LoaderHttpTest, HttpsIsRefusedClearly) {
  EXPECT_TRUE(OneError(Load("name: t\nsteps:\n  p: {kind: http, with: {url: \"https://h/\"}}\n"),
                       3, 31, "steps.p.with.url", "https is not supported"));
}

TEST(LoaderHttpTest, UrlMustBeHttp) {
  EXPECT_TRUE(OneError(Load("name: t\nsteps:\n  p: {kind: http, with: {url: \"ftp://h/\"}}\n"),
                       3, 31, "steps.p.with.url", "is not an http:// URL"));
  EXPECT_TRUE(OneError(Load("name: t\nsteps:\n  p: {kind: http, with: {url: \"http://h:99999/\"}}\n"),
                       3, 31, "steps.p.with.url", "port must be a number"));
  EXPECT_TRUE(OneError(Load("name: t\nsteps:\n  p: {kind: http, with: {}}\n"), 3, 25,
                       "steps.p.with.url", "missing required field 'url'"));
}

TEST(LoaderHttpTest, BadRegexIsReportedWhereItIsWritten) {
  EXPECT_TRUE(OneError(
      Load("name: t\nsteps:\n  p: {kind: http, with: {url: \"http://h/\", expect: {body_regex: \"(\"}}}\n"),
      3, 65, "steps.p.with.expect.body_regex", "not a valid regular expression"));
}

TEST(LoaderHttpTest, StatusMustBeAnHttpStatus) {
  EXPECT_TRUE(OneError(
      Load("name: t\nsteps:\n  p: {kind: http, with: {url: \"http://h/\", expect: {status: [200, 700]}}}\n"),
      3, 67, "steps.p.with.expect.status[1]", "between 100 and 599"));
  EXPECT_TRUE(OneError(
      Load("name: t\nsteps:\n  p: {kind: http, with: {url: \"http://h/\", method: get}}\n"),
      3, 52, "steps.p.with.method", "expected one of GET"));
}

TEST(LoaderHttpTest, UrlMayUseAnAncestorsOutput) {
  const LoadResult r = Load(R"(name: t
steps:
  addr: {kind: exec, with: {argv: [echo, "http://127.0.0.1:1/"]}}
  p: {kind: http, needs: [addr], with: {url: "${{ steps.addr.outputs.stdout }}"}}
)");
  ASSERT_TRUE(r.flow) << AllErrors(r);
}

// ---- collect ----

TEST(LoaderCollectTest, ReadsPathsNameAndLogs) {
  const LoadResult r = Load(R"(name: t
steps:
  run: {kind: exec, with: {argv: [echo, /tmp/x.log]}}
finally:
  keep: {kind: collect, with: {paths: [logs/*.log, "${{ steps.run.outputs.stdout }}"], name: broker-logs, logs: false}}
  all: {kind: collect}
)");
  ASSERT_TRUE(r.flow) << AllErrors(r);
  const auto& keep = std::get<CollectWith>(StepOf(r, "keep").with);
  EXPECT_EQ(keep.paths, (std::vector<std::string>{"logs/*.log", "${{ steps.run.outputs.stdout }}"}));
  EXPECT_EQ(keep.name, "broker-logs");
  EXPECT_FALSE(keep.logs);
  const auto& all = std::get<CollectWith>(StepOf(r, "all").with);
  EXPECT_TRUE(all.paths.empty());
  EXPECT_TRUE(all.logs);
}

TEST(LoaderCollectTest, NameIsOneDirectory) {
  EXPECT_TRUE(OneError(Load("name: t\nsteps:\n  c: {kind: collect, with: {name: ../up}}\n"), 3,
                       35, "steps.c.with.name", "is not a directory name"));
}

TEST(LoaderCollectTest, PathsAreStrings) {
  EXPECT_TRUE(OneError(Load("name: t\nsteps:\n  c: {kind: collect, with: {paths: {a: 1}}}\n"), 3,
                       36, "steps.c.with.paths", "expected a list of paths"));
  EXPECT_TRUE(OneError(Load("name: t\nsteps:\n  c: {kind: collect, with: {logs: maybe}}\n"), 3,
                       35, "steps.c.with.logs", "expected true or false"));
}

// ---- flow ----

class LoaderSubFlowTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "drone-subflow-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(LoaderSubFlowTest, LoadsTheSubFlowWithItsParams) {
  Write("sub.yaml", "name: sub\nparams: {n: 1}\nsteps:\n  s: {kind: sleep, with: {duration: \"${{ params.n }}s\"}}\n");
  const std::string parent = Write("p.yaml", R"(name: p
params: {n: 3}
steps:
  sub: {kind: flow, with: {path: sub.yaml, params: {n: "${{ params.n }}"}}}
)");
  const LoadResult r = LoadFlowFile(parent, {});
  ASSERT_TRUE(r.flow) << AllErrors(r);
  const auto& sf = std::get<SubFlowWith>(r.flow->steps[0].with);
  EXPECT_EQ(sf.path, "sub.yaml");
  EXPECT_EQ(sf.file, dir_ + "/sub.yaml");
  ASSERT_TRUE(sf.flow);
  EXPECT_EQ(sf.flow->name, "sub");
  EXPECT_EQ(std::get<SleepWith>(sf.flow->steps[0].with).duration_ns, 3'000'000'000);
}

TEST_F(LoaderSubFlowTest, ErrorsPointIntoTheSubFile) {
  Write("sub.yaml", "name: sub\nsteps:\n  s: {kind: sleep, with: {duration: 5}}\n");
  const std::string parent = Write("p.yaml", "name: p\nsteps:\n  sub: {kind: flow, with: {path: sub.yaml}}\n");
  const LoadResult r = LoadFlowFile(parent, {});
  ASSERT_EQ(r.errors.size(), 2u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].loc.file, parent);
  EXPECT_EQ(r.errors[0].loc.line, 3);
  EXPECT_NE(r.errors[0].message.find("has 1 problem"), std::string::npos);
  EXPECT_EQ(r.errors[1].loc.file, dir_ + "/sub.yaml");
  EXPECT_EQ(r.errors[1].loc.line, 3);
  EXPECT_EQ(r.errors[1].field, "steps.s.with.duration");
}

TEST_F(LoaderSubFlowTest, RecursionIsRefused) {
  Write("a.yaml", "name: a\nsteps:\n  b: {kind: flow, with: {path: b.yaml}}\n");
  Write("b.yaml", "name: b\nsteps:\n  a: {kind: flow, with: {path: ./a.yaml}}\n");
  const LoadResult r = LoadFlowFile(dir_ + "/a.yaml", {});
  ASSERT_FALSE(r.flow);
  bool found = false;
  for (const Diagnostic& d : r.errors) {
    if (d.message.find("sub-flow recursion: a.yaml -> b.yaml -> a.yaml") != std::string::npos) {
      found = true;
      EXPECT_EQ(d.loc.file, dir_ + "/b.yaml");
    }
  }
  EXPECT_TRUE(found) << AllErrors(r);
}

TEST_F(LoaderSubFlowTest, MissingFileAndUnknownParam) {
  const std::string parent = Write("p.yaml", "name: p\nsteps:\n  sub: {kind: flow, with: {path: nope.yaml}}\n");
  const LoadResult r = LoadFlowFile(parent, {});
  ASSERT_EQ(r.errors.size(), 2u) << AllErrors(r);
  EXPECT_NE(r.errors[1].message.find("cannot read the file"), std::string::npos);
  Write("sub.yaml", "name: sub\nsteps:\n  s: {kind: sleep, with: {duration: 1s}}\n");
  const std::string p2 = Write("p2.yaml", "name: p\nsteps:\n  sub: {kind: flow, with: {path: sub.yaml, params: {x: 1}}}\n");
  const LoadResult r2 = LoadFlowFile(p2, {});
  ASSERT_EQ(r2.errors.size(), 2u) << AllErrors(r2);
  EXPECT_NE(r2.errors[1].message.find("unknown parameter 'x'"), std::string::npos);
}

// ---- each ----

TEST(LoaderEachTest, ReadsItemsTemplateParallelismAndFailFast) {
  LoadResult r = Load(R"(name: t
steps:
  kafka: { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 3 } }
  fan:
    kind: each
    needs: [kafka]
    with:
      items: "${{ steps.kafka.outputs.nodes }}"
      parallelism: 2
      fail_fast: true
      step: { kind: exec, with: { argv: [echo, "${{ each.index }}=${{ each.item }}"] } }
  list:
    kind: each
    with: { items: [a, 2, c], step: { kind: sleep, with: { duration: 1s } } }
)");
  ASSERT_TRUE(r.flow) << AllErrors(r);
  const auto& fan = std::get<EachWith>(StepOf(r, "fan").with);
  EXPECT_EQ(fan.items_expr, "${{ steps.kafka.outputs.nodes }}");
  EXPECT_EQ(fan.parallelism, 2);
  EXPECT_TRUE(fan.fail_fast);
  ASSERT_TRUE(fan.step);
  EXPECT_EQ(fan.step->kind, StepKind::kExec);
  EXPECT_EQ(std::get<ExecWith>(fan.step->with).argv,
            (std::vector<std::string>{"echo", "${{ each.index }}=${{ each.item }}"}));
  const auto& list = std::get<EachWith>(StepOf(r, "list").with);
  EXPECT_EQ(list.items, (std::vector<std::string>{"a", "2", "c"}));
  EXPECT_EQ(list.parallelism, 0) << "default: all at once";
  EXPECT_FALSE(list.fail_fast);
  EXPECT_EQ(std::get<SleepWith>(list.step->with).duration_ns, int64_t{1'000'000'000});
}

TEST(LoaderEachTest, UnknownFieldInTheTemplatesWith) {
  EXPECT_TRUE(OneError(Load(R"(name: t
steps:
  fan:
    kind: each
    with:
      items: [a]
      step: { kind: exec, with: { argv: [echo], colour: red } }
)"),
                       7, 49, "steps.fan.with.step.with.colour", "unknown key 'colour'"));
}

TEST(LoaderEachTest, TemplateKindMustBeOneOfTheTemplateKinds) {
  EXPECT_TRUE(OneError(Load(R"(name: t
steps:
  fan: { kind: each, with: { items: [a], step: { kind: workload } } }
)"),
                       3, 56, "steps.fan.with.step.kind", "cannot be an each step's template"));
}

TEST(LoaderEachTest, EachItemOutsideATemplateIsAnError) {
  EXPECT_TRUE(OneError(Load(R"(name: t
steps:
  e: { kind: exec, with: { argv: [echo, "${{ each.item }}"] } }
)"),
                       3, 41, "steps.e.with.argv[1]", "only known in the step template"));
}

TEST(LoaderEachTest, TemplateReferencesAreCheckedAgainstTheEachStepsNeeds) {
  EXPECT_TRUE(OneError(Load(R"(name: t
steps:
  a: { kind: exec, with: { argv: [echo, hi] } }
  fan:
    kind: each
    with:
      items: [x]
      step: { kind: exec, with: { argv: [echo, "${{ steps.a.outputs.stdout }}"] } }
)"),
                       8, 48, "steps.fan.with.step.with.argv[1]", "does not depend on it"));
}

TEST(LoaderEachTest, ItemsMustBeAListOrAStepOutput) {
  EXPECT_TRUE(OneError(Load(R"(name: t
steps:
  fan: { kind: each, with: { items: abc, step: { kind: sleep, with: { duration: 1s } } } }
)"),
                       3, 37, "steps.fan.with.items", "expected a list"));
  EXPECT_TRUE(OneError(Load(R"(name: t
steps:
  fan: { kind: each, with: { items: [a] } }
)"),
                       3, 28, "steps.fan.with.step", "missing required field 'step'"));
}

}  // namespace
}  // namespace drone::spec
