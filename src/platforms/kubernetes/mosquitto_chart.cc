// Mosquitto: one node (it does not cluster), persistent sessions on a volume.
#include "platforms/kubernetes/pod_parts.h"

namespace drone::platforms::kubernetes {

Result<ClusterLayout> BuildMosquitto(Chart& chart, const BuildContext& ctx) {
  constexpr int kPort = 1883;
  const std::string config = ctx.base + "-config";

  ApiObject config_map("v1", "ConfigMap", config);
  config_map.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  config_map.Set("data", {{"mosquitto.conf",
                           "listener " + std::to_string(kPort) + "\n"
                           "allow_anonymous true\n"
                           "persistence " + OptionOr(ctx.plan, "persistence", "true") + "\n"
                           "persistence_location /mosquitto/data/\n"
                           "autosave_interval " + OptionOr(ctx.plan, "autosave_interval", "1800") + "\n"
                           "max_inflight_messages " + OptionOr(ctx.plan, "max_inflight_messages", "20") + "\n"
                           // Large enough that an open-loop load against a briefly absent
                           // subscriber is queued, not dropped (mosquitto's default is 1000).
                           "max_queued_messages " + OptionOr(ctx.plan, "max_queued_messages", "1000000") + "\n"
                           "log_dest stdout\n"}});

  Json container = Json::object();
  container["name"] = "mosquitto";
  container["image"] = kMosquittoImage;
  container["command"] = Json::array({"mosquitto", "-c", "/mosquitto/config/mosquitto.conf"});
  container["ports"] = Json::array({Port("mqtt", kPort)});
  container["readinessProbe"] = TcpProbe(kPort, 2, 5, 3);
  container["livenessProbe"] = TcpProbe(kPort, 10, 10, 3);
  container["resources"] = Resources("50m", "64Mi", "256Mi");
  container["volumeMounts"] = Json::array({
      {{"name", "data"}, {"mountPath", "/mosquitto/data"}},
      {{"name", "config"}, {"mountPath", "/mosquitto/config"}, {"readOnly", true}},
  });
  container["securityContext"] = {{"allowPrivilegeEscalation", false}};

  // One node (ValidatePlans holds mqtt to nodes: 1), so no disruption budget.
  BrokerSet set;
  set.component = "mosquitto";
  set.process_name = "mosquitto";
  set.client_port = kPort;
  set.headless_ports = {{"mqtt", kPort}};
  set.client_ports = {{"mqtt", kPort}};
  set.pods.containers = Json::array({container});
  set.pods.volumes = Json::array({{{"name", "config"}, {"configMap", {{"name", config}}}}});
  set.pods.claim_templates = Json::array({ClaimTemplate(ctx, "data", "1Gi")});
  // The image's user (uid 1883) owns the data directory.
  set.pods.pod_security_context = {{"fsGroup", 1883}};

  chart.Add(ctx.phase_file, std::move(config_map));
  return AddBrokerSet(chart, ctx, std::move(set));
}

}  // namespace drone::platforms::kubernetes
