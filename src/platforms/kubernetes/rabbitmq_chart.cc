// RabbitMQ: a StatefulSet of the official image that forms its cluster through
// rabbitmq_peer_discovery_k8s (which reads the headless Service's endpoints from the API server:
// hence its ServiceAccount, Role and RoleBinding), one Erlang cookie for the cluster in a Secret,
// quorum queues by default, pause_minority on a partition.
#include "platforms/kubernetes/pod_parts.h"

namespace drone::platforms::kubernetes {
namespace {

constexpr int kAmqpPort = 5672;
constexpr int kDistPort = 25672;
constexpr int kEpmdPort = 4369;
constexpr int kManagementPort = 15692;  // rabbitmq_prometheus

// The cookie and the default user's password, derived from the namespace: they only have to be
// the same on every node of one run, and differ between runs. (Secret values for a test bench
// whose brokers live as long as one run.)
std::string DerivedSecret(const std::string& seed) {
  uint64_t h = 1469598103934665603ull;
  std::string out;
  for (int round = 0; round < 4; ++round) {
    for (char c : seed) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    h ^= static_cast<uint64_t>(round + 1) * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 8; ++i) out += static_cast<char>('A' + ((h >> (i * 8)) % 26));
  }
  return out;
}

}  // namespace

Result<ClusterLayout> BuildRabbitmq(Chart& chart, const BuildContext& ctx) {
  const std::string headless = HeadlessName(ctx);
  const std::string secret = ctx.base + "-secret";
  const std::string config = ctx.base + "-config";
  const std::string account = ctx.base;

  // RBAC for peer discovery: read the endpoints of the headless Service, record events.
  ApiObject sa("v1", "ServiceAccount", account);
  sa.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  ApiObject role("rbac.authorization.k8s.io/v1", "Role", account + "-peer-discovery");
  role.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  Json rules = Json::array();
  rules.push_back({{"apiGroups", Json::array({""})},
                   {"resources", Json::array({"endpoints"})},
                   {"verbs", Json::array({"get"})}});
  rules.push_back({{"apiGroups", Json::array({""})},
                   {"resources", Json::array({"events"})},
                   {"verbs", Json::array({"create"})}});
  role.Set("rules", rules);
  ApiObject binding("rbac.authorization.k8s.io/v1", "RoleBinding", account + "-peer-discovery");
  binding.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  Json subject = Json::object();
  subject["kind"] = "ServiceAccount";
  subject["name"] = account;
  subject["namespace"] = ctx.ns;
  binding.Set("subjects", Json::array({subject}));
  binding.Set("roleRef", {{"apiGroup", "rbac.authorization.k8s.io"},
                          {"kind", "Role"},
                          {"name", account + "-peer-discovery"}});
  chart.Add("10-rbac.yaml", std::move(sa));
  chart.Add("10-rbac.yaml", std::move(role));
  chart.Add("10-rbac.yaml", std::move(binding));

  ApiObject cookie("v1", "Secret", secret);
  cookie.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  cookie.Set("type", "Opaque");
  Json data = Json::object();
  data["erlang-cookie"] = DerivedSecret(ctx.ns + "/" + ctx.base + "/cookie");
  data["username"] = "drone";
  data["password"] = DerivedSecret(ctx.ns + "/" + ctx.base + "/password");
  cookie.Set("stringData", data);

  const std::string conf =
      "cluster_formation.peer_discovery_backend = k8s\n"
      "cluster_formation.k8s.host = kubernetes.default.svc.cluster.local\n"
      "cluster_formation.k8s.address_type = hostname\n"
      "cluster_formation.k8s.service_name = " + headless + "\n"
      "cluster_formation.k8s.hostname_suffix = ." + headless + "." + ctx.ns + ".svc.cluster.local\n"
      "cluster_formation.node_cleanup.only_log_warning = true\n"
      "cluster_partition_handling = pause_minority\n"
      "queue_leader_locator = balanced\n"
      "default_queue_type = quorum\n"
      "loopback_users.guest = false\n"
      "listeners.tcp.default = " + std::to_string(kAmqpPort) + "\n";
  ApiObject config_map("v1", "ConfigMap", config);
  config_map.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  config_map.Set("data", {{"rabbitmq.conf", conf},
                          {"enabled_plugins", "[rabbitmq_peer_discovery_k8s,rabbitmq_prometheus].\n"}});

  Json env = Json::array();
  env.push_back(EnvField("POD_NAME", "metadata.name"));
  env.push_back(EnvValue("RABBITMQ_USE_LONGNAME", "true"));
  env.push_back(EnvValue("RABBITMQ_NODENAME",
                         "rabbit@$(POD_NAME)." + headless + "." + ctx.ns + ".svc.cluster.local"));
  env.push_back(EnvSecret("RABBITMQ_COOKIE", secret, "erlang-cookie"));
  // The same cookie for the server and for the CLI tools that the probes run.
  env.push_back(EnvValue("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-setcookie $(RABBITMQ_COOKIE)"));
  env.push_back(EnvValue("RABBITMQ_CTL_ERL_ARGS", "-setcookie $(RABBITMQ_COOKIE)"));
  env.push_back(EnvSecret("RABBITMQ_DEFAULT_USER", secret, "username"));
  env.push_back(EnvSecret("RABBITMQ_DEFAULT_PASS", secret, "password"));
  env.push_back(EnvValue("RABBITMQ_CONFIG_FILE", "/etc/rabbitmq/rabbitmq.conf"));
  env.push_back(EnvValue("RABBITMQ_ENABLED_PLUGINS_FILE", "/etc/rabbitmq/enabled_plugins"));

  Json container = Json::object();
  container["name"] = "rabbitmq";
  container["image"] = kRabbitmqImage;
  container["ports"] = Json::array({Port("amqp", kAmqpPort), Port("dist", kDistPort),
                                    Port("epmd", kEpmdPort), Port("prometheus", kManagementPort)});
  container["env"] = env;
  container["readinessProbe"] = TcpProbe(kAmqpPort, 10, 5, 6);
  container["livenessProbe"] =
      ExecProbe({"rabbitmq-diagnostics", "-q", "ping"}, 60, 30, 15, 3);
  container["resources"] = Resources("250m", "512Mi", "1Gi");
  container["volumeMounts"] = Json::array({
      {{"name", "data"}, {"mountPath", "/var/lib/rabbitmq/mnesia"}},
      {{"name", "config"}, {"mountPath", "/etc/rabbitmq"}, {"readOnly", true}},
  });
  container["securityContext"] = {{"allowPrivilegeEscalation", false}};

  BrokerSet set;
  set.component = "rabbitmq";
  set.process_name = "beam.smp";
  set.client_port = kAmqpPort;
  set.headless_ports = {{"amqp", kAmqpPort}, {"dist", kDistPort}, {"epmd", kEpmdPort}};
  set.client_ports = {{"amqp", kAmqpPort}};
  set.pods.service_account = account;
  set.pods.containers = Json::array({container});
  set.pods.volumes = Json::array({{{"name", "config"}, {"configMap", {{"name", config}}}}});
  set.pods.claim_templates = Json::array({ClaimTemplate(ctx, "data", "5Gi")});
  set.pods.pod_security_context = {{"fsGroup", 999}};
  set.pods.termination_grace_s = 60;

  chart.Add(ctx.phase_file, std::move(cookie));
  chart.Add(ctx.phase_file, std::move(config_map));
  ClusterLayout layout = AddBrokerSet(chart, ctx, std::move(set));
  layout.endpoint.properties["username"] = "drone";
  layout.endpoint.properties["password"] = DerivedSecret(ctx.ns + "/" + ctx.base + "/password");
  return layout;
}

}  // namespace drone::platforms::kubernetes
