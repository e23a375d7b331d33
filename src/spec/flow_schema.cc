#include "spec/flow_schema.h"

#include <limits>
#include <utility>

namespace drone::spec {
namespace {

using FT = FieldType;
using nlohmann::json;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// ---------- the tables ----------

std::vector<FieldSchema> MakeTopLevel() {
  return {
      {.name = "name",
       .type = FT::kString,
       .description = "The flow's name: a-z, 0-9 and '-' (e.g. kafka-broker-outage).",
       .required = true},
      {.name = "description", .type = FT::kString, .description = "What the flow tests, and why."},
      {.name = "params",
       .type = FT::kParams,
       .description = "Parameters with their default values; used as ${{ params.NAME }} and "
                      "overridden with `drone run FLOW -p NAME=VALUE`.",
       .expressions = Expressions::kNone},
      {.name = "steps",
       .type = FT::kSteps,
       .description = "The steps, by id. Steps with no dependency path between them run in "
                      "parallel.",
       .required = true},
      {.name = "matrix",
       .type = FT::kMatrix,
       .description = "Runs the flow once per combination of these parameter values, e.g. "
                      "{size: [100, 1000], acks: [\"1\", all]}; each key is a declared parameter. "
                      "`-p NAME=VALUE` fixes one to a single value.",
       .expressions = Expressions::kNone},
      {.name = "finally",
       .type = FT::kSteps,
       .description = "Steps that run after every step has ended and the undo actions have run, "
                      "whatever the outcome."},
  };
}

std::vector<FieldSchema> MakeStep() {
  return {
      {.name = "kind",
       .type = FT::kString,
       .description = "What the step does.",
       .enum_values = StepKindNames(),
       .required = true},
      {.name = "needs",
       .type = FT::kNeeds,
       .description = "Steps that must reach a state before this one starts: ID (= ID.succeeded), "
                      "ID.started, ID.done or ID.failed."},
      {.name = "with",
       .type = FT::kWith,
       .description = "The step's parameters; which ones depends on its kind."},
      {.name = "background",
       .type = FT::kBoolean,
       .description = "Start the step and let the steps that need it proceed; it runs until its "
                      "own end or until the flow ends.",
       .default_json = "false"},
      {.name = "after",
       .type = FT::kDuration,
       .description = "A delay between the step becoming ready and its start.",
       .default_json = "\"0s\""},
      {.name = "timeout",
       .type = FT::kDuration,
       .description = "The step fails when it runs longer than this."},
      {.name = "on_error",
       .type = FT::kString,
       .description = "stop: a failure of this step stops the flow; continue: the flow goes on.",
       .enum_values = {"stop", "continue"},
       .default_json = "\"stop\""},
      {.name = "retry",
       .type = FT::kRetry,
       .description = "Try a failed (or timed-out) attempt again: a number of retries, or "
                      "{limit, backoff, max_backoff, jitter}."},
      {.name = "when",
       .type = FT::kString,
       .description = "A condition (a value, or two around == != < <= > >=); when false once the "
                      "needs are met, the step is skipped.",
       .expressions = Expressions::kParamsAndSteps},
      {.name = "setup",
       .type = FT::kBoolean,
       .description = "Whether `drone up` (a standing environment) runs this step, with the steps "
                      "it needs; by default the cluster and topic steps do."},
  };
}

std::vector<FieldSchema> MakeRetry() {
  return {
      {.name = "limit",
       .type = FT::kInteger,
       .description = "Retries after the first attempt.",
       .required = true,
       .minimum = 0,
       .maximum = 100},
      {.name = "backoff",
       .type = FT::kDuration,
       .description = "The wait before the first retry; it doubles for each further one.",
       .default_json = "\"1s\""},
      {.name = "max_backoff",
       .type = FT::kDuration,
       .description = "The longest wait between attempts.",
       .default_json = "\"30s\""},
      {.name = "jitter",
       .type = FT::kNumber,
       .description = "0..1: each wait is scaled by a factor from [1 - jitter, 1 + jitter], seeded "
                      "by the step id and the retry number.",
       .default_json = "0"},
  };
}

std::vector<FieldSchema> ClusterRef() {
  return {{.name = "cluster",
           .type = FT::kString,
           .description = "The id of the cluster step; may be left out when the flow has one "
                          "cluster."}};
}

std::vector<FieldSchema> Concat(std::vector<FieldSchema> a, std::vector<FieldSchema> b) {
  for (FieldSchema& f : b) a.push_back(std::move(f));
  return a;
}

// fault.network: where the impairment applies. Hosts: node names, roles, clients, brokers.
std::vector<FieldSchema> NetworkTargets() {
  const std::string hosts =
      " A node name (nats-1), a role resolved when the fault fires (leader, random), `clients` "
      "(the host the workloads run in) or `brokers` (every node); or a step output.";
  return {
      {.name = "target",
       .type = FT::kString,
       .description = "The node whose links are impaired (embedded: with delay; local: the same "
                      "as endpoint).",
       .expressions = Expressions::kParamsAndSteps},
      {.name = "from",
       .type = FT::kString,
       .description = "A directed link: packets that `from` sends to `to`." + hosts,
       .expressions = Expressions::kParamsAndSteps},
      {.name = "to",
       .type = FT::kString,
       .description = "The receiving end of the link." + hosts,
       .expressions = Expressions::kParamsAndSteps},
      {.name = "endpoint",
       .type = FT::kString,
       .description = "Everything the host sends and receives (instead of from/to)." + hosts,
       .expressions = Expressions::kParamsAndSteps},
  };
}

// fault.network: the impairment (docs/network-faults.md has each field's forms).
std::vector<FieldSchema> Impairments() {
  return {
      {.name = "delay",
       .type = FT::kValue,
       .description = "\"100ms\", or {time, jitter, distribution, correlation}; embedded: the "
                      "added round-trip time."},
      {.name = "loss",
       .type = FT::kValue,
       .description = "0.05, \"5%\", {probability, correlation}, or {model: gilbert-elliott, p, "
                      "r, bad_loss, good_loss}."},
      {.name = "duplicate",
       .type = FT::kValue,
       .description = "\"1%\" or {probability, correlation}."},
      {.name = "corrupt",
       .type = FT::kValue,
       .description = "\"1%\" or {probability, correlation}: one bit flipped per packet hit."},
      {.name = "reorder",
       .type = FT::kValue,
       .description = "\"25%\" or {probability, correlation, gap}; needs a delay."},
      {.name = "rate",
       .type = FT::kValue,
       .description = "\"10mbit\" or {bandwidth, burst, limit}."},
      {.name = "seed",
       .type = FT::kInteger,
       .description = "The random seed of the impairment's draws.",
       .default_json = "1",
       .minimum = 0},
      {.name = "reset",
       .type = FT::kBoolean,
       .description = "Every connection, open or new, is answered with a TCP reset (network: "
                      "proxy only)."},
      {.name = "blackhole",
       .type = FT::kBoolean,
       .description = "The bytes are taken and none forwarded; at the heal the connections are "
                      "reset (network: proxy only)."},
      {.name = "slicer",
       .type = FT::kValue,
       .description = "{size, variation, delay}: the stream cut into pieces of size ± variation "
                      "bytes, sent delay apart (network: proxy only)."},
  };
}

// fault.partition (docs/network-faults.md, "Partitions").
std::vector<FieldSchema> PartitionFields() {
  return {
      {.name = "partition",
       .type = FT::kString,
       .description = "The shape: isolate (nodes), halves, groups, majorities-ring, bridge, "
                      "one-way (from, to).",
       .enum_values = {"isolate", "halves", "groups", "majorities-ring", "bridge", "one-way"},
       .required = true},
      {.name = "nodes",
       .type = FT::kValue,
       .description = "isolate: the hosts cut off from every other host (node names, roles, "
                      "clients), a name or a list."},
      {.name = "groups",
       .type = FT::kValue,
       .description = "groups: lists of hosts; hosts in different groups are cut off."},
      {.name = "from",
       .type = FT::kString,
       .description = "one-way: the host whose packets to `to` are dropped."},
      {.name = "to", .type = FT::kString, .description = "one-way: the receiving host."},
      {.name = "among",
       .type = FT::kValue,
       .description = "The hosts taking part; default: the brokers for halves, majorities-ring "
                      "and bridge, every host (brokers and clients) otherwise."},
  };
}

std::vector<StepKindSchema> MakeKinds() {
  const FieldSchema fault_target{
      .name = "target",
      .type = FT::kString,
      .description = "The node: a name (broker-1), a role (leader, primary, replica, random, "
                     "minority) or a step output.",
      .required = true,
      .expressions = Expressions::kParamsAndSteps};
  const FieldSchema fault_duration{
      .name = "duration",
      .type = FT::kDuration,
      .description = "How long the fault lasts; without it, it lasts until the flow's teardown."};
  // In StepKind order (flow_spec.h).
  return {
      {"cluster",
       "Starts a broker cluster; it is stopped at teardown.",
       {
           {.name = "broker",
            .type = FT::kString,
            .description = "The broker protocol (`drone plugins` lists them).",
            .default_json = "\"kafka\""},
           {.name = "platform",
            .type = FT::kString,
            .description = "Where the cluster runs: embedded (in-process), local (real servers "
                           "started here), kubernetes (pods in a namespace of the run) or "
                           "external (an existing cluster).",
            .default_json = "\"embedded\""},
           {.name = "nodes",
            .type = FT::kInteger,
            .description = "The number of broker nodes.",
            .default_json = "3",
            .minimum = 1,
            .maximum = 16},
           {.name = "bootstrap",
            .type = FT::kString,
            .description = "platform external: the cluster's addresses, host:port,host:port.",
            .expressions = Expressions::kParamsAndSteps},
           {.name = "lb",
            .type = FT::kString,
            .description = "platform local: haproxy puts a TCP load balancer in front of the nodes.",
            .enum_values = {"none", "haproxy"},
            .default_json = "\"none\""},
           {.name = "options",
            .type = FT::kStringMap,
            .description = "platform local and kubernetes: the broker recipe's settings, checked "
                           "by the recipe."},
           {.name = "context",
            .type = FT::kString,
            .description = "platform kubernetes: the kubeconfig context (default: the current "
                           "one; `drone run --context` overrides it)."},
           {.name = "provider",
            .type = FT::kString,
            .description = "platform kubernetes: the provider profile (storage class, load "
                           "balancer, NET_ADMIN): eks, gke, gke-autopilot, aks, kind, minikube, "
                           "k3s, microk8s, generic.",
            .default_json = "\"generic\""},
           {.name = "service",
            .type = FT::kString,
            .description = "platform kubernetes: the client Service's type; default: the "
                           "provider's.",
            .enum_values = {"LoadBalancer", "InternalLoadBalancer", "NodePort", "ClusterIP"}},
           {.name = "image",
            .type = FT::kString,
            .description = "platform kubernetes: Drone's image for worker pods and the "
                           "network-fault sidecar (default: the pinned release image)."},
           {.name = "network",
            .type = FT::kString,
            .description = "platform local: lab runs every node and the clients in network "
                           "namespaces of their own, so that network faults can act between "
                           "them; proxy puts a TCP proxy in front of every node (faults between "
                           "the clients and the nodes, no privilege needed); loopback uses "
                           "127.0.0.N. Default, when a network fault targets the cluster: lab "
                           "if this process may create namespaces (root), else proxy. "
                           "platform embedded: lab puts every broker and the clients in a "
                           "lab host of its own (only when asked for).",
            .enum_values = {"lab", "proxy", "loopback"}},
       }},
      {"topic", "Creates a topic on a cluster.",
       Concat(ClusterRef(),
              {
                  {.name = "name",
                   .type = FT::kString,
                   .description = "The topic's name.",
                   .required = true,
                   .expressions = Expressions::kParamsAndSteps},
                  {.name = "partitions",
                   .type = FT::kInteger,
                   .description = "The number of partitions.",
                   .default_json = "6",
                   .minimum = 1,
                   .maximum = 10000},
                  {.name = "replication",
                   .type = FT::kInteger,
                   .description = "Replicas per partition, at most the cluster's nodes; default "
                                  "min(3, nodes).",
                   .minimum = 1},
                  {.name = "config",
                   .type = FT::kStringMap,
                   .description = "Topic configs passed to the broker as they are."},
              })},
      {"workload",
       "Runs producers and consumers and accounts for every message. Set either duration or "
       "messages.",
       Concat(ClusterRef(),
              {
                  {.name = "topic",
                   .type = FT::kString,
                   .description = "The topic's name; may be left out when the flow has one topic "
                                  "step.",
                   .expressions = Expressions::kParamsAndSteps},
                  {.name = "producers",
                   .type = FT::kInteger,
                   .description = "Producer threads.",
                   .default_json = "1",
                   .minimum = 0,
                   .maximum = 256},
                  {.name = "consumers",
                   .type = FT::kInteger,
                   .description = "Consumer threads, in one group.",
                   .default_json = "1",
                   .minimum = 0,
                   .maximum = 256},
                  {.name = "rate",
                   .type = FT::kRate,
                   .description = "Messages per second, all producers together; max (or 0) for "
                                  "as fast as possible.",
                   .default_json = "1000"},
                  {.name = "size",
                   .type = FT::kMessageSize,
                   .description = "Message size in bytes (at least 40, the envelope), or a "
                                  "distribution.",
                   .default_json = "512"},
                  {.name = "keys",
                   .type = FT::kKeys,
                   .description = "Message keys: none, or {mode: round-robin|random, count}.",
                   .default_json = "\"none\""},
                  {.name = "duration",
                   .type = FT::kDuration,
                   .description = "How long the producers send (or set messages)."},
                  {.name = "messages",
                   .type = FT::kInteger,
                   .description = "How many messages to send, all producers together (or set "
                                  "duration).",
                   .minimum = 1},
                  {.name = "acks",
                   .type = FT::kAcks,
                   .description = "Producer acknowledgements: 0, 1 or all.",
                   .default_json = "\"all\""},
                  {.name = "idempotence",
                   .type = FT::kBoolean,
                   .description = "Idempotent producers.",
                   .default_json = "false"},
                  {.name = "linger",
                   .type = FT::kDuration,
                   .description = "How long a producer waits to fill a batch."},
                  {.name = "batch_size",
                   .type = FT::kSize,
                   .description = "The producer's batch size in bytes."},
                  {.name = "compression",
                   .type = FT::kString,
                   .description = "Producer compression.",
                   .enum_values = {"none", "gzip", "snappy", "lz4", "zstd"},
                   .default_json = "\"none\""},
                  {.name = "delivery",
                   .type = FT::kString,
                   .description = "The guarantee the verdict holds the workload to.",
                   .enum_values = {"at-most-once", "at-least-once", "exactly-once", "ordered"},
                   .default_json = "\"at-least-once\""},
                  {.name = "drain_timeout",
                   .type = FT::kDuration,
                   .description = "How long consumers may take to catch up after the load.",
                   .default_json = "\"30s\""},
                  {.name = "message_timeout",
                   .type = FT::kDuration,
                   .description = "A send not acknowledged by then counts as indeterminate.",
                   .default_json = "\"30s\""},
                  {.name = "group",
                   .type = FT::kString,
                   .description = "The consumer group id; default: derived from the run id."},
                  {.name = "seed",
                   .type = FT::kInteger,
                   .description = "Seed for sizes and keys.",
                   .default_json = "1",
                   .minimum = 0},
                  {.name = "producer_config",
                   .type = FT::kStringMap,
                   .description = "Raw client properties for the producers, passed through."},
                  {.name = "consumer_config",
                   .type = FT::kStringMap,
                   .description = "Raw client properties for the consumers, passed through."},
              })},
      {"fault.kill", "Takes a node down; with a duration, brings it back afterwards.",
       Concat(ClusterRef(), {fault_target,
                             fault_duration,
                             {.name = "failback",
                              .type = FT::kBoolean,
                              .description = "Leadership returns to the node when it is back.",
                              .default_json = "true"}})},
      {"fault.network",
       "Impairs links: on a local cluster in a lab network, the impairment between `from` and "
       "`to` or on an `endpoint` (docs/network-faults.md); on a Kubernetes cluster the same "
       "between its pods (tc in each pod's sidecar); on the embedded platform, a node's "
       "added round-trip time (`target` and `delay`).",
       Concat(ClusterRef(), Concat(NetworkTargets(), Concat({fault_duration}, Impairments())))},
      {"check",
       "Asserts conditions on a workload's (or the flow's) results.",
       {
           {.name = "workload",
            .type = FT::kString,
            .description = "The id of the workload step; may be left out when the flow has "
                           "one."},
           {.name = "expect",
            .type = FT::kConditions,
            .description = "Result field -> condition, e.g. lost: 0, "
                           "latency.end_to_end.p99: \"< 2s\".",
            .required = true},
       }},
      {"sleep",
       "Waits.",
       {
           {.name = "duration",
            .type = FT::kDuration,
            .description = "How long to wait.",
            .required = true},
       }},
      {"exec",
       "Runs a program directly (never through a shell); its stdout and exit code become "
       "outputs.",
       {
           {.name = "argv",
            .type = FT::kStringList,
            .description = "The program and its arguments, one element each.",
            .required = true,
            .expressions = Expressions::kParamsAndSteps},
           {.name = "env",
            .type = FT::kStringMap,
            .description = "Environment variables added to (or replacing) Drone's."},
           {.name = "cwd",
            .type = FT::kString,
            .description = "The working directory; default: Drone's."},
           {.name = "expect_exit",
            .type = FT::kInteger,
            .description = "The exit status that counts as success.",
            .default_json = "0",
            .minimum = 0,
            .maximum = 255},
           {.name = "max_output",
            .type = FT::kSize,
            .description = "How much of stdout is kept in the outputs.",
            .default_json = "\"1MiB\""},
       }},
      {"fault.stop",
       "Stops a node gracefully (local: SIGTERM); with a duration, starts it again afterwards.",
       Concat(ClusterRef(), {fault_target, fault_duration})},
      {"fault.pause",
       "Freezes a node (local: SIGSTOP); with a duration, thaws it afterwards (SIGCONT).",
       Concat(ClusterRef(), {fault_target, fault_duration})},
      {"fault.restart",
       "Stops a node gracefully and starts it again after the duration (default: at once).",
       Concat(ClusterRef(), {fault_target, fault_duration})},
      {"wait",
       "Waits until conditions on live workload totals or step outputs hold, with a deadline.",
       {
           {.name = "workload",
            .type = FT::kString,
            .description = "The workload step whose live totals `until` names; may be left out "
                           "when the flow has one."},
           {.name = "until",
            .type = FT::kConditions,
            .description = "A live total (sent, acked, failed, indeterminate, received, lag, "
                           "elapsed_s) or a step output (steps.ID.outputs.PATH) -> condition.",
            .required = true},
           {.name = "deadline",
            .type = FT::kDuration,
            .description = "The step fails when the conditions do not hold by then.",
            .required = true},
           {.name = "poll",
            .type = FT::kDuration,
            .description = "How often the conditions are evaluated.",
            .default_json = "\"200ms\""},
       }},
      {"http",
       "Sends an HTTP request and judges the response; retried until a deadline.",
       {
           {.name = "url",
            .type = FT::kString,
            .description = "http://HOST[:PORT][/PATH] (plain HTTP only).",
            .required = true,
            .expressions = Expressions::kParamsAndSteps},
           {.name = "method",
            .type = FT::kString,
            .description = "The request method.",
            .enum_values = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"},
            .default_json = "\"GET\""},
           {.name = "headers", .type = FT::kStringMap, .description = "Request headers."},
           {.name = "body",
            .type = FT::kString,
            .description = "The request body.",
            .expressions = Expressions::kParamsAndSteps},
           {.name = "expect",
            .type = FT::kHttpExpect,
            .description = "What a response must meet; default: any 2xx status."},
           {.name = "deadline",
            .type = FT::kDuration,
            .description = "Repeat the request until a response meets expect, for at most this "
                           "long; default: one attempt."},
           {.name = "interval",
            .type = FT::kDuration,
            .description = "The pause between attempts.",
            .default_json = "\"1s\""},
           {.name = "request_timeout",
            .type = FT::kDuration,
            .description = "For connecting and for each read or write of one request.",
            .default_json = "\"5s\""},
           {.name = "max_body",
            .type = FT::kSize,
            .description = "How much of the response body is read and kept.",
            .default_json = "\"64KiB\""},
       }},
      {"collect",
       "Copies files, and every step's captured output, into the run directory.",
       {
           {.name = "paths",
            .type = FT::kStringList,
            .description = "Glob patterns of files or directories to keep.",
            .expressions = Expressions::kParamsAndSteps},
           {.name = "name",
            .type = FT::kString,
            .description = "The subdirectory of the run directory; default: the step id."},
           {.name = "logs",
            .type = FT::kBoolean,
            .description = "Also keep every step's captured output (exec stdout, stderr tail).",
            .default_json = "true"},
       }},
      {"flow",
       "Runs another flow file as one step.",
       {
           {.name = "path",
            .type = FT::kString,
            .description = "The sub-flow's file, relative to this file's directory.",
            .required = true},
           {.name = "params",
            .type = FT::kStringMap,
            .description = "Values for the sub-flow's declared params."},
       }},
      {"fault.partition",
       "Cuts hosts of a lab network off from each other (iptables DROP); healed at the end of "
       "the duration or of the flow.",
       Concat(ClusterRef(), Concat({fault_duration}, PartitionFields()))},
      {"each",
       "Runs a step template once per item of a list (${{ each.item }}, ${{ each.index }}), "
       "in parallel, then gathers: outputs results (each iteration's outputs), succeeded, "
       "failed.",
       {
           {.name = "items",
            .type = FT::kItems,
            .description = "The list: written out, or ${{ steps.ID.outputs.PATH }} resolving to "
                           "a JSON array (e.g. a cluster's nodes).",
            .required = true,
            .expressions = Expressions::kParamsAndSteps},
           {.name = "step",
            .type = FT::kStepTemplate,
            .description = "The step run per item: kind and with; ${{ each.item }} and "
                           "${{ each.index }} may be used where step outputs may.",
            .required = true},
           {.name = "parallelism",
            .type = FT::kInteger,
            .description = "Iterations at once; default: all.",
            .minimum = 1,
            .maximum = 1024},
           {.name = "fail_fast",
            .type = FT::kBoolean,
            .description = "A failed iteration cancels the running ones and starts no more; "
                           "false: every iteration runs, and the step fails if any did.",
            .default_json = "false"},
       }},
  };
}

std::vector<FieldSchema> MakeSize() {
  return {
      {.name = "distribution",
       .type = FT::kString,
       .description = "uniform (with min and max) or normal (with mean and stddev).",
       .enum_values = {"uniform", "normal"},
       .required = true},
      {.name = "min", .type = FT::kSize, .description = "The smallest message, bytes."},
      {.name = "max", .type = FT::kSize, .description = "The largest message, bytes."},
      {.name = "mean", .type = FT::kSize, .description = "normal: the mean size, bytes."},
      {.name = "stddev",
       .type = FT::kSize,
       .description = "normal: the standard deviation, bytes."},
  };
}

std::vector<FieldSchema> MakeKeys() {
  return {
      {.name = "mode",
       .type = FT::kString,
       .description = "How keys are chosen.",
       .enum_values = {"none", "round-robin", "random"},
       .required = true},
      {.name = "count",
       .type = FT::kInteger,
       .description = "The number of distinct keys (round-robin, random).",
       .minimum = 1},
  };
}

// ---------- the JSON Schema ----------

// Patterns are ECMA-262 regular expressions, as JSON Schema requires.
constexpr const char* kIdentifierPattern = "^[A-Za-z_][A-Za-z0-9_-]*$";
constexpr const char* kExpressionPattern = "\\$\\{\\{.*\\}\\}";
constexpr const char* kStepsExpressionPattern = "\\$\\{\\{\\s*steps\\.";
constexpr const char* kDurationPattern =
    "^\\s*[0-9]+(\\.[0-9]+)?\\s*([nN][sS]|[uU][sS]|µs|[mM][sS]|[sS]|[mM]|[hH])\\s*$";
constexpr const char* kSizePattern = "^\\s*[0-9]+\\s*([bB]|[kKmMgG][iI]?[bB])?\\s*$";

json Ref(const std::string& def) { return {{"$ref", "#/$defs/" + def}}; }

// A scalar that is (or holds) an expression this field may use.
json ExpressionFor(Expressions e) {
  return Ref(e == Expressions::kParamsAndSteps ? "expression" : "params_expression");
}

// `base`, or an expression in its place.
json OrExpression(json base, Expressions e) {
  if (e == Expressions::kNone) return base;
  return {{"anyOf", json::array({std::move(base), ExpressionFor(e)})}};
}

json ValueSchema(const FieldSchema& f) {
  switch (f.type) {
    case FT::kString: {
      if (!f.enum_values.empty()) return OrExpression({{"enum", f.enum_values}}, f.expressions);
      json s = {{"type", json::array({"string", "number", "boolean"})}};
      if (f.expressions != Expressions::kParamsAndSteps) {
        s["not"] = f.expressions == Expressions::kNone
                       ? json{{"type", "string"}, {"pattern", kExpressionPattern}}
                       : json{{"type", "string"}, {"pattern", kStepsExpressionPattern}};
      }
      return s;
    }
    case FT::kInteger: {
      json s = {{"type", "integer"}};
      if (f.minimum) s["minimum"] = *f.minimum;
      if (f.maximum && *f.maximum != kInt64Max) s["maximum"] = *f.maximum;
      return OrExpression(std::move(s), f.expressions);
    }
    case FT::kNumber:
      return OrExpression({{"type", "number"}}, f.expressions);
    case FT::kBoolean:
      return OrExpression({{"type", "boolean"}}, f.expressions);
    case FT::kDuration:
      return OrExpression(Ref("duration"), f.expressions);
    case FT::kSize:
      return OrExpression(Ref("size"), f.expressions);
    case FT::kMessageSize:
      return OrExpression({{"anyOf", json::array({Ref("size"), Ref("size_distribution")})}},
                          f.expressions);
    case FT::kRate:
      return OrExpression(
          {{"anyOf", json::array({json{{"type", "number"}, {"minimum", 0}},
                                  json{{"enum", {"max", "unlimited"}}}})}},
          f.expressions);
    case FT::kRetry:
      return OrExpression(
          {{"anyOf", json::array({json{{"type", "integer"}, {"minimum", 0}, {"maximum", 100}},
                                  Ref("retry")})}},
          f.expressions);
    case FT::kKeys:
      return OrExpression({{"anyOf", json::array({json{{"const", "none"}}, Ref("keys")})}},
                          f.expressions);
    case FT::kAcks:
      return OrExpression({{"enum", json::array({0, 1, -1, "0", "1", "-1", "all"})}},
                          f.expressions);
    case FT::kStringMap:
      return {{"type", json::array({"object", "null"})},
              {"additionalProperties",
               {{"type", json::array({"string", "number", "boolean", "null"})}}}};
    case FT::kStringList: {
      json item = {{"type", json::array({"string", "number", "boolean"})}};
      return {{"type", "array"}, {"minItems", 1}, {"items", std::move(item)}};
    }
    case FT::kNeeds: {
      json one = OrExpression(Ref("need"), f.expressions);
      return {{"anyOf", json::array({one, json{{"type", "array"}, {"items", one}}})}};
    }
    case FT::kConditions:
      return {{"type", "object"},
              {"minProperties", 1},
              {"propertyNames",
               {{"pattern", "^[A-Za-z0-9_]+(\\[[0-9]+\\])?(\\.[A-Za-z0-9_]+(\\[[0-9]+\\])?)*$"}}},
              {"additionalProperties",
               OrExpression({{"type", json::array({"string", "number"})}}, f.expressions)}};
    case FT::kParams:
      return {{"type", "object"},
              {"propertyNames", {{"pattern", kIdentifierPattern}}},
              {"additionalProperties",
               {{"type", json::array({"string", "number", "boolean"})},
                {"not", {{"type", "string"}, {"pattern", kExpressionPattern}}}}}};
    case FT::kSteps:
      return {{"type", json::array({"object", "null"})},
              {"propertyNames", {{"pattern", kIdentifierPattern}}},
              {"additionalProperties", Ref("step")}};
    case FT::kWith:
      return {{"type", json::array({"object", "null"})}};
    case FT::kHttpExpect:
      return Ref("http_expect");
    case FT::kMatrix:
      return {{"type", "object"},
              {"minProperties", 1},
              {"propertyNames", {{"pattern", kIdentifierPattern}}},
              {"additionalProperties",
               {{"type", "array"},
                {"minItems", 1},
                {"uniqueItems", true},
                {"items",
                 {{"type", json::array({"string", "number", "boolean"})},
                  {"not", {{"type", "string"}, {"pattern", kExpressionPattern}}}}}}}};
    case FT::kValue:
      return {{"type", json::array({"string", "number", "object", "array"})}};
    case FT::kItems:
      return {{"anyOf", json::array({json{{"type", "array"}}, ExpressionFor(f.expressions)})}};
    case FT::kStepTemplate:
      return Ref("each_step");
  }
  return json::object();
}

// {type: object, properties, required, additionalProperties: false} for a section.
json ObjectSchema(const std::vector<FieldSchema>& fields, const std::string& description,
                  bool nullable) {
  json properties = json::object();
  json required = json::array();
  for (const FieldSchema& f : fields) {
    json p = ValueSchema(f);
    p["description"] = f.description;
    if (!f.default_json.empty()) p["default"] = json::parse(f.default_json);
    properties[f.name] = std::move(p);
    if (f.required) required.push_back(f.name);
  }
  json s = {
      {"type", nullable && required.empty() ? json::array({"object", "null"}) : json("object")},
      {"properties", std::move(properties)},
      {"additionalProperties", false}};
  if (!description.empty()) s["description"] = description;
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

std::string NeedPattern() {
  std::string states;
  for (const std::string& s : NeedStateNames()) states += (states.empty() ? "" : "|") + s;
  return "^[A-Za-z_][A-Za-z0-9_-]*(\\.(" + states + "))?$";
}

}  // namespace

const std::vector<FieldSchema>& TopLevelFields() {
  static const std::vector<FieldSchema> kFields = MakeTopLevel();
  return kFields;
}

const std::vector<FieldSchema>& HttpExpectFields() {
  static const std::vector<FieldSchema> kFields = {
      {.name = "status",
       .type = FT::kInteger,
       .description = "The status code, or a list of codes, that counts as success.",
       .minimum = 100,
       .maximum = 599},
      {.name = "body_contains", .type = FT::kString, .description = "Text the body must contain."},
      {.name = "body_regex",
       .type = FT::kString,
       .description = "An ECMAScript regular expression searched in the body."},
  };
  return kFields;
}

const std::vector<FieldSchema>& StepFields() {
  static const std::vector<FieldSchema> kFields = MakeStep();
  return kFields;
}

const std::vector<StepKindSchema>& StepKinds() {
  static const std::vector<StepKindSchema> kKinds = MakeKinds();
  return kKinds;
}

const StepKindSchema* FindStepKind(const std::string& name) {
  for (const StepKindSchema& k : StepKinds()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

const std::vector<FieldSchema>& SizeFields() {
  static const std::vector<FieldSchema> kFields = MakeSize();
  return kFields;
}

const std::vector<FieldSchema>& KeysFields() {
  static const std::vector<FieldSchema> kFields = MakeKeys();
  return kFields;
}

const std::vector<FieldSchema>& RetryFields() {
  static const std::vector<FieldSchema> kFields = MakeRetry();
  return kFields;
}

const std::vector<std::string>& NeedStateNames() {
  static const std::vector<std::string> kStates = {"succeeded", "started", "done", "failed"};
  return kStates;
}

std::vector<std::string> FieldNames(const std::vector<FieldSchema>& fields) {
  std::vector<std::string> names;
  names.reserve(fields.size());
  for (const FieldSchema& f : fields) names.push_back(f.name);
  return names;
}

const std::vector<std::string>& EachTemplateKinds() {
  static const std::vector<std::string> kKinds = {"exec", "http", "sleep", "collect"};
  return kKinds;
}

const std::vector<FieldSchema>& EachTemplateFields() {
  static const std::vector<FieldSchema> kFields = {
      {.name = "kind",
       .type = FT::kString,
       .description = "What each iteration does.",
       .enum_values = EachTemplateKinds(),
       .required = true},
      {.name = "with",
       .type = FT::kWith,
       .description = "The iteration's parameters; which ones depends on its kind."},
  };
  return kFields;
}

std::vector<std::string> StepKindNames() {
  std::vector<std::string> names;
  for (const StepKindSchema& k : StepKinds()) names.push_back(k.name);
  return names;
}

nlohmann::json FlowJsonSchema() {
  json defs = json::object();
  defs["expression"] = {
      {"type", "string"},
      {"pattern", kExpressionPattern},
      {"description", "${{ params.NAME }} or ${{ steps.ID.outputs.NAME }}, alone or in text"}};
  defs["params_expression"] = {
      {"type", "string"},
      {"pattern", kExpressionPattern},
      {"not", {{"pattern", kStepsExpressionPattern}}},
      {"description", "${{ params.NAME }}; step outputs cannot be used in this field"}};
  defs["duration"] = {{"type", "string"},
                      {"pattern", kDurationPattern},
                      {"description", "a number and a unit: ns, us, ms, s, m or h (250ms, 10s)"}};
  defs["size"] = {{"description", "bytes, optionally with a unit: 512, 4KiB, 1MB"},
                  {"anyOf", json::array({json{{"type", "integer"}, {"minimum", 0}},
                                         json{{"type", "string"}, {"pattern", kSizePattern}}})}};
  defs["need"] = {{"type", "string"}, {"pattern", NeedPattern()}};
  defs["size_distribution"] = ObjectSchema(SizeFields(), "a message size distribution", false);
  defs["keys"] = ObjectSchema(KeysFields(), "how message keys are chosen", false);
  defs["retry"] = ObjectSchema(RetryFields(), "when and how often a failed step is tried again", false);
  defs["http_expect"] = ObjectSchema(HttpExpectFields(), "what an http response must meet", false);
  {
    // `status` is one code or a list of codes.
    json& status = defs["http_expect"]["properties"]["status"];
    json one = status;
    one.erase("description");
    const json description = status["description"];
    status = {{"description", description},
              {"anyOf", json::array({one, json{{"type", "array"}, {"minItems", 1}, {"items", one}}})}};
  }

  json step = ObjectSchema(StepFields(), "one step of the flow; `kind` decides its `with`", false);
  json kinds = json::array();
  for (const StepKindSchema& k : StepKinds()) {
    const std::string def = "with." + k.name;
    defs[def] = ObjectSchema(k.with, k.description, true);
    json then = {{"properties", {{"with", Ref(def)}}}};
    // A kind with required parameters needs its `with`.
    if (defs[def].contains("required")) then["required"] = {"with"};
    kinds.push_back(
        {{"if", {{"properties", {{"kind", {{"const", k.name}}}}}, {"required", {"kind"}}}},
         {"then", std::move(then)}});
  }
  step["allOf"] = std::move(kinds);
  defs["step"] = std::move(step);
  json each_step = ObjectSchema(EachTemplateFields(), "the step an each step runs per item", false);
  json each_kinds = json::array();
  for (const std::string& k : EachTemplateKinds()) {
    each_kinds.push_back(
        {{"if", {{"properties", {{"kind", {{"const", k}}}}}, {"required", {"kind"}}}},
         {"then", {{"properties", {{"with", Ref("with." + k)}}}}}});
  }
  each_step["allOf"] = std::move(each_kinds);
  defs["each_step"] = std::move(each_step);

  json root = ObjectSchema(TopLevelFields(), "", false);
  root["$schema"] = "https://json-schema.org/draft/2020-12/schema";
  root["title"] = "Drone flow";
  root["description"] =
      "A Drone flow file: parameters and a DAG of steps (clusters, topics, workloads, faults, "
      "checks). Generated by `drone schema` from the table the loader checks keys against.";
  if (root["properties"].contains("steps")) root["properties"]["steps"]["minProperties"] = 1;
  root["$defs"] = std::move(defs);
  return root;
}

}  // namespace drone::spec
