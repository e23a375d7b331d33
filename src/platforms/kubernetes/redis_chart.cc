// Redis with replication and Sentinel: a primary StatefulSet of one pod, a replica StatefulSet of
// nodes-1 pods started with --replicaof the primary, and (options.sentinels, default 3) Sentinel
// pods that monitor it by DNS name and fail it over. Pods announce their stable DNS names, so a
// promoted replica is found by name, not by a pod IP that changes on restart.
#include <charconv>

#include "drivers/redis/redis_driver.h"
#include "platforms/kubernetes/pod_parts.h"

namespace drone::platforms::kubernetes {
namespace {

constexpr int kPort = 6379;
constexpr int kSentinelPort = 26379;
constexpr const char* kMaster = "drone";  // the master name the sentinels monitor

Json RoleSelector(const std::string& base, const std::string& role) {
  Json s = SelectorLabels(base, "redis");
  s["drone.dev/role"] = role;
  return s;
}

}  // namespace

int RedisSentinels(const ClusterPlan& plan) {
  if (plan.nodes == 1) return 0;
  auto it = plan.options.find("sentinels");
  if (it == plan.options.end()) return 3;
  int v = -1;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  return v;
}

Result<ClusterLayout> BuildRedis(Chart& chart, const BuildContext& ctx) {
  const int n = ctx.plan.nodes;
  const int sentinels = RedisSentinels(ctx.plan);
  const std::string headless = ctx.base + "-headless";
  const std::string primary = ctx.base;
  const std::string replica = ctx.base + "-replica";
  const std::string sentinel = ctx.base + "-sentinel";
  const std::string primary_host = ctx.PodHost(primary, headless, 0);
  const Json all = SelectorLabels(ctx.base, "redis");

  auto server = [&](bool is_replica) {
    Json args = Json::array({"--port", std::to_string(kPort), "--dir", "/data", "--appendonly",
                             "yes", "--appendfsync", OptionOr(ctx.plan, "appendfsync", "everysec"),
                             "--replica-announce-ip",
                             "$(POD_NAME)." + headless + "." + ctx.ns + ".svc.cluster.local"});
    if (is_replica) {
      args.push_back("--replicaof");
      args.push_back(primary_host);
      args.push_back(std::to_string(kPort));
    }
    Json c = Json::object();
    c["name"] = "redis";
    c["image"] = kRedisImage;
    c["command"] = Json::array({"redis-server"});
    c["args"] = args;
    c["ports"] = Json::array({Port("redis", kPort)});
    c["env"] = Json::array({EnvField("POD_NAME", "metadata.name")});
    c["readinessProbe"] = ExecProbe({"redis-cli", "ping"}, 5, 5, 3, 3);
    c["livenessProbe"] = TcpProbe(kPort, 15, 10, 3);
    c["resources"] = Resources("100m", "128Mi", "512Mi");
    c["volumeMounts"] = Json::array({{{"name", "data"}, {"mountPath", "/data"}}});
    c["securityContext"] = {{"allowPrivilegeEscalation", false}};
    return c;
  };
  auto set = [&](const std::string& name, const std::string& role, int replicas, bool is_replica) {
    StatefulSetParts parts;
    parts.name = name;
    parts.service_name = headless;
    parts.replicas = replicas;
    parts.selector = RoleSelector(ctx.base, role);
    parts.spread_labels = all;
    parts.containers = Json::array({server(is_replica)});
    parts.claim_templates = Json::array({ClaimTemplate(ctx, "data", "2Gi")});
    parts.pod_security_context = {{"fsGroup", 999}};
    return StatefulSet(ctx, std::move(parts));
  };

  ClusterLayout layout;
  chart.Add(ctx.phase_file, HeadlessService(ctx, headless, all, {{"redis", kPort}}));
  // Clients of a primary without sentinels connect to the primary's pod; the client Service
  // selects the primary StatefulSet's pod (after a failover, ask the sentinels instead).
  chart.Add(ctx.phase_file, ClientService(ctx, ctx.base, RoleSelector(ctx.base, "primary"),
                                          {{"redis", kPort}}));
  if (n > 1) chart.Add(ctx.phase_file, DisruptionBudget(ctx, ctx.base, all));
  chart.Add(ctx.phase_file, set(primary, "primary", 1, false));
  layout.rollouts.push_back("statefulset/" + primary);
  layout.pods.push_back(primary + "-0");
  if (n > 1) {
    chart.Add(ctx.phase_file, set(replica, "replica", n - 1, true));
    layout.rollouts.push_back("statefulset/" + replica);
    for (int i = 0; i < n - 1; ++i) layout.pods.push_back(replica + "-" + std::to_string(i));
  }

  std::string sentinel_hosts;
  if (sentinels > 0) {
    const std::string sentinel_headless = sentinel + "-headless";
    const Json sentinel_selector = SelectorLabels(ctx.base, "redis-sentinel");
    ApiObject config("v1", "ConfigMap", sentinel + "-config");
    config.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
    const std::string m = kMaster;
    config.Set("data", {{"sentinel.conf",
                         "port " + std::to_string(kSentinelPort) + "\n"
                         "dir /sentinel\n"
                         "sentinel resolve-hostnames yes\n"
                         "sentinel announce-hostnames yes\n"
                         "sentinel monitor " + m + " " + primary_host + " " + std::to_string(kPort) +
                             " " + std::to_string(sentinels / 2 + 1) + "\n"
                         "sentinel down-after-milliseconds " + m + " " +
                             OptionOr(ctx.plan, "down_after_ms", "5000") + "\n"
                         "sentinel failover-timeout " + m + " " +
                             OptionOr(ctx.plan, "failover_timeout_ms", "60000") + "\n"
                         "sentinel parallel-syncs " + m + " 1\n"}});
    // Sentinel rewrites its configuration file: start from a writable copy.
    Json init = Json::object();
    init["name"] = "config";
    init["image"] = kRedisImage;
    init["command"] = Json::array({"cp", "/etc/sentinel/sentinel.conf", "/sentinel/sentinel.conf"});
    init["volumeMounts"] = Json::array({{{"name", "config"}, {"mountPath", "/etc/sentinel"}},
                                        {{"name", "state"}, {"mountPath", "/sentinel"}}});
    Json c = Json::object();
    c["name"] = "sentinel";
    c["image"] = kRedisImage;
    c["command"] = Json::array({"redis-sentinel", "/sentinel/sentinel.conf"});
    c["ports"] = Json::array({Port("sentinel", kSentinelPort)});
    c["readinessProbe"] = TcpProbe(kSentinelPort, 5, 5, 3);
    c["livenessProbe"] = TcpProbe(kSentinelPort, 15, 10, 3);
    c["resources"] = Resources("50m", "64Mi", "128Mi");
    c["volumeMounts"] = Json::array({{{"name", "state"}, {"mountPath", "/sentinel"}}});
    c["securityContext"] = {{"allowPrivilegeEscalation", false}};
    StatefulSetParts parts;
    parts.name = sentinel;
    parts.service_name = sentinel_headless;
    parts.replicas = sentinels;
    parts.selector = sentinel_selector;
    parts.init_containers = Json::array({init});
    parts.containers = Json::array({c});
    parts.volumes = Json::array({{{"name", "config"}, {"configMap", {{"name", sentinel + "-config"}}}},
                                 {{"name", "state"}, {"emptyDir", Json::object()}}});
    parts.pod_security_context = {{"fsGroup", 999}};
    // The sentinels are not the brokers: they never get the sidecar.
    ClusterPlan plain = ctx.plan;
    plain.netfault = false;
    plain.nodes = sentinels;
    const BuildContext sentinel_ctx{plain, ctx.options, ctx.ns, ctx.base, ctx.phase_file};
    chart.Add(ctx.phase_file, std::move(config));
    chart.Add(ctx.phase_file, HeadlessService(ctx, sentinel_headless, sentinel_selector,
                                              {{"sentinel", kSentinelPort}}));
    chart.Add(ctx.phase_file, DisruptionBudget(ctx, sentinel, sentinel_selector));
    chart.Add(ctx.phase_file, StatefulSet(sentinel_ctx, std::move(parts)));
    layout.rollouts.push_back("statefulset/" + sentinel);
    layout.sentinel_container = "sentinel";
    layout.sentinel_master = kMaster;
    for (int i = 0; i < sentinels; ++i) {
      layout.sentinel_pods.push_back(sentinel + "-" + std::to_string(i));
      sentinel_hosts += (i ? "," : "") + ctx.PodHost(sentinel, sentinel_headless, i) + ":" +
                        std::to_string(kSentinelPort);
    }
  }

  layout.pod_selector = SelectorString(ctx.base, "redis");
  layout.broker_container = "redis";
  layout.process_name = "redis-server";
  layout.client_service = ctx.base;
  if (!sentinel_hosts.empty()) {
    layout.endpoint.bootstrap = sentinel_hosts;
    layout.endpoint.properties[drivers::kRedisSentinelMaster] = kMaster;
  } else {
    layout.endpoint.bootstrap = primary_host + ":" + std::to_string(kPort);
  }
  layout.endpoint.properties[drivers::kRedisReplicas] = std::to_string(n - 1);
  return layout;
}

}  // namespace drone::platforms::kubernetes
