// NATS: a StatefulSet of nats-server with a full mesh of routes over the headless Service and
// JetStream on a volume per node; /healthz probes on the monitoring port (JetStream-aware).
#include "platforms/kubernetes/pod_parts.h"

namespace drone::platforms::kubernetes {
namespace {

constexpr int kClientPort = 4222;
constexpr int kClusterPort = 6222;
constexpr int kMonitorPort = 8222;

}  // namespace

Result<ClusterLayout> BuildNats(Chart& chart, const BuildContext& ctx) {
  const int n = ctx.plan.nodes;
  const std::string headless = HeadlessName(ctx);
  const std::string config = ctx.base + "-config";

  // nats-server reads $POD_NAME from its environment: each node names itself.
  std::string conf =
      "port: " + std::to_string(kClientPort) + "\n"
      "http_port: " + std::to_string(kMonitorPort) + "\n"
      "server_name: $POD_NAME\n"
      "lame_duck_duration: 10s\n"
      "jetstream {\n"
      "  store_dir: /data/jetstream\n"
      "  max_file_store: 8G\n"
      "}\n";
  if (n > 1) {
    conf += "cluster {\n"
            "  name: " + ctx.base + "\n"
            "  port: " + std::to_string(kClusterPort) + "\n"
            "  routes: [\n";
    for (int i = 0; i < n; ++i) {
      conf += "    nats://" + ctx.PodHost(ctx.base, headless, i) + ":" + std::to_string(kClusterPort) + "\n";
    }
    conf += "  ]\n"
            "}\n";
  }
  ApiObject config_map("v1", "ConfigMap", config);
  config_map.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  config_map.Set("data", {{"nats.conf", conf}});

  Json container = Json::object();
  container["name"] = "nats";
  container["image"] = kNatsImage;
  container["command"] = Json::array({"nats-server", "--config", "/etc/nats/nats.conf"});
  container["ports"] = Json::array({Port("client", kClientPort), Port("cluster", kClusterPort),
                                    Port("monitor", kMonitorPort)});
  container["env"] = Json::array({EnvField("POD_NAME", "metadata.name")});
  container["startupProbe"] = HttpProbe("/healthz?js-enabled-only=true", kMonitorPort, 5, 5, 30);
  container["readinessProbe"] = HttpProbe("/healthz?js-server-only=true", kMonitorPort, 5, 5, 3);
  container["livenessProbe"] = HttpProbe("/healthz?js-enabled-only=true", kMonitorPort, 10, 30, 3);
  container["resources"] = Resources("100m", "256Mi", "1Gi");
  container["volumeMounts"] = Json::array({
      {{"name", "data"}, {"mountPath", "/data"}},
      {{"name", "config"}, {"mountPath", "/etc/nats"}, {"readOnly", true}},
  });
  container["securityContext"] = {{"allowPrivilegeEscalation", false}};

  BrokerSet set;
  set.component = "nats";
  set.process_name = "nats-server";
  set.client_port = kClientPort;
  set.headless_ports = {{"client", kClientPort}, {"cluster", kClusterPort}, {"monitor", kMonitorPort}};
  set.client_ports = {{"client", kClientPort}};
  set.pods.containers = Json::array({container});
  set.pods.volumes = Json::array({{{"name", "config"}, {"configMap", {{"name", config}}}}});
  set.pods.claim_templates = Json::array({ClaimTemplate(ctx, "data", "10Gi")});
  set.pods.termination_grace_s = 60;

  chart.Add(ctx.phase_file, std::move(config_map));
  return AddBrokerSet(chart, ctx, std::move(set));
}

}  // namespace drone::platforms::kubernetes
