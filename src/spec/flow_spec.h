// The typed form of a flow file. Produced by LoadFlow() (spec/loader.h) after parsing and
// validation; consumed by the flow engine. Nothing below flow/ sees YAML, only these structs.
// Plain value types; safe to copy and to read from several threads.
//
// Fields whose text may hold a step-output reference (`${{ steps.X.outputs.Y }}`) are strings
// and are interpolated by the engine when the step starts (spec/expression.h). Parameter
// references (`${{ params.P }}`) are substituted at load time, before type checking, so a typed
// field such as `rate` may be written as "${{ params.rate }}".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace drone::spec {

struct SourceLoc {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
};

// One problem found in a flow file. ToString(): "flows/x.yaml:12:5: steps.load.with.rate: expected
// a number, got 'fast'", followed by "\n  hint: ..." when there is a hint. Without a line (e.g. a
// problem with a command-line parameter) the position is left out: "flows/x.yaml: params.x: ...".
struct Diagnostic {
  SourceLoc loc;
  std::string field;    // dotted path, e.g. "steps.load.with.rate"
  std::string message;  // what is wrong
  std::string hint;     // what to do; may be empty
  std::string ToString() const;
};

// ---- step parameters, one struct per step kind ----

struct ClusterWith {
  std::string broker = "kafka";      // a driver name: kafka, and on platform local the brokers
                                     // that have a recipe there (redis, rabbitmq, nats, mqtt)
  std::string platform = "embedded"; // embedded | local | kubernetes | external
  int nodes = 3;                     // embedded: 1..16; local: what the recipe allows
  std::string bootstrap;             // external: "host:port,host:port"
  std::string lb = "none";           // local: none | haproxy (a TCP front end before the nodes)
  std::map<std::string, std::string> options;  // local, kubernetes: recipe settings, e.g. sentinels: 3
  // platform kubernetes (platforms/kubernetes/, docs/platforms/kubernetes.md):
  std::string context;               // kubeconfig context; empty: the current one
  std::string provider = "generic";  // provider profile
  std::string service;               // client Service type; empty: the provider's
  std::string image;                 // Drone's image; empty: the pinned default
  std::string network;  // local: "lab" | "proxy" | "loopback"; empty: when a network fault
                        // targets the cluster, lab if namespaces can be made here, else proxy
};

struct TopicWith {
  std::string cluster;  // step id of the cluster; the loader fills in the only cluster when omitted
  std::string name;     // required
  int partitions = 6;
  int replication = 3;  // <= nodes of the cluster; when omitted, min(3, nodes)
  std::map<std::string, std::string> config;  // passed to the broker as topic configs
};

// Every message carries Drone's envelope (workload/), so a message is never smaller than this.
inline constexpr int64_t kMinMessageBytes = 40;
inline constexpr int64_t kMaxMessageBytes = 16 * 1024 * 1024;

struct SizeDist {
  enum class Kind { kFixed, kUniform, kNormal };
  Kind kind = Kind::kFixed;
  int64_t bytes = 512;         // kFixed
  int64_t min = 0, max = 0;    // kUniform, and clamps for kNormal (default: the two limits above)
  int64_t mean = 0, stddev = 0;  // kNormal
};

struct KeySpec {
  enum class Mode { kNone, kRoundRobin, kRandom };
  Mode mode = Mode::kNone;
  int64_t count = 0;  // distinct keys for round-robin / random; > 0 when mode != kNone
};

enum class Guarantee { kAtMostOnce, kAtLeastOnce, kExactlyOnce, kOrdered };

struct WorkloadWith {
  std::string cluster;  // step id; the loader fills in the only cluster when omitted
  std::string topic;    // topic name (or `${{ steps.t.outputs.name }}`); the loader fills in the
                        // name of the flow's only topic step when omitted
  int producers = 1;    // 0..256
  int consumers = 1;    // 0..256
  double rate = 1000;   // messages per second, all producers together; 0 = unlimited
  SizeDist size;
  KeySpec keys;
  std::optional<int64_t> duration_ns;  // exactly one of duration / messages
  std::optional<int64_t> messages;     // total, all producers together
  std::string acks = "all";            // "0" | "1" | "all"
  bool idempotence = false;
  std::optional<int64_t> linger_ns;
  std::optional<int64_t> batch_bytes;
  std::string compression = "none";    // none | gzip | snappy | lz4 | zstd
  Guarantee delivery = Guarantee::kAtLeastOnce;
  int64_t drain_timeout_ns = 30'000'000'000;
  int64_t message_timeout_ns = 30'000'000'000;  // a send not acked by then is indeterminate
  std::string group;                   // consumer group id; empty = derived from the run id
  uint64_t seed = 1;
  std::map<std::string, std::string> producer_config;  // raw client properties, passed through
  std::map<std::string, std::string> consumer_config;
};

// fault.kill: take a node down; when `duration` is set, bring it back afterwards.
// fault.stop: the same through a graceful shutdown (SIGTERM); fault.pause: freeze the node
// (SIGSTOP) and thaw it (SIGCONT); fault.restart: stop, stay down for `duration` (default 0),
// start again — the step ends with the node back. (Local platform.)
// fault.network: impair links (embedded platform: a node's added round-trip time; local
// platform in a lab network: the impairment spec of docs/network-faults.md between `from` and
// `to`, or on an `endpoint`). fault.partition: cut hosts of a lab network off from each other.
struct FaultWith {
  std::string cluster;   // step id; the loader fills in the only cluster when omitted
  std::string target;    // node name ("broker-1"), a role (leader, random), or an output reference
  std::optional<int64_t> duration_ns;
  std::optional<int64_t> delay_ns;  // fault.network only
  bool failback = true;  // fault.kill: leadership returns to the node when it is back
  // fault.network on a lab: hosts are node names, roles (resolved when the fault fires),
  // "clients" or "brokers"; may hold step-output references.
  std::string from, to, endpoint;
  std::string impairment;  // fault.network: delay, loss, ... as checked JSON text; empty: none
  std::string partition;   // fault.partition: the partition spec as checked JSON text
};

struct Expectation {
  std::string field;      // result field, e.g. "lost" or "latency.end_to_end.p99"
  std::string condition;  // "0", "< 2s", ">= 1000", "== 0"
  SourceLoc loc;
};

struct CheckWith {
  std::string workload;  // step id; the loader fills in the only workload when omitted (stays
                         // empty in a flow without workload steps)
  std::vector<Expectation> expect;  // in file order
};

// sleep: wait for `duration` (cut short when the step is cancelled).
struct SleepWith {
  int64_t duration_ns = 0;  // required, > 0
};

// exec: run a program directly (never through a shell) and capture its output.
inline constexpr int64_t kDefaultExecMaxOutput = int64_t{1024} * 1024;

struct ExecWith {
  std::vector<std::string> argv;  // required, non-empty; elements may hold step-output references
  std::map<std::string, std::string> env;  // added to (or replacing in) Drone's environment
  std::string cwd;                // empty = Drone's working directory
  int expect_exit = 0;            // any other exit status fails the step
  int64_t max_output = kDefaultExecMaxOutput;  // stdout kept in the outputs, bytes
};

// wait: poll until every condition of `until` holds; fail once `deadline` has passed. A condition
// names a live workload total ("received", "lag") of `workload`, or a step output
// ("steps.ID.outputs.PATH"); see flow/wait_condition.h.
struct WaitCondition {
  std::string field;      // "received" or "steps.probe.outputs.status"
  std::string condition;  // ">= 5000", "== ready"
  SourceLoc loc;
};

struct WaitWith {
  std::string workload;  // step id; the loader fills in the only workload when a condition names
                         // a workload total and `workload` is omitted (else it stays empty)
  std::vector<WaitCondition> until;  // in file order; all must hold at once
  int64_t deadline_ns = 0;           // required, > 0
  int64_t poll_ns = 200'000'000;
};

// http: send one request, again every `interval` until the response meets `expect` or `deadline`
// has passed (no deadline: one attempt). http:// only.
inline constexpr int64_t kDefaultHttpMaxBody = int64_t{64} * 1024;

struct HttpWith {
  std::string url;                  // required; http://host[:port][/path]; may use step outputs
  std::string method = "GET";       // GET, HEAD, POST, PUT, DELETE, PATCH
  std::map<std::string, std::string> headers;
  std::string body;                 // request body; may use step outputs
  std::vector<int> expect_status;   // any of these; empty = any 2xx
  std::string body_contains;        // "" = no criterion
  std::string body_regex;           // ECMAScript syntax, searched in the body; "" = none
  std::optional<int64_t> deadline_ns;  // retry until then; unset = one attempt
  int64_t interval_ns = 1'000'000'000;
  int64_t request_timeout_ns = 5'000'000'000;  // connect, and each read or write
  int64_t max_body = kDefaultHttpMaxBody;      // of the response, kept in the outputs
};

// collect: copy files into the run directory (<data-dir>/runs/<run id>/<name>/), and by default
// the output every step captured (exec stdout and stderr tail).
struct CollectWith {
  std::vector<std::string> paths;  // glob patterns; relative ones from Drone's working directory;
                                   // elements may use step outputs
  std::string name;                // subdirectory of the run directory; empty = the step id
  bool logs = true;                // also the captured output of every step that has some
};

struct FlowSpec;

// flow: run another flow file as one step. The sub-flow is loaded and validated with the parent;
// its undo actions join the parent's teardown; its steps' outputs become this step's outputs.
struct SubFlowWith {
  std::string path;  // as written: relative to the parent file's directory, or absolute
  std::string file;  // the file that was loaded
  std::map<std::string, std::string> params;  // overrides of the sub-flow's declared params
  // Immutable once loaded; shared so that copies of the parent's spec need not copy it.
  std::shared_ptr<const FlowSpec> flow;
};

struct Step;

// each: runs the step template `step` once per item of a list, `parallelism` at a time, then
// gathers their outputs (flow/steps/each_step.cc). In the template, `${{ each.item }}` (and
// `${{ each.item.PATH }}` for a structured item) and `${{ each.index }}` name the iteration.
struct EachWith {
  std::vector<std::string> items;  // a literal list, each item as text; or else:
  std::string items_expr;          // `${{ steps.ID.outputs.PATH }}` resolving to a JSON array
  int parallelism = 0;             // iterations at once; 0 = all
  bool fail_fast = false;          // a failed iteration cancels the others and starts no more
  // The template: kind and with; its id is the each step's. Immutable once loaded; shared so that
  // copies of the spec need not copy it.
  std::shared_ptr<const Step> step;
};

enum class StepKind {
  kCluster, kTopic, kWorkload, kFaultKill, kFaultNetwork, kCheck, kSleep, kExec,
  kFaultStop, kFaultPause, kFaultRestart,
  kWait, kHttp, kCollect, kFlow,
  kFaultPartition,
  kEach,
};

const char* StepKindName(StepKind kind);  // "cluster", "fault.kill", ...

enum class NeedState { kSucceeded, kStarted, kDone, kFailed };

struct Need {
  std::string step;
  NeedState state = NeedState::kSucceeded;  // "x" = x.succeeded
};

enum class OnError { kStop, kContinue };

// `retry:` — a failed attempt (including one that timed out) is tried again, up to `limit`
// more times, after an exponential backoff: backoff, 2*backoff, 4*backoff ... capped at
// max_backoff, each scaled by a factor drawn from [1 - jitter, 1 + jitter] (seeded by the step
// id and the attempt, so a re-run waits the same).
struct RetryPolicy {
  int limit = 0;  // retries after the first attempt; 0 = none
  int64_t backoff_ns = 1'000'000'000;
  int64_t max_backoff_ns = 30'000'000'000;
  double jitter = 0;  // 0..1
};

struct Step {
  std::string id;
  StepKind kind = StepKind::kCheck;
  SourceLoc loc;
  std::vector<Need> needs;
  bool background = false;             // start, then let dependants proceed; joined at flow end
  int64_t after_ns = 0;                // delay between readiness and start
  std::optional<int64_t> timeout_ns;
  OnError on_error = OnError::kStop;
  RetryPolicy retry;
  // `when:` (spec/condition.h), parameters substituted; empty = always. Evaluated once the needs
  // are met; false skips the step.
  std::string when;
  // `setup:` — whether `drone up` runs the step (spec/setup_steps.h); unset: by kind (cluster
  // and topic steps are set-up steps).
  std::optional<bool> setup;
  std::variant<ClusterWith, TopicWith, WorkloadWith, FaultWith, CheckWith, SleepWith, ExecWith,
               WaitWith, HttpWith, CollectWith, SubFlowWith, EachWith>
      with;
};

// One axis of a flow's `matrix:`: a declared parameter and the values it takes, in file order.
struct MatrixAxis {
  std::string param;
  std::vector<std::string> values;  // non-empty; one value when -p fixes the parameter
};

struct FlowSpec {
  std::string file;
  std::string name;
  std::string description;
  std::map<std::string, std::string> params;  // effective values after -p overrides, as text
  std::vector<Step> steps;    // in a valid topological order
  std::vector<Step> finally;  // run after teardown, in a valid topological order (file order
                              // among steps that do not need each other)
  std::vector<MatrixAxis> matrix;  // `matrix:` in file order; empty: a single run (spec/matrix.h)
};

}  // namespace drone::spec
