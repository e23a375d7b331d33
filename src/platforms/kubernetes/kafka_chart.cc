// Kafka in KRaft mode: every node both controller and broker, one StatefulSet of the official
// apache/kafka image configured through its KAFKA_* environment (the image turns those into
// server.properties). Or, with options.operator=strimzi, the Strimzi `Kafka` and `KafkaNodePool`
// resources for a cluster where the Strimzi operator runs.
#include <cstdint>
#include <cstdio>

#include "platforms/kubernetes/pod_parts.h"

namespace drone::platforms::kubernetes {
namespace {

constexpr int kClientPort = 9092;
constexpr int kControllerPort = 9093;

// A KRaft cluster id (16 bytes, base64url without padding) derived from the namespace and the
// cluster's name, so that synthesis stays deterministic and two runs never share an id.
std::string ClusterId(const std::string& seed) {
  uint64_t a = 1469598103934665603ull;
  uint64_t b = 1099511628211ull ^ 0x9e3779b97f4a7c15ull;
  for (char c : seed) {
    a = (a ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    b = (b ^ static_cast<unsigned char>(c)) * 0x100000001b3ull + 0x7f4a7c15ull;
  }
  unsigned char bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<unsigned char>(a >> (8 * i));
    bytes[8 + i] = static_cast<unsigned char>(b >> (8 * i));
  }
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char byte : bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      out += kAlphabet[(acc >> (bits - 6)) & 0x3f];
      bits -= 6;
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3f];
  return out;  // 22 characters
}

}  // namespace

Result<ClusterLayout> BuildKafka(Chart& chart, const BuildContext& ctx) {
  const int n = ctx.plan.nodes;
  const std::string headless = HeadlessName(ctx);
  const int replication = n < 3 ? n : 3;
  const int min_isr = replication > 1 ? replication - 1 : 1;

  std::string voters;
  for (int i = 0; i < n; ++i) {
    const std::string host = ctx.PodHost(ctx.base, headless, i);
    voters += (i ? "," : "") + std::to_string(i) + "@" + host + ":" + std::to_string(kControllerPort);
  }

  Json env = Json::array();
  env.push_back(EnvField("POD_NAME", "metadata.name"));
  // The pod's ordinal (StatefulSet pod-index label, Kubernetes 1.28+) is the node id.
  env.push_back(EnvField("KAFKA_NODE_ID", "metadata.labels['apps.kubernetes.io/pod-index']"));
  env.push_back(EnvValue("CLUSTER_ID", ClusterId(ctx.ns + "/" + ctx.base)));
  env.push_back(EnvValue("KAFKA_PROCESS_ROLES", "broker,controller"));
  env.push_back(EnvValue("KAFKA_CONTROLLER_QUORUM_VOTERS", voters));
  env.push_back(EnvValue("KAFKA_LISTENERS", "PLAINTEXT://:" + std::to_string(kClientPort) +
                                                ",CONTROLLER://:" + std::to_string(kControllerPort)));
  env.push_back(EnvValue("KAFKA_ADVERTISED_LISTENERS",
                         "PLAINTEXT://$(POD_NAME)." + headless + "." + ctx.ns +
                             ".svc.cluster.local:" + std::to_string(kClientPort)));
  env.push_back(EnvValue("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                         "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"));
  env.push_back(EnvValue("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"));
  env.push_back(EnvValue("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT"));
  // A subdirectory: a fresh volume's lost+found is not a partition directory.
  env.push_back(EnvValue("KAFKA_LOG_DIRS", "/var/lib/kafka/data/logs"));
  env.push_back(EnvValue("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", std::to_string(replication)));
  env.push_back(EnvValue("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", std::to_string(replication)));
  env.push_back(EnvValue("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", std::to_string(min_isr)));
  env.push_back(EnvValue("KAFKA_MIN_INSYNC_REPLICAS", std::to_string(min_isr)));
  env.push_back(EnvValue("KAFKA_DEFAULT_REPLICATION_FACTOR", std::to_string(replication)));
  env.push_back(EnvValue("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"));
  env.push_back(EnvValue("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0"));
  env.push_back(EnvValue("KAFKA_HEAP_OPTS", "-Xms512m -Xmx512m"));

  Json container = Json::object();
  container["name"] = "kafka";
  container["image"] = kKafkaImage;
  container["ports"] = Json::array({Port("client", kClientPort), Port("controller", kControllerPort)});
  container["env"] = env;
  container["readinessProbe"] = TcpProbe(kClientPort, 10, 5, 6);
  container["livenessProbe"] = TcpProbe(kControllerPort, 60, 10, 6);
  container["resources"] = Resources("500m", "1Gi", "2Gi");
  container["volumeMounts"] = Json::array({{{"name", "data"}, {"mountPath", "/var/lib/kafka/data"}}});
  container["securityContext"] = {{"allowPrivilegeEscalation", false}};

  BrokerSet set;
  set.component = "kafka";
  set.process_name = "java";
  set.client_port = kClientPort;
  set.headless_ports = {{"client", kClientPort}, {"controller", kControllerPort}};
  set.client_ports = {{"client", kClientPort}};
  set.pods.containers = Json::array({container});
  set.pods.claim_templates = Json::array({ClaimTemplate(ctx, "data", "10Gi")});
  // The image runs as appuser (uid 1000); the volume must be writable by it.
  set.pods.pod_security_context = {{"fsGroup", 1000}};
  set.pods.termination_grace_s = 60;
  return AddBrokerSet(chart, ctx, std::move(set));
}

Result<ClusterLayout> BuildStrimziKafka(Chart& chart, const BuildContext& ctx) {
  const int n = ctx.plan.nodes;
  const int replication = n < 3 ? n : 3;
  const int min_isr = replication > 1 ? replication - 1 : 1;
  const std::string pool = "nodes";

  ApiObject node_pool("kafka.strimzi.io/v1beta2", "KafkaNodePool", pool);
  node_pool.Namespace(ctx.ns).Label(kClusterLabel, ctx.base).Label("strimzi.io/cluster", ctx.base);
  Json volume = Json::object();
  volume["id"] = 0;
  volume["type"] = "persistent-claim";
  volume["size"] = "10Gi";
  volume["deleteClaim"] = true;
  volume["kraftMetadata"] = "shared";
  if (!ctx.StorageClass().empty()) volume["class"] = ctx.StorageClass();
  Json pool_spec = Json::object();
  pool_spec["replicas"] = n;
  pool_spec["roles"] = Json::array({"controller", "broker"});
  pool_spec["storage"] = {{"type", "jbod"}, {"volumes", Json::array({volume})}};
  pool_spec["resources"] = Resources("500m", "1Gi", "2Gi");
  node_pool.Set("spec", pool_spec);

  ApiObject kafka("kafka.strimzi.io/v1beta2", "Kafka", ctx.base);
  kafka.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  kafka.Annotate("strimzi.io/node-pools", "enabled").Annotate("strimzi.io/kraft", "enabled");
  const std::string type = ctx.ServiceType();
  const std::string external = type == "LoadBalancer" ? "loadbalancer"
                               : type == "NodePort"   ? "nodeport"
                                                      : "";
  Json listeners = Json::array();
  listeners.push_back({{"name", "plain"}, {"port", kClientPort}, {"type", "internal"}, {"tls", false}});
  if (!external.empty()) {
    listeners.push_back({{"name", "external"}, {"port", 9094}, {"type", external}, {"tls", false}});
  }
  Json config = Json::object();
  config["offsets.topic.replication.factor"] = replication;
  config["transaction.state.log.replication.factor"] = replication;
  config["transaction.state.log.min.isr"] = min_isr;
  config["default.replication.factor"] = replication;
  config["min.insync.replicas"] = min_isr;
  config["auto.create.topics.enable"] = false;
  Json kafka_spec = Json::object();
  kafka_spec["kafka"] = {{"version", kKafkaVersion}, {"listeners", listeners}, {"config", config}};
  kafka_spec["entityOperator"] = {{"topicOperator", Json::object()}, {"userOperator", Json::object()}};
  kafka.Set("spec", kafka_spec);

  chart.Add(ctx.phase_file, std::move(node_pool));
  chart.Add(ctx.phase_file, std::move(kafka));

  ClusterLayout layout;
  layout.waits = {"kafka/" + ctx.base};
  for (int i = 0; i < n; ++i) layout.pods.push_back(ctx.base + "-" + pool + "-" + std::to_string(i));
  layout.pod_selector = "strimzi.io/cluster=" + ctx.base + ",strimzi.io/pool-name=" + pool;
  layout.broker_container = "kafka";
  layout.process_name = "java";
  layout.client_service = ctx.base + "-kafka-bootstrap";
  layout.endpoint.bootstrap = ctx.ServiceHost(layout.client_service) + ":" + std::to_string(kClientPort);
  return layout;
}

}  // namespace drone::platforms::kubernetes
