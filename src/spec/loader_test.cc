#include "spec/loader.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/testutil.h"

namespace drone::spec {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;

LoadResult Load(std::string_view text, const std::map<std::string, std::string>& overrides = {}) {
  return LoadFlowText(text, "f.yaml", overrides);
}

std::string AllErrors(const LoadResult& r) {
  std::string out;
  for (const Diagnostic& d : r.errors) out += d.ToString() + "\n";
  return out;
}

// Succeeds when `r` holds exactly one diagnostic, at line:col on `field`, whose message contains
// `message_part`.
testing::AssertionResult OneError(const LoadResult& r, int line, int col, const std::string& field,
                                  const std::string& message_part) {
  if (r.errors.size() != 1) {
    return testing::AssertionFailure() << "expected 1 diagnostic, got " << r.errors.size() << ":\n"
                                       << AllErrors(r);
  }
  const Diagnostic& d = r.errors[0];
  if (d.loc.file != "f.yaml" || d.loc.line != line || d.loc.column != col || d.field != field ||
      d.message.find(message_part) == std::string::npos) {
    return testing::AssertionFailure() << "expected f.yaml:" << line << ":" << col << ": " << field
                                       << ": ..." << message_part << "...\ngot " << d.ToString();
  }
  if (r.flow.has_value()) return testing::AssertionFailure() << "flow set despite an error";
  return testing::AssertionSuccess();
}

// A valid flow: cluster -> topic -> load. Tests replace parts of it to make one thing wrong.
constexpr const char* kBase = R"(name: base
steps:
  cluster: {kind: cluster}
  topic: {kind: topic, needs: [cluster], with: {name: orders}}
  load:
    kind: workload
    needs: [topic]
    with: {topic: orders, duration: 10s}
)";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

const Step& FindStep(const FlowSpec& flow, const std::string& id) {
  for (const Step& s : flow.steps) {
    if (s.id == id) return s;
  }
  for (const Step& s : flow.finally) {
    if (s.id == id) return s;
  }
  ADD_FAILURE() << "no step " << id;
  static const Step kNone;
  return kNone;
}

std::vector<std::string> Ids(const std::vector<Step>& steps) {
  std::vector<std::string> out;
  for (const Step& s : steps) out.push_back(s.id);
  return out;
}

// ---- valid flows ----

constexpr const char* kDesignExample = R"(name: kafka-broker-outage
description: 3 brokers, acks=all, one broker down for 10 s; no acknowledged message may be lost
params: { rate: 5000, size: 512 }
steps:
  cluster:  { kind: cluster, with: { broker: kafka, platform: embedded, nodes: 3 } }
  topic:    { kind: topic, needs: [cluster], with: { name: orders, partitions: 6, replication: 3 } }
  load:
    kind: workload
    needs: [topic]
    background: true
    with: { producers: 2, consumers: 2, rate: "${{ params.rate }}", size: "${{ params.size }}",
            duration: 30s, acks: all, delivery: at-least-once }
  outage:   { kind: fault.kill, needs: [load.started], after: 10s,
              with: { target: "${{ steps.cluster.outputs.nodes[1] }}", duration: 10s } }
  verify:   { kind: check, needs: [load],
              with: { expect: { lost: 0, "latency.end_to_end.p99": "< 2s" } } }
finally:
  report: { kind: check, with: { workload: load, expect: { duplicated: "== 0" } } }
)";

TEST(LoaderTest, LoadsTheDesignExample) {
  const LoadResult r = Load(kDesignExample);
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  ASSERT_TRUE(r.flow.has_value());
  const FlowSpec& flow = *r.flow;
  EXPECT_EQ(flow.file, "f.yaml");
  EXPECT_EQ(flow.name, "kafka-broker-outage");
  EXPECT_EQ(flow.description.substr(0, 10), "3 brokers,");
  EXPECT_EQ(flow.params, (std::map<std::string, std::string>{{"rate", "5000"}, {"size", "512"}}));
  EXPECT_EQ(Ids(flow.steps),
            (std::vector<std::string>{"cluster", "topic", "load", "outage", "verify"}));
  EXPECT_EQ(Ids(flow.finally), (std::vector<std::string>{"report"}));

  const Step& cluster = FindStep(flow, "cluster");
  EXPECT_EQ(cluster.kind, StepKind::kCluster);
  EXPECT_EQ(cluster.loc.line, 5);
  EXPECT_EQ(cluster.loc.column, 3);
  const auto& c = std::get<ClusterWith>(cluster.with);
  EXPECT_EQ(c.broker, "kafka");
  EXPECT_EQ(c.platform, "embedded");
  EXPECT_EQ(c.nodes, 3);

  const auto& t = std::get<TopicWith>(FindStep(flow, "topic").with);
  EXPECT_EQ(t.cluster, "cluster");  // filled in: the only cluster
  EXPECT_EQ(t.name, "orders");
  EXPECT_EQ(t.partitions, 6);
  EXPECT_EQ(t.replication, 3);

  const Step& load = FindStep(flow, "load");
  EXPECT_EQ(load.kind, StepKind::kWorkload);
  EXPECT_TRUE(load.background);
  ASSERT_EQ(load.needs.size(), 1u);
  EXPECT_EQ(load.needs[0].step, "topic");
  EXPECT_EQ(load.needs[0].state, NeedState::kSucceeded);
  const auto& w = std::get<WorkloadWith>(load.with);
  EXPECT_EQ(w.cluster, "cluster");
  EXPECT_EQ(w.topic, "orders");  // filled in from the only topic step
  EXPECT_EQ(w.producers, 2);
  EXPECT_EQ(w.consumers, 2);
  EXPECT_DOUBLE_EQ(w.rate, 5000);
  EXPECT_EQ(w.size.kind, SizeDist::Kind::kFixed);
  EXPECT_EQ(w.size.bytes, 512);
  EXPECT_EQ(w.duration_ns, 30 * kSec);
  EXPECT_FALSE(w.messages.has_value());
  EXPECT_EQ(w.acks, "all");
  EXPECT_EQ(w.delivery, Guarantee::kAtLeastOnce);

  const Step& outage = FindStep(flow, "outage");
  EXPECT_EQ(outage.kind, StepKind::kFaultKill);
  EXPECT_EQ(outage.after_ns, 10 * kSec);
  ASSERT_EQ(outage.needs.size(), 1u);
  EXPECT_EQ(outage.needs[0].step, "load");
  EXPECT_EQ(outage.needs[0].state, NeedState::kStarted);
  const auto& f = std::get<FaultWith>(outage.with);
  EXPECT_EQ(f.target, "${{ steps.cluster.outputs.nodes[1] }}");  // left for the engine
  EXPECT_EQ(f.duration_ns, 10 * kSec);
  EXPECT_FALSE(f.delay_ns.has_value());
  EXPECT_TRUE(f.failback);

  const auto& v = std::get<CheckWith>(FindStep(flow, "verify").with);
  EXPECT_EQ(v.workload, "load");
  ASSERT_EQ(v.expect.size(), 2u);
  EXPECT_EQ(v.expect[0].field, "lost");
  EXPECT_EQ(v.expect[0].condition, "0");
  EXPECT_EQ(v.expect[0].loc.line, 16);
  EXPECT_EQ(v.expect[0].loc.column, 33);
  EXPECT_EQ(v.expect[1].field, "latency.end_to_end.p99");
  EXPECT_EQ(v.expect[1].condition, "< 2s");
  EXPECT_EQ(v.expect[1].loc.column, 42);

  const auto& report = std::get<CheckWith>(FindStep(flow, "report").with);
  EXPECT_EQ(report.workload, "load");
  EXPECT_EQ(report.expect[0].condition, "== 0");
}

TEST(LoaderTest, ReadsEveryWorkloadField) {
  const LoadResult r = Load(R"(name: all-fields
steps:
  c: {kind: cluster, with: {nodes: 1}}
  t: {kind: topic, needs: [c], with: {name: t1, partitions: 3, config: {retention.ms: 60000}}}
  w:
    kind: workload
    needs: [t.succeeded]
    timeout: 5m
    on_error: continue
    with:
      cluster: c
      topic: t1
      producers: 0
      consumers: 4
      rate: max
      size: {distribution: normal, mean: 1KiB, stddev: 100}
      keys: {mode: random, count: 50}
      messages: 1000
      acks: -1
      idempotence: true
      linger: 5ms
      batch_size: 64KiB
      compression: zstd
      delivery: exactly-once
      drain_timeout: 1m
      message_timeout: 2s
      group: g1
      seed: 42
      producer_config: {enable.idempotence: true, retries: 3}
      consumer_config: {fetch.min.bytes: 1}
  net: {kind: fault.network, needs: [w.started], with: {target: leader, delay: 50ms}}
)");
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  const FlowSpec& flow = *r.flow;
  const auto& t = std::get<TopicWith>(FindStep(flow, "t").with);
  EXPECT_EQ(t.replication, 1);  // omitted: min(3, nodes)
  EXPECT_EQ(t.config, (std::map<std::string, std::string>{{"retention.ms", "60000"}}));
  const Step& step = FindStep(flow, "w");
  EXPECT_EQ(step.timeout_ns, 5 * 60 * kSec);
  EXPECT_EQ(step.on_error, OnError::kContinue);
  const auto& w = std::get<WorkloadWith>(step.with);
  EXPECT_EQ(w.producers, 0);
  EXPECT_EQ(w.consumers, 4);
  EXPECT_DOUBLE_EQ(w.rate, 0);
  EXPECT_EQ(w.size.kind, SizeDist::Kind::kNormal);
  EXPECT_EQ(w.size.mean, 1024);
  EXPECT_EQ(w.size.stddev, 100);
  EXPECT_EQ(w.size.min, kMinMessageBytes);
  EXPECT_EQ(w.size.max, kMaxMessageBytes);
  EXPECT_EQ(w.keys.mode, KeySpec::Mode::kRandom);
  EXPECT_EQ(w.keys.count, 50);
  EXPECT_EQ(w.messages, 1000);
  EXPECT_FALSE(w.duration_ns.has_value());
  EXPECT_EQ(w.acks, "all");  // -1 normalised
  EXPECT_TRUE(w.idempotence);
  EXPECT_EQ(w.linger_ns, 5 * kMs);
  EXPECT_EQ(w.batch_bytes, 64 * 1024);
  EXPECT_EQ(w.compression, "zstd");
  EXPECT_EQ(w.delivery, Guarantee::kExactlyOnce);
  EXPECT_EQ(w.drain_timeout_ns, 60 * kSec);
  EXPECT_EQ(w.message_timeout_ns, 2 * kSec);
  EXPECT_EQ(w.group, "g1");
  EXPECT_EQ(w.seed, 42u);
  EXPECT_EQ(w.producer_config,
            (std::map<std::string, std::string>{{"enable.idempotence", "true"}, {"retries", "3"}}));
  EXPECT_EQ(w.consumer_config.at("fetch.min.bytes"), "1");
  const Step& net = FindStep(flow, "net");
  EXPECT_EQ(net.kind, StepKind::kFaultNetwork);
  const auto& f = std::get<FaultWith>(net.with);
  EXPECT_EQ(f.cluster, "c");
  EXPECT_EQ(f.target, "leader");
  EXPECT_EQ(f.delay_ns, 50 * kMs);
}

TEST(LoaderTest, ReadsUniformSizesAndRoundRobinKeys) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}",
                                    "duration: 10s, size: {distribution: uniform, min: 100, "
                                    "max: 2KiB}, keys: {mode: round-robin, count: 8}, acks: 1}"));
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  const auto& w = std::get<WorkloadWith>(FindStep(*r.flow, "load").with);
  EXPECT_EQ(w.size.kind, SizeDist::Kind::kUniform);
  EXPECT_EQ(w.size.min, 100);
  EXPECT_EQ(w.size.max, 2048);
  EXPECT_EQ(w.keys.mode, KeySpec::Mode::kRoundRobin);
  EXPECT_EQ(w.keys.count, 8);
  EXPECT_EQ(w.acks, "1");
}

TEST(LoaderTest, ExternalClusterTakesBootstrapFromAStepOutput) {
  const LoadResult r = Load(R"(name: ext
steps:
  seed: {kind: cluster, with: {nodes: 1}}
  ext: {kind: cluster, needs: [seed], with: {platform: external, bootstrap: "${{ steps.seed.outputs.bootstrap }}"}}
  t: {kind: topic, needs: [ext], with: {cluster: ext, name: x, replication: 5}}
)");
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  const auto& c = std::get<ClusterWith>(FindStep(*r.flow, "ext").with);
  EXPECT_EQ(c.platform, "external");
  EXPECT_EQ(c.bootstrap, "${{ steps.seed.outputs.bootstrap }}");
  // The node count of an external cluster is unknown, so replication is not capped.
  EXPECT_EQ(std::get<TopicWith>(FindStep(*r.flow, "t").with).replication, 5);
}

TEST(LoaderTest, CheckWithoutAnyWorkloadKeepsAnEmptyReference) {
  const LoadResult r = Load(R"(name: no-load
steps:
  c: {kind: cluster}
  v: {kind: check, needs: [c], with: {expect: {sent: 0}}}
)");
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  EXPECT_EQ(std::get<CheckWith>(FindStep(*r.flow, "v").with).workload, "");
}

TEST(LoaderTest, BrokerAndPlatformArePluginNames) {
  // Whether they are built in is for the registries (flow/preflight.cc), not the loader.
  const LoadResult r = Load(Replace(kBase, "{kind: cluster}",
                                    "{kind: cluster, with: {broker: rabbitmq, platform: local}}"));
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  const auto& c = std::get<ClusterWith>(FindStep(*r.flow, "cluster").with);
  EXPECT_EQ(c.broker, "rabbitmq");
  EXPECT_EQ(c.platform, "local");
  EXPECT_TRUE(OneError(
      Load(Replace(kBase, "{kind: cluster}", "{kind: cluster, with: {platform: Embedded Kafka}}")),
      3, 45, "steps.cluster.with.platform", "is not a plug-in name"));
  EXPECT_TRUE(OneError(
      Load(Replace(kBase, "{kind: cluster}", "{kind: cluster, with: {bootstrap: \"h:1\"}}")), 3, 46,
      "steps.cluster.with.bootstrap", "bootstrap is only used with platform: external"));
  EXPECT_TRUE(OneError(
      Load(Replace(kBase, "{kind: cluster}", "{kind: cluster, with: {platform: external}}")), 3, 34,
      "steps.cluster.with.bootstrap", "missing required field 'bootstrap'"));
}

TEST(LoaderTest, LocalClustersTakeALoadBalancerAndRecipeOptions) {
  const LoadResult r = Load(Replace(
      kBase, "{kind: cluster}",
      "{kind: cluster, with: {broker: redis, platform: local, lb: haproxy, options: {sentinels: 3}}}"));
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  const auto& c = std::get<ClusterWith>(FindStep(*r.flow, "cluster").with);
  EXPECT_EQ(c.lb, "haproxy");
  EXPECT_EQ(c.options, (std::map<std::string, std::string>{{"sentinels", "3"}}));
  const auto& plain = std::get<ClusterWith>(FindStep(*Load(kBase).flow, "cluster").with);
  EXPECT_EQ(plain.lb, "none");
  EXPECT_TRUE(plain.options.empty());
  EXPECT_TRUE(OneError(
      Load(Replace(kBase, "{kind: cluster}", "{kind: cluster, with: {platform: local, lb: nginx}}")), 3, 56,
      "steps.cluster.with.lb", "unknown load balancer 'nginx'"));
  EXPECT_TRUE(OneError(Load(Replace(kBase, "{kind: cluster}", "{kind: cluster, with: {lb: haproxy}}")), 3,
                       39, "steps.cluster.with.lb", "lb: haproxy needs platform: local"));
  EXPECT_TRUE(OneError(Load(Replace(kBase, "{kind: cluster}", "{kind: cluster, with: {options: {a: 1}}}")),
                       3, 44, "steps.cluster.with.options", "only used with platform: local"));
}

TEST(LoaderTest, LoadsFromAFile) {
  const std::string path = testing::TempDir() + "/loader_test_flow.yaml";
  {
    std::ofstream out(path);
    out << kBase;
  }
  const LoadResult r = LoadFlowFile(path, {});
  std::remove(path.c_str());
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  EXPECT_EQ(r.flow->file, path);
  EXPECT_EQ(r.flow->name, "base");
}

TEST(LoaderTest, MissingFileIsOneDiagnosticWithoutALine) {
  const LoadResult r = LoadFlowFile("/nonexistent/flow.yaml", {});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_FALSE(r.flow.has_value());
  EXPECT_EQ(r.errors[0].ToString(),
            "/nonexistent/flow.yaml: cannot read the file: No such file or directory");
}

// ---- diagnostics ----

TEST(DiagnosticTest, ToStringFormat) {
  const Diagnostic d{{"flows/x.yaml", 12, 5}, "steps.load.with.rate", "expected a number", "use 5"};
  EXPECT_EQ(d.ToString(),
            "flows/x.yaml:12:5: steps.load.with.rate: expected a number\n  hint: use 5");
  const Diagnostic no_hint{{"x.yaml", 1, 2}, "name", "bad", ""};
  EXPECT_EQ(no_hint.ToString(), "x.yaml:1:2: name: bad");
  const Diagnostic no_line{{"x.yaml", 0, 0}, "params.x", "unknown", ""};
  EXPECT_EQ(no_line.ToString(), "x.yaml: params.x: unknown");
}

TEST(DiagnosticTest, StepKindNames) {
  EXPECT_STREQ(StepKindName(StepKind::kCluster), "cluster");
  EXPECT_STREQ(StepKindName(StepKind::kFaultKill), "fault.kill");
  EXPECT_STREQ(StepKindName(StepKind::kFaultNetwork), "fault.network");
  EXPECT_STREQ(StepKindName(StepKind::kCheck), "check");
  EXPECT_STREQ(StepKindName(StepKind::kSleep), "sleep");
  EXPECT_STREQ(StepKindName(StepKind::kExec), "exec");
}

TEST(LoaderErrorTest, YamlSyntaxErrorIsOneDiagnosticAtItsPosition) {
  const LoadResult r = Load("name: x\nsteps: [a, b\nfoo: 1\n");
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].loc.line, 3);
  EXPECT_EQ(r.errors[0].loc.column, 4);
  EXPECT_NE(r.errors[0].message.find("invalid YAML"), std::string::npos);
}

TEST(LoaderErrorTest, EmptyFile) { EXPECT_TRUE(OneError(Load(""), 1, 1, "", "the file is empty")); }

TEST(LoaderErrorTest, DocumentIsNotAMap) {
  EXPECT_TRUE(OneError(Load("- a\n- b\n"), 1, 1, "", "got a list"));
}

TEST(LoaderErrorTest, UnknownTopLevelKeySuggestsTheClosest) {
  const LoadResult r = Load(std::string(kBase) + "descripton: x\n");
  EXPECT_TRUE(OneError(r, 9, 1, "descripton", "unknown key 'descripton'"));
  EXPECT_EQ(r.errors[0].hint, "did you mean 'description'?");
}

TEST(LoaderErrorTest, UnknownStepKeySuggestsTheClosest) {
  const LoadResult r = Load(Replace(kBase, "    needs: [topic]", "    neds: [topic]"));
  // Without needs, the workload no longer depends on its cluster and topic: only the typo counts
  // here, so the reference problems are filtered out.
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].loc.line, 7);
  EXPECT_EQ(r.errors[0].loc.column, 5);
  EXPECT_EQ(r.errors[0].field, "steps.load.neds");
  EXPECT_EQ(r.errors[0].hint, "did you mean 'needs'?");
}

TEST(LoaderErrorTest, UnknownWithKeySuggestsTheClosest) {
  const LoadResult r = Load(Replace(kBase, "{name: orders}", "{name: orders, partitons: 3}"));
  EXPECT_TRUE(OneError(r, 4, 63, "steps.topic.with.partitons", "unknown key 'partitons'"));
  EXPECT_EQ(r.errors[0].hint, "did you mean 'partitions'?");
}

TEST(LoaderErrorTest, UnknownKeyFarFromAllListsTheAllowedKeys) {
  const LoadResult r = Load(Replace(kBase, "{name: orders}", "{name: orders, zzz: 3}"));
  EXPECT_TRUE(OneError(r, 4, 63, "steps.topic.with.zzz", "unknown key 'zzz'"));
  EXPECT_EQ(r.errors[0].hint, "allowed keys here: cluster, name, partitions, replication, config");
}

TEST(LoaderErrorTest, KeyOfTheOtherFaultKindSaysWhereItBelongs) {
  const LoadResult r = Load(std::string(kBase) +
                            "  kill: {kind: fault.kill, needs: [load.started], "
                            "with: {target: leader, delay: 5ms}}\n");
  EXPECT_TRUE(OneError(r, 9, 74, "steps.kill.with.delay", "unknown key 'delay'"));
  EXPECT_EQ(r.errors[0].hint, "'delay' is for kind: fault.network");
}

TEST(LoaderErrorTest, WrongTypeNamesTheValue) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}", "duration: 10s, rate: fast}"));
  EXPECT_TRUE(OneError(r, 8, 48, "steps.load.with.rate",
                       "expected a rate in messages per second, or max, got 'fast'"));
}

TEST(LoaderErrorTest, IntegerFieldRejectsText) {
  const LoadResult r =
      Load(Replace(kBase, "{kind: cluster}", "{kind: cluster, with: {nodes: three}}"));
  EXPECT_TRUE(OneError(r, 3, 42, "steps.cluster.with.nodes", "expected an integer, got 'three'"));
}

TEST(LoaderErrorTest, IntegerFieldRejectsQuotedNumberWithAHint) {
  const LoadResult r =
      Load(Replace(kBase, "{kind: cluster}", "{kind: cluster, with: {nodes: \"3\"}}"));
  EXPECT_TRUE(OneError(r, 3, 42, "steps.cluster.with.nodes", "got the quoted string '3'"));
  EXPECT_EQ(r.errors[0].hint, "remove the quotes to write a number");
}

TEST(LoaderErrorTest, WrongNodeTypeMapForScalar) {
  const LoadResult r =
      Load(Replace(kBase, "{kind: cluster}", "{kind: cluster, with: {nodes: {a: 1}}}"));
  EXPECT_TRUE(OneError(r, 3, 42, "steps.cluster.with.nodes", "expected an integer, got a map"));
}

TEST(LoaderErrorTest, BoolFieldRejectsYes) {
  const LoadResult r =
      Load(Replace(kBase, "    needs: [topic]", "    needs: [topic]\n    background: yes"));
  EXPECT_TRUE(OneError(r, 8, 17, "steps.load.background", "expected true or false, got 'yes'"));
}

TEST(LoaderErrorTest, MissingName) {
  const LoadResult r = Load(Replace(kBase, "name: base\n", ""));
  EXPECT_TRUE(OneError(r, 1, 1, "name", "missing required field 'name'"));
}

TEST(LoaderErrorTest, BadFlowName) {
  EXPECT_TRUE(OneError(Load(Replace(kBase, "name: base", "name: Base_1")), 1, 7, "name",
                       "may contain only a-z, 0-9 and '-'"));
}

TEST(LoaderErrorTest, MissingSteps) {
  EXPECT_TRUE(OneError(Load("name: x\n"), 1, 1, "steps", "missing required field 'steps'"));
}

TEST(LoaderErrorTest, EmptySteps) {
  EXPECT_TRUE(OneError(Load("name: x\nsteps: {}\n"), 2, 8, "steps", "at least one step"));
}

TEST(LoaderErrorTest, MissingKind) {
  const LoadResult r = Load(Replace(kBase, "{kind: cluster}", "{with: {nodes: 1}}"));
  // The topic still finds no cluster step, which is a second, separate problem.
  ASSERT_EQ(r.errors.size(), 3u) << AllErrors(r);
  // The hint lists every kind; kinds added later extend the list.
  EXPECT_EQ(
      r.errors[0].ToString(),
      "f.yaml:3:12: steps.cluster.kind: missing required field 'kind'\n"
      "  hint: one of cluster, topic, workload, fault.kill, fault.network, check, sleep, exec, "
      "fault.stop, fault.pause, fault.restart, wait, http, collect, flow, fault.partition");
}

TEST(LoaderErrorTest, UnknownKindSuggestsTheClosest) {
  const LoadResult r = Load(std::string(kBase) + "  logs: {kind: teleport}\n");
  EXPECT_TRUE(OneError(r, 9, 16, "steps.logs.kind", "unknown step kind 'teleport'"));
  EXPECT_EQ(r.errors[0].hint,
            "kinds: cluster, topic, workload, fault.kill, fault.network, check, sleep, exec, fault.stop, fault.pause, fault.restart, wait, http, collect, flow, "
            "fault.partition");
  const LoadResult typo = Load(std::string(kBase) + "  v: {kind: chek}\n");
  ASSERT_EQ(typo.errors.size(), 1u);
  EXPECT_EQ(typo.errors[0].hint, "did you mean 'check'?");
}

TEST(LoaderErrorTest, MissingTopicName) {
  const LoadResult r = Load(Replace(kBase, "with: {name: orders}", "with: {partitions: 3}"));
  EXPECT_TRUE(OneError(r, 4, 48, "steps.topic.with.name", "missing required field 'name'"));
}

TEST(LoaderErrorTest, DurationWithoutUnit) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s", "duration: 10"));
  EXPECT_TRUE(OneError(r, 8, 37, "steps.load.with.duration", "has no unit"));
}

TEST(LoaderErrorTest, DurationWithUnknownUnit) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s", "duration: 10 parsecs"));
  EXPECT_TRUE(OneError(r, 8, 37, "steps.load.with.duration", "unknown unit 'parsecs'"));
}

TEST(LoaderErrorTest, BadSizeLiteral) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}", "duration: 10s, size: 12 bananas}"));
  EXPECT_TRUE(OneError(r, 8, 48, "steps.load.with.size", "unknown unit 'bananas'"));
}

TEST(LoaderErrorTest, SizeBelowTheEnvelope) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}", "duration: 10s, size: 39}"));
  EXPECT_TRUE(OneError(r, 8, 48, "steps.load.with.size", "must be at least 40 bytes, got 39"));
  EXPECT_NE(r.errors[0].hint.find("envelope"), std::string::npos);
}

TEST(LoaderErrorTest, SizeZero) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}", "duration: 10s, size: 0}"));
  EXPECT_TRUE(OneError(r, 8, 48, "steps.load.with.size", "must be greater than 0 bytes"));
}

TEST(LoaderErrorTest, SizeAbove16MiB) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}", "duration: 10s, size: 17MiB}"));
  EXPECT_TRUE(OneError(r, 8, 48, "steps.load.with.size", "must be at most 16 MiB"));
  EXPECT_TRUE(Load(Replace(kBase, "duration: 10s}", "duration: 10s, size: 16MiB}")).errors.empty());
  EXPECT_TRUE(Load(Replace(kBase, "duration: 10s}", "duration: 10s, size: 40}")).errors.empty());
}

TEST(LoaderErrorTest, UniformSizeMaxBelowMin) {
  const LoadResult r =
      Load(Replace(kBase, "duration: 10s}",
                   "duration: 10s, size: {distribution: uniform, min: 1KiB, max: 100}}"));
  EXPECT_TRUE(
      OneError(r, 8, 88, "steps.load.with.size.max", "max (100 bytes) is below min (1024 bytes)"));
}

TEST(LoaderErrorTest, NormalSizeNeedsMeanAndStddev) {
  const LoadResult r = Load(
      Replace(kBase, "duration: 10s}", "duration: 10s, size: {distribution: normal, mean: 100}}"));
  EXPECT_TRUE(OneError(r, 8, 48, "steps.load.with.size.stddev", "missing required field 'stddev'"));
}

TEST(LoaderErrorTest, KeysNeedACount) {
  const LoadResult r =
      Load(Replace(kBase, "duration: 10s}", "duration: 10s, keys: {mode: random}}"));
  EXPECT_TRUE(OneError(r, 8, 48, "steps.load.with.keys.count", "missing required field 'count'"));
}

TEST(LoaderErrorTest, NodesOutOfRange) {
  const LoadResult r =
      Load(Replace(kBase, "{kind: cluster}", "{kind: cluster, with: {nodes: 17}}"));
  EXPECT_TRUE(OneError(r, 3, 42, "steps.cluster.with.nodes", "must be between 1 and 16, got 17"));
}

TEST(LoaderErrorTest, PartitionsOutOfRange) {
  const LoadResult r = Load(Replace(kBase, "{name: orders}", "{name: orders, partitions: 0}"));
  EXPECT_TRUE(
      OneError(r, 4, 75, "steps.topic.with.partitions", "must be between 1 and 10000, got 0"));
}

TEST(LoaderErrorTest, ReplicationAboveTheClusterNodes) {
  const LoadResult r =
      Load(Replace(Replace(kBase, "{name: orders}", "{name: orders, replication: 4}"),
                   "{kind: cluster}", "{kind: cluster, with: {nodes: 3}}"));
  EXPECT_TRUE(OneError(r, 4, 76, "steps.topic.with.replication",
                       "replication 4 exceeds the 3 nodes of cluster 'cluster'"));
}

TEST(LoaderErrorTest, ProducersOutOfRange) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}", "duration: 10s, producers: 300}"));
  EXPECT_TRUE(
      OneError(r, 8, 53, "steps.load.with.producers", "must be between 0 and 256, got 300"));
}

TEST(LoaderErrorTest, ProducersAndConsumersBothZero) {
  const LoadResult r =
      Load(Replace(kBase, "duration: 10s}", "duration: 10s, producers: 0, consumers: 0}"));
  EXPECT_TRUE(OneError(r, 8, 53, "steps.load.with.producers", "both 0"));
}

TEST(LoaderErrorTest, NegativeRate) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}", "duration: 10s, rate: -1}"));
  EXPECT_TRUE(OneError(r, 8, 48, "steps.load.with.rate", "must be at least 0, got -1"));
}

TEST(LoaderErrorTest, QuotedRateGetsAHint) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}", "duration: 10s, rate: \"5000\"}"));
  EXPECT_TRUE(OneError(r, 8, 48, "steps.load.with.rate", "got the quoted string '5000'"));
  EXPECT_EQ(r.errors[0].hint, "remove the quotes to write a number");
}

TEST(LoaderErrorTest, IntegerTooLarge) {
  const LoadResult r =
      Load(Replace(kBase, "duration: 10s}", "duration: 10s, seed: 99999999999999999999}"));
  EXPECT_TRUE(
      OneError(r, 8, 48, "steps.load.with.seed", "the number 99999999999999999999 is too large"));
}

TEST(LoaderErrorTest, BadAcks) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}", "duration: 10s, acks: 2}"));
  EXPECT_TRUE(OneError(r, 8, 48, "steps.load.with.acks", "expected acks 0, 1 or all, got '2'"));
}

TEST(LoaderErrorTest, BadEnumSuggestsTheClosest) {
  const LoadResult r =
      Load(Replace(kBase, "duration: 10s}", "duration: 10s, delivery: at-least-onse}"));
  EXPECT_TRUE(OneError(r, 8, 52, "steps.load.with.delivery", "got 'at-least-onse'"));
  EXPECT_EQ(r.errors[0].hint, "did you mean 'at-least-once'?");
}

TEST(LoaderErrorTest, BothDurationAndMessages) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}", "duration: 10s, messages: 100}"));
  EXPECT_TRUE(
      OneError(r, 8, 42, "steps.load.with.messages", "either duration or messages, not both"));
}

TEST(LoaderErrorTest, NeitherDurationNorMessages) {
  const LoadResult r = Load(Replace(kBase, "{topic: orders, duration: 10s}", "{topic: orders}"));
  EXPECT_TRUE(OneError(r, 8, 11, "steps.load.with.duration", "missing duration or messages"));
}

TEST(LoaderErrorTest, UnknownStepInNeedsSuggestsTheClosest) {
  const LoadResult r = Load(Replace(kBase, "needs: [topic]", "needs: [topc]"));
  // The workload then no longer depends on its cluster: that is reported too, after the typo.
  ASSERT_GE(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(),
            "f.yaml:7:13: steps.load.needs[0]: unknown step 'topc'\n  hint: did you mean 'topic'?");
}

TEST(LoaderErrorTest, UnknownNeedState) {
  const LoadResult r = Load(Replace(kBase, "needs: [topic]", "needs: [topic, cluster.finished]"));
  EXPECT_TRUE(OneError(r, 7, 20, "steps.load.needs[1]", "unknown state 'finished'"));
}

TEST(LoaderErrorTest, DependencyCycleIsNamed) {
  const LoadResult r = Load(R"(name: cyc
steps:
  a: {kind: cluster, needs: [c]}
  b: {kind: topic, needs: [a], with: {name: x}}
  c: {kind: check, needs: [b], with: {workload: w, expect: {lost: 0}}}
  w: {kind: workload, needs: [b], with: {topic: x, messages: 1}}
)");
  // The check also uses a workload it does not depend on; the cycle is the first problem.
  ASSERT_GE(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].loc.line, 3);
  EXPECT_EQ(r.errors[0].loc.column, 30);
  EXPECT_EQ(r.errors[0].field, "steps.a.needs[0]");
  EXPECT_EQ(r.errors[0].message, "dependency cycle: a -> c -> b -> a");
}

TEST(LoaderErrorTest, StepNeedingItselfIsACycle) {
  const LoadResult r = Load(Replace(kBase, "needs: [cluster]", "needs: [cluster, topic]"));
  EXPECT_TRUE(OneError(r, 4, 41, "steps.topic.needs[1]", "dependency cycle: topic -> topic"));
}

TEST(LoaderErrorTest, UnknownClusterReference) {
  const LoadResult r = Load(Replace(kBase, "{name: orders}", "{name: orders, cluster: clustr}"));
  EXPECT_TRUE(OneError(r, 4, 72, "steps.topic.with.cluster", "unknown step 'clustr'"));
  EXPECT_EQ(r.errors[0].hint, "did you mean 'cluster'?");
}

TEST(LoaderErrorTest, ClusterReferenceOfTheWrongKind) {
  const LoadResult r = Load(Replace(kBase, "{topic: orders,", "{cluster: topic, topic: orders,"));
  EXPECT_TRUE(OneError(r, 8, 21, "steps.load.with.cluster",
                       "step 'topic' is a topic step, not a cluster step"));
  EXPECT_EQ(r.errors[0].hint, "cluster steps: cluster");
}

TEST(LoaderErrorTest, AmbiguousOmittedCluster) {
  const LoadResult r = Load(Replace(
      Replace(kBase, "  cluster: {kind: cluster}\n",
              "  cluster: {kind: cluster}\n  other: {kind: cluster}\n"),
      "needs: [cluster], with: {name: orders}", "needs: [cluster, other], with: {name: orders}"));
  // Both the topic and the workload leave `cluster` out.
  ASSERT_EQ(r.errors.size(), 2u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].ToString(),
            "f.yaml:5:55: steps.topic.with.cluster: ambiguous: the flow has 2 cluster steps "
            "(cluster, other)\n  hint: set cluster: to one of them");
  EXPECT_EQ(r.errors[1].field, "steps.load.with.cluster");
}

TEST(LoaderErrorTest, NoClusterStep) {
  const LoadResult r = Load(R"(name: x
steps:
  t: {kind: topic, with: {name: orders}}
)");
  EXPECT_TRUE(OneError(r, 3, 26, "steps.t.with.cluster", "this flow has no cluster step"));
}

TEST(LoaderErrorTest, ReferencedClusterMustBeADependency) {
  const LoadResult r = Load(Replace(kBase, "needs: [cluster], ", ""));
  // The workload needs the topic, which no longer needs the cluster: both are reported.
  ASSERT_EQ(r.errors.size(), 2u) << AllErrors(r);
  EXPECT_EQ(
      r.errors[0].ToString(),
      "f.yaml:4:30: steps.topic.with.cluster: step 'topic' uses cluster 'cluster' but does not "
      "depend on it\n  hint: add 'cluster' to the needs of 'topic' (directly or through a "
      "step that needs it)");
  EXPECT_EQ(r.errors[1].loc.line, 8);
  EXPECT_EQ(r.errors[1].loc.column, 11);
  EXPECT_EQ(r.errors[1].field, "steps.load.with.cluster");
}

TEST(LoaderErrorTest, CheckReferencesAWorkload) {
  const LoadResult r =
      Load(std::string(kBase) +
           "  v: {kind: check, needs: [load], with: {workload: topic, expect: {lost: 0}}}\n");
  EXPECT_TRUE(OneError(r, 9, 52, "steps.v.with.workload",
                       "step 'topic' is a topic step, not a workload step"));
}

TEST(LoaderErrorTest, DuplicateKeyInAMap) {
  const LoadResult r = Load(Replace(kBase, "{name: orders}", "{name: orders, name: other}"));
  EXPECT_TRUE(OneError(r, 4, 63, "steps.topic.with.name",
                       "duplicate key 'name' (first defined at line 4, column 49)"));
}

TEST(LoaderErrorTest, DuplicateStepId) {
  const LoadResult r =
      Load(std::string(kBase) + "  topic: {kind: topic, needs: [cluster], with: {name: b}}\n");
  EXPECT_TRUE(OneError(r, 9, 3, "steps.topic", "duplicate key 'topic'"));
}

TEST(LoaderErrorTest, StepIdUsedInStepsAndFinally) {
  const LoadResult r =
      Load(std::string(kBase) + "finally:\n  load: {kind: check, with: {expect: {lost: 0}}}\n");
  EXPECT_TRUE(
      OneError(r, 10, 3, "finally.load", "step id 'load' is already used at line 5, column 3"));
}

TEST(LoaderErrorTest, FinallyStepsCannotNeedMainSteps) {
  const LoadResult r =
      Load(std::string(kBase) +
           "finally:\n  v: {kind: check, needs: [load], with: {expect: {lost: 0}}}\n");
  EXPECT_TRUE(
      OneError(r, 10, 28, "finally.v.needs[0]", "finally steps can only need other finally steps"));
}

TEST(LoaderErrorTest, MainStepsCannotNeedFinallySteps) {
  const LoadResult r = Load(Replace(kBase, "needs: [topic]", "needs: [topic, v]") +
                            "finally:\n  v: {kind: check, with: {expect: {lost: 0}}}\n");
  EXPECT_TRUE(OneError(r, 7, 20, "steps.load.needs[1]", "cannot need the finally step 'v'"));
}

TEST(LoaderErrorTest, MalformedCondition) {
  const LoadResult r = Load(std::string(kBase) +
                            "  v: {kind: check, needs: [load], with: {expect: {lost: \"<< 2\", "
                            "p99: \"< fast\", ok: \"=< 1\", x: \">= 2s\", y: \"!= 0.5\"}}}\n");
  ASSERT_EQ(r.errors.size(), 3u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].loc.column, 57);
  EXPECT_EQ(r.errors[0].field, "steps.v.with.expect.lost");
  EXPECT_NE(r.errors[0].message.find("no valid operator"), std::string::npos);
  EXPECT_EQ(r.errors[1].field, "steps.v.with.expect.p99");
  EXPECT_NE(r.errors[1].message.find("'fast' is neither a number nor a duration"),
            std::string::npos);
  EXPECT_EQ(r.errors[2].field, "steps.v.with.expect.ok");
}

TEST(LoaderErrorTest, ConditionMustNotBeABool) {
  const LoadResult r = Load(std::string(kBase) +
                            "  v: {kind: check, needs: [load], with: {expect: {lost: true}}}\n");
  EXPECT_TRUE(OneError(r, 9, 57, "steps.v.with.expect.lost", "expected a condition"));
}

TEST(LoaderErrorTest, ReportsEveryProblemAtOnce) {
  const LoadResult r = Load(R"(name: three-problems
steps:
  cluster: {kind: cluster, with: {nodes: 20}}
  topic: {kind: topic, needs: [cluster], with: {name: orders, partitons: 3}}
  load: {kind: workload, needs: [topic], with: {topic: orders, duration: 10}}
)");
  ASSERT_EQ(r.errors.size(), 3u) << AllErrors(r);
  EXPECT_FALSE(r.flow.has_value());
  EXPECT_EQ(r.errors[0].ToString(),
            "f.yaml:3:42: steps.cluster.with.nodes: must be between 1 and 16, got 20");
  EXPECT_EQ(r.errors[1].field, "steps.topic.with.partitons");
  EXPECT_EQ(r.errors[1].loc.line, 4);
  EXPECT_EQ(r.errors[1].loc.column, 63);
  EXPECT_EQ(r.errors[2].field, "steps.load.with.duration");
  EXPECT_EQ(r.errors[2].loc.line, 5);
  EXPECT_EQ(r.errors[2].loc.column, 74);
}

// ---- parameters ----

TEST(LoaderParamsTest, WholeExpressionKeepsScalarSemantics) {
  const std::string text = Replace(
      Replace(kBase, "name: base\n",
              "name: base\nparams: {n: 1, rate: 250.5, mode: all, env: qa}\n"),
      "duration: 10s}", "duration: 10s, rate: \"${{ params.rate }}\", acks: \"${{params.mode}}\"}");
  const std::string with_nodes =
      Replace(text, "{kind: cluster}", "{kind: cluster, with: {nodes: \"${{ params.n }}\"}}");
  const std::string with_name =
      Replace(with_nodes, "{name: orders}", "{name: \"orders-${{ params.env }}\"}");
  const LoadResult r = Load(with_name);
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  EXPECT_EQ(std::get<ClusterWith>(FindStep(*r.flow, "cluster").with).nodes, 1);
  EXPECT_EQ(std::get<TopicWith>(FindStep(*r.flow, "topic").with).name, "orders-qa");
  const auto& w = std::get<WorkloadWith>(FindStep(*r.flow, "load").with);
  EXPECT_DOUBLE_EQ(w.rate, 250.5);
  EXPECT_EQ(w.acks, "all");
}

TEST(LoaderParamsTest, OverridesReplaceDefaultsAndAreTyped) {
  const std::string text =
      Replace(Replace(kBase, "name: base\n", "name: base\nparams:\n  rate: 100\n  size: 1KiB\n"),
              "duration: 10s}",
              "duration: 10s, rate: \"${{ params.rate }}\", size: \"${{ params.size }}\"}");
  const LoadResult r = Load(text, {{"rate", "7500"}, {"size", "2KiB"}});
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  EXPECT_EQ(r.flow->params,
            (std::map<std::string, std::string>{{"rate", "7500"}, {"size", "2KiB"}}));
  const auto& w = std::get<WorkloadWith>(FindStep(*r.flow, "load").with);
  EXPECT_DOUBLE_EQ(w.rate, 7500);
  EXPECT_EQ(w.size.bytes, 2048);

  const LoadResult bad = Load(text, {{"rate", "fast"}});
  EXPECT_TRUE(OneError(bad, 11, 48, "steps.load.with.rate", "got 'fast'"));
  EXPECT_EQ(bad.errors[0].hint, "the value comes from params.rate = 'fast'");
}

TEST(LoaderParamsTest, RangeErrorsNameTheParameter) {
  const std::string text =
      Replace(Replace(kBase, "name: base\n", "name: base\nparams: {size: 512, n: 3}\n"),
              "duration: 10s}", "duration: 10s, size: \"${{ params.size }}\"}");
  const LoadResult r = Load(text, {{"size", "20"}});
  EXPECT_TRUE(OneError(r, 9, 48, "steps.load.with.size", "must be at least 40 bytes, got 20"));
  EXPECT_NE(r.errors[0].hint.find("the value comes from params.size = '20'"), std::string::npos);
}

TEST(LoaderParamsTest, PartialExpressionInAQuotedScalarIsAString) {
  const std::string text =
      Replace(Replace(kBase, "name: base\n", "name: base\nparams: {n: 3}\n"), "{kind: cluster}",
              "{kind: cluster, with: {nodes: \"1${{ params.n }}\"}}");
  EXPECT_TRUE(
      OneError(Load(text), 4, 42, "steps.cluster.with.nodes", "got the quoted string '13'"));
}

TEST(LoaderParamsTest, UnknownParameterInAnExpression) {
  const std::string text =
      Replace(Replace(kBase, "name: base\n", "name: base\nparams: {rate: 1}\n"), "duration: 10s}",
              "duration: 10s, rate: \"${{ params.rte }}\"}");
  const LoadResult r = Load(text);
  EXPECT_TRUE(OneError(r, 9, 48, "steps.load.with.rate", "unknown parameter 'rte'"));
  EXPECT_EQ(r.errors[0].hint, "did you mean 'rate'?");
}

TEST(LoaderParamsTest, OverrideOfAnUndeclaredParameter) {
  const std::string text = Replace(kBase, "name: base\n", "name: base\nparams: {a: 1, b: x}\n");
  const LoadResult r = Load(text, {{"x", "1"}});
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].ToString(), "f.yaml: params.x: unknown parameter 'x'; declared: a, b");
}

TEST(LoaderParamsTest, ParameterWithoutDefault) {
  const LoadResult r = Load(Replace(kBase, "name: base\n", "name: base\nparams:\n  rate:\n"));
  EXPECT_TRUE(OneError(r, 3, 3, "params.rate", "has no default value"));
}

TEST(LoaderParamsTest, MalformedExpression) {
  const LoadResult r = Load(Replace(kBase, "{name: orders}", "{name: \"${{ params.x\"}"));
  EXPECT_TRUE(OneError(r, 4, 55, "steps.topic.with.name", "is not closed"));
}

TEST(LoaderParamsTest, UnknownExpressionRoot) {
  const LoadResult r = Load(Replace(kBase, "{name: orders}", "{name: \"${{ env.HOME }}\"}"));
  EXPECT_TRUE(OneError(r, 4, 55, "steps.topic.with.name", "unknown expression '${{ env.HOME }}'"));
}

// ---- step output references ----

TEST(LoaderOutputsTest, AllowedInStringFieldsOfDependants) {
  const LoadResult r =
      Load(Replace(kBase, "{topic: orders,", "{topic: \"${{ steps.topic.outputs.name }}\","));
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  EXPECT_EQ(std::get<WorkloadWith>(FindStep(*r.flow, "load").with).topic,
            "${{ steps.topic.outputs.name }}");
}

TEST(LoaderOutputsTest, TransitiveAncestorsCount) {
  const LoadResult r = Load(
      Replace(kBase, "{topic: orders,", "{topic: \"${{ steps.cluster.outputs.topics[0] }}\","));
  EXPECT_TRUE(r.errors.empty()) << AllErrors(r);
}

TEST(LoaderOutputsTest, RejectedInTypedFields) {
  const LoadResult r = Load(Replace(kBase, "duration: 10s}",
                                    "duration: 10s, rate: \"${{ steps.topic.outputs.rate }}\"}"));
  EXPECT_TRUE(
      OneError(r, 8, 48, "steps.load.with.rate", "step outputs cannot be used in this field"));
}

TEST(LoaderOutputsTest, RejectedFromStepsThatAreNotAncestors) {
  const LoadResult r = Load(
      std::string(kBase) +
      "  other: {kind: topic, needs: [cluster], with: {name: \"${{ steps.load.outputs.x }}\"}}\n");
  EXPECT_TRUE(OneError(r, 9, 55, "steps.other.with.name",
                       "step 'other' uses outputs of 'load' but does not depend on it"));
}

TEST(LoaderOutputsTest, RejectedFromUnknownSteps) {
  const LoadResult r =
      Load(Replace(kBase, "{topic: orders,", "{topic: \"${{ steps.topik.outputs.name }}\","));
  EXPECT_TRUE(OneError(r, 8, 19, "steps.load.with.topic", "refers to unknown step 'topik'"));
  EXPECT_EQ(r.errors[0].hint, "did you mean 'topic'?");
}

TEST(LoaderOutputsTest, MustNameAnOutput) {
  const LoadResult r =
      Load(Replace(kBase, "{topic: orders,", "{topic: \"${{ steps.topic.name }}\","));
  EXPECT_TRUE(OneError(r, 8, 19, "steps.load.with.topic", "${{ steps.ID.outputs.NAME }}"));
}

// ---- sleep and exec ----

// A valid flow of sleep and exec steps only. Tests replace parts of it to make one thing wrong.
constexpr const char* kExecBase = R"(name: ex
steps:
  a: {kind: exec, with: {argv: [/bin/echo, hello]}}
  b: {kind: sleep, needs: [a], with: {duration: 5s}}
  c:
    kind: exec
    needs: [b]
    with: {argv: [cat, "x-${{ steps.a.outputs.stdout }}", ""], env: {X: "1"}, cwd: /tmp}
)";

TEST(LoaderSleepExecTest, ReadsSleepAndExec) {
  const LoadResult r = Load(std::string(kExecBase) +
                            "  d: {kind: exec, needs: [c], with: {argv: [x], expect_exit: 3, "
                            "max_output: 4KiB}}\n");
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  const Step& a = FindStep(*r.flow, "a");
  EXPECT_EQ(a.kind, StepKind::kExec);
  const auto& ae = std::get<ExecWith>(a.with);
  EXPECT_EQ(ae.argv, (std::vector<std::string>{"/bin/echo", "hello"}));
  EXPECT_TRUE(ae.env.empty());
  EXPECT_EQ(ae.cwd, "");
  EXPECT_EQ(ae.expect_exit, 0);
  EXPECT_EQ(ae.max_output, 1024 * 1024);
  const Step& b = FindStep(*r.flow, "b");
  EXPECT_EQ(b.kind, StepKind::kSleep);
  EXPECT_EQ(std::get<SleepWith>(b.with).duration_ns, 5 * kSec);
  const auto& c = std::get<ExecWith>(FindStep(*r.flow, "c").with);
  // Step-output references stay for the engine; each element is one argument, even "".
  EXPECT_EQ(c.argv, (std::vector<std::string>{"cat", "x-${{ steps.a.outputs.stdout }}", ""}));
  EXPECT_EQ(c.env, (std::map<std::string, std::string>{{"X", "1"}}));
  EXPECT_EQ(c.cwd, "/tmp");
  const auto& d = std::get<ExecWith>(FindStep(*r.flow, "d").with);
  EXPECT_EQ(d.expect_exit, 3);
  EXPECT_EQ(d.max_output, 4096);
}

TEST(LoaderSleepExecTest, SleepNeedsADuration) {
  const LoadResult r = Load(Replace(kExecBase, "{duration: 5s}", "{}"));
  EXPECT_TRUE(OneError(r, 4, 38, "steps.b.with.duration", "missing required field 'duration'"));
  const LoadResult none = Load(Replace(kExecBase, ", with: {duration: 5s}", ""));
  EXPECT_TRUE(OneError(none, 4, 6, "steps.b.with.duration", "missing required field 'duration'"));
}

TEST(LoaderSleepExecTest, SleepDurationNeedsAUnit) {
  const LoadResult r = Load(Replace(kExecBase, "{duration: 5s}", "{duration: 5}"));
  EXPECT_TRUE(OneError(r, 4, 49, "steps.b.with.duration", "unit"));
}

TEST(LoaderSleepExecTest, SleepUnknownKeySuggestsTheClosest) {
  const LoadResult r = Load(Replace(kExecBase, "{duration: 5s}", "{duration: 5s, duraton: 1s}"));
  EXPECT_TRUE(OneError(r, 4, 53, "steps.b.with.duraton", "unknown key 'duraton'"));
  EXPECT_EQ(r.errors[0].hint, "did you mean 'duration'?");
}

TEST(LoaderSleepExecTest, ExecNeedsArgv) {
  const LoadResult r = Load(Replace(kExecBase, "{argv: [/bin/echo, hello]}", "{cwd: /tmp}"));
  EXPECT_TRUE(OneError(r, 3, 25, "steps.a.with.argv", "missing required field 'argv'"));
  EXPECT_NE(r.errors[0].hint.find("argv: [/bin/echo, hello]"), std::string::npos);
}

TEST(LoaderSleepExecTest, ArgvMustBeAListNotACommandLine) {
  const LoadResult r = Load(Replace(kExecBase, "[/bin/echo, hello]", "\"/bin/echo hello\""));
  EXPECT_TRUE(OneError(r, 3, 32, "steps.a.with.argv", "expected a list of strings, got a value"));
  EXPECT_NE(r.errors[0].hint.find("no shell"), std::string::npos);
}

TEST(LoaderSleepExecTest, ArgvMustNotBeEmpty) {
  const LoadResult r = Load(Replace(kExecBase, "[/bin/echo, hello]", "[]"));
  EXPECT_TRUE(OneError(r, 3, 32, "steps.a.with.argv", "must not be empty"));
  const LoadResult program = Load(Replace(kExecBase, "[/bin/echo, hello]", "[\"\", hello]"));
  EXPECT_TRUE(OneError(program, 3, 33, "steps.a.with.argv[0]", "must not be empty"));
}

TEST(LoaderSleepExecTest, ArgvElementsAreStrings) {
  const LoadResult r = Load(Replace(kExecBase, "[/bin/echo, hello]", "[/bin/echo, {a: 1}]"));
  EXPECT_TRUE(OneError(r, 3, 44, "steps.a.with.argv[1]", "expected a string, got a map"));
}

TEST(LoaderSleepExecTest, ArgvReferencesMustBeAncestors) {
  const LoadResult r = Load(Replace(kExecBase, "    needs: [b]\n", ""));
  EXPECT_TRUE(OneError(r, 7, 24, "steps.c.with.argv[1]",
                       "step 'c' uses outputs of 'a' but does not depend on it"));
  const LoadResult unknown = Load(Replace(kExecBase, "steps.a.outputs", "steps.z.outputs"));
  EXPECT_TRUE(OneError(unknown, 8, 24, "steps.c.with.argv[1]", "refers to unknown step 'z'"));
  const LoadResult own = Load(Replace(kExecBase, "steps.a.outputs", "steps.c.outputs"));
  EXPECT_TRUE(OneError(own, 8, 24, "steps.c.with.argv[1]", "cannot use its own outputs"));
}

TEST(LoaderSleepExecTest, ArgvTakesParameters) {
  const LoadResult r =
      Load("params: {word: hi}\n" + Replace(kExecBase, "hello]", "\"${{ params.word }}\"]"));
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  EXPECT_EQ(std::get<ExecWith>(FindStep(*r.flow, "a").with).argv,
            (std::vector<std::string>{"/bin/echo", "hi"}));
}

TEST(LoaderSleepExecTest, CwdAndEnvRejectStepOutputs) {
  const LoadResult r =
      Load(Replace(kExecBase, "cwd: /tmp", "cwd: \"${{ steps.a.outputs.stdout }}\""));
  EXPECT_TRUE(OneError(r, 8, 84, "steps.c.with.cwd", "step outputs cannot be used in this field"));
}

TEST(LoaderSleepExecTest, EnvValuesAreStrings) {
  const LoadResult r = Load(Replace(kExecBase, "{X: \"1\"}", "{X: [1, 2]}"));
  EXPECT_TRUE(OneError(r, 8, 73, "steps.c.with.env.X", "expected a string, got a list"));
  const LoadResult not_map = Load(Replace(kExecBase, "{X: \"1\"}", "X=1"));
  EXPECT_TRUE(OneError(not_map, 8, 69, "steps.c.with.env", "expected a map, got a value"));
}

TEST(LoaderSleepExecTest, ExpectExitIsAnExitCode) {
  const LoadResult r = Load(Replace(kExecBase, "{argv: [/bin/echo, hello]}",
                                    "{argv: [/bin/echo, hello], expect_exit: 300}"));
  EXPECT_TRUE(OneError(r, 3, 65, "steps.a.with.expect_exit", "must be between 0 and 255, got 300"));
  const LoadResult text = Load(Replace(kExecBase, "{argv: [/bin/echo, hello]}",
                                       "{argv: [/bin/echo, hello], expect_exit: ok}"));
  EXPECT_TRUE(OneError(text, 3, 65, "steps.a.with.expect_exit", "expected an integer, got 'ok'"));
}

TEST(LoaderSleepExecTest, MaxOutputIsAPositiveSize) {
  const LoadResult r = Load(Replace(kExecBase, "{argv: [/bin/echo, hello]}",
                                    "{argv: [/bin/echo, hello], max_output: 0}"));
  EXPECT_TRUE(OneError(r, 3, 64, "steps.a.with.max_output", "must be greater than 0 bytes"));
  const LoadResult bad = Load(Replace(kExecBase, "{argv: [/bin/echo, hello]}",
                                      "{argv: [/bin/echo, hello], max_output: lots}"));
  ASSERT_EQ(bad.errors.size(), 1u) << AllErrors(bad);
  EXPECT_EQ(bad.errors[0].field, "steps.a.with.max_output");
}

TEST(LoaderSleepExecTest, ExecUnknownKeySuggestsTheClosest) {
  const LoadResult r = Load(Replace(kExecBase, "{argv: [/bin/echo, hello]}",
                                    "{argv: [/bin/echo, hello], expect_exitt: 1}"));
  EXPECT_TRUE(OneError(r, 3, 52, "steps.a.with.expect_exitt", "unknown key 'expect_exitt'"));
  EXPECT_EQ(r.errors[0].hint, "did you mean 'expect_exit'?");
  const LoadResult shell =
      Load(Replace(kExecBase, "{argv: [/bin/echo, hello]}", "{argv: [/bin/echo, hello], zzz: 1}"));
  ASSERT_EQ(shell.errors.size(), 1u) << AllErrors(shell);
  EXPECT_EQ(shell.errors[0].hint, "allowed keys here: argv, env, cwd, expect_exit, max_output");
}

// ---- ordering ----

TEST(LoaderOrderTest, StepsAreSortedTopologicallyAndStably) {
  const LoadResult r = Load(R"(name: order
steps:
  verify: {kind: check, needs: [load], with: {expect: {lost: 0}}}
  kill: {kind: fault.kill, needs: [load.started], with: {target: leader}}
  load: {kind: workload, needs: [topic], with: {messages: 10}}
  net: {kind: fault.network, needs: [cluster], with: {target: broker-1, delay: 1ms}}
  topic: {kind: topic, needs: [cluster], with: {name: t}}
  cluster: {kind: cluster}
finally:
  b: {kind: check, needs: [a], with: {workload: load, expect: {lost: 0}}}
  a: {kind: check, with: {workload: load, expect: {lost: 0}}}
  c: {kind: check, with: {workload: load, expect: {lost: 0}}}
)");
  ASSERT_TRUE(r.errors.empty()) << AllErrors(r);
  // Among ready steps the earlier one in the file goes first: net (line 6) before topic (line 7).
  EXPECT_EQ(Ids(r.flow->steps),
            (std::vector<std::string>{"cluster", "net", "topic", "load", "verify", "kill"}));
  EXPECT_EQ(Ids(r.flow->finally), (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace
}  // namespace drone::spec
