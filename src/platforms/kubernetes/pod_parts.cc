#include "platforms/kubernetes/pod_parts.h"

namespace drone::platforms::kubernetes {

std::string BuildContext::StorageClass() const {
  return options.storage_class.empty() ? options.provider.storage_class : options.storage_class;
}

std::string BuildContext::ServiceType() const {
  return plan.service.empty() ? options.provider.service_type : plan.service;
}

std::string BuildContext::PodHost(const std::string& set, const std::string& headless,
                                  int index) const {
  return set + "-" + std::to_string(index) + "." + headless + "." + ns + ".svc.cluster.local";
}

std::string BuildContext::ServiceHost(const std::string& service) const {
  return service + "." + ns + ".svc.cluster.local";
}

std::string OptionOr(const ClusterPlan& plan, const std::string& key, const std::string& fallback) {
  auto it = plan.options.find(key);
  return it == plan.options.end() ? fallback : it->second;
}

Json SelectorLabels(const std::string& base, const std::string& component) {
  Json labels = Json::object();
  labels["app.kubernetes.io/name"] = component;
  labels["app.kubernetes.io/instance"] = base;
  return labels;
}

std::string SelectorString(const std::string& base, const std::string& component) {
  return "app.kubernetes.io/name=" + component + ",app.kubernetes.io/instance=" + base;
}

namespace {

Json ProbeTiming(Json probe, int initial_delay_s, int period_s, int failure_threshold) {
  probe["initialDelaySeconds"] = initial_delay_s;
  probe["periodSeconds"] = period_s;
  probe["failureThreshold"] = failure_threshold;
  return probe;
}

}  // namespace

Json TcpProbe(int port, int initial_delay_s, int period_s, int failure_threshold) {
  Json p = Json::object();
  p["tcpSocket"] = {{"port", port}};
  return ProbeTiming(p, initial_delay_s, period_s, failure_threshold);
}

Json HttpProbe(const std::string& path, int port, int initial_delay_s, int period_s,
               int failure_threshold) {
  Json p = Json::object();
  p["httpGet"] = {{"path", path}, {"port", port}};
  return ProbeTiming(p, initial_delay_s, period_s, failure_threshold);
}

Json ExecProbe(const std::vector<std::string>& command, int initial_delay_s, int period_s,
               int timeout_s, int failure_threshold) {
  Json p = Json::object();
  p["exec"] = {{"command", command}};
  p = ProbeTiming(p, initial_delay_s, period_s, failure_threshold);
  p["timeoutSeconds"] = timeout_s;
  return p;
}

Json AntiAffinity(const Json& selector_labels, int replicas, int schedulable_nodes) {
  Json term = Json::object();
  term["labelSelector"] = {{"matchLabels", selector_labels}};
  term["topologyKey"] = "kubernetes.io/hostname";
  Json anti = Json::object();
  if (schedulable_nodes > 0 && schedulable_nodes >= replicas) {
    anti["requiredDuringSchedulingIgnoredDuringExecution"] = Json::array({term});
  } else {
    Json weighted = Json::object();
    weighted["weight"] = 100;
    weighted["podAffinityTerm"] = term;
    anti["preferredDuringSchedulingIgnoredDuringExecution"] = Json::array({weighted});
  }
  return {{"podAntiAffinity", anti}};
}

Json Resources(const std::string& cpu, const std::string& memory, const std::string& memory_limit) {
  Json r = Json::object();
  r["requests"] = {{"cpu", cpu}, {"memory", memory}};
  r["limits"] = {{"memory", memory_limit}};
  return r;
}

Json EnvValue(const std::string& name, const std::string& value) {
  Json e = Json::object();
  e["name"] = name;
  e["value"] = value;
  return e;
}

Json EnvField(const std::string& name, const std::string& field_path) {
  Json e = Json::object();
  e["name"] = name;
  e["valueFrom"] = {{"fieldRef", {{"fieldPath", field_path}}}};
  return e;
}

Json EnvSecret(const std::string& name, const std::string& secret, const std::string& key) {
  Json e = Json::object();
  e["name"] = name;
  Json ref = Json::object();
  ref["name"] = secret;
  ref["key"] = key;
  e["valueFrom"] = {{"secretKeyRef", ref}};
  return e;
}

Json Port(const std::string& name, int port) {
  Json p = Json::object();
  p["name"] = name;
  p["containerPort"] = port;
  return p;
}

Json ClaimTemplate(const BuildContext& ctx, const std::string& name, const std::string& size) {
  Json spec = Json::object();
  spec["accessModes"] = Json::array({"ReadWriteOnce"});
  if (!ctx.StorageClass().empty()) spec["storageClassName"] = ctx.StorageClass();
  spec["resources"] = {{"requests", {{"storage", size}}}};
  Json claim = Json::object();
  claim["metadata"] = {{"name", name}};
  claim["spec"] = spec;
  return claim;
}

Json NetfaultSidecar(const std::string& image) {
  Json c = Json::object();
  c["name"] = kNetfaultContainer;
  c["image"] = image;
  c["command"] = Json::array({"sleep", "infinity"});
  Json security = Json::object();
  security["runAsUser"] = 0;
  security["capabilities"] = {{"add", Json::array({"NET_ADMIN", "NET_RAW"})}};
  c["securityContext"] = security;
  c["resources"] = Resources("10m", "16Mi", "64Mi");
  return c;
}

namespace {

Json ServicePorts(const std::vector<ServicePort>& ports) {
  Json out = Json::array();
  for (const ServicePort& p : ports) {
    Json port = Json::object();
    port["name"] = p.name;
    port["port"] = p.port;
    port["targetPort"] = p.port;
    port["protocol"] = "TCP";
    out.push_back(port);
  }
  return out;
}

}  // namespace

ApiObject HeadlessService(const BuildContext& ctx, const std::string& name, const Json& selector,
                          const std::vector<ServicePort>& ports) {
  ApiObject svc("v1", "Service", name);
  svc.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  Json spec = Json::object();
  spec["clusterIP"] = "None";
  spec["publishNotReadyAddresses"] = true;
  spec["selector"] = selector;
  spec["ports"] = ServicePorts(ports);
  svc.Set("spec", spec);
  return svc;
}

ApiObject ClientService(const BuildContext& ctx, const std::string& name, const Json& selector,
                        const std::vector<ServicePort>& ports) {
  ApiObject svc("v1", "Service", name);
  svc.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  const std::string type = ctx.ServiceType();
  if (type == "LoadBalancer") {
    const auto& annotations = ctx.plan.internal_lb ? ctx.options.provider.internal_lb_annotations
                                                   : ctx.options.provider.lb_annotations;
    for (const auto& [k, v] : annotations) svc.Annotate(k, v);
  }
  Json spec = Json::object();
  spec["type"] = type;
  spec["selector"] = selector;
  spec["ports"] = ServicePorts(ports);
  svc.Set("spec", spec);
  return svc;
}

ApiObject DisruptionBudget(const BuildContext& ctx, const std::string& name, const Json& selector) {
  ApiObject pdb("policy/v1", "PodDisruptionBudget", name);
  pdb.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  Json spec = Json::object();
  spec["maxUnavailable"] = 1;
  spec["selector"] = {{"matchLabels", selector}};
  pdb.Set("spec", spec);
  return pdb;
}

ApiObject StatefulSet(const BuildContext& ctx, StatefulSetParts parts) {
  ApiObject set("apps/v1", "StatefulSet", parts.name);
  set.Namespace(ctx.ns).Label(kClusterLabel, ctx.base);
  Json pod_labels = parts.selector;
  pod_labels[kClusterLabel] = ctx.base;
  pod_labels[kManagedByLabel] = "drone";
  pod_labels[kRunIdLabel] = ctx.options.run_id;

  Json pod_spec = Json::object();
  if (!parts.service_account.empty()) pod_spec["serviceAccountName"] = parts.service_account;
  pod_spec["terminationGracePeriodSeconds"] = parts.termination_grace_s;
  if (ctx.plan.netfault) {
    pod_spec["shareProcessNamespace"] = true;
    parts.containers.push_back(NetfaultSidecar(
        ctx.options.image.empty() ? DefaultImage() : ctx.options.image));
  }
  const Json& spread = parts.spread_labels.is_null() ? parts.selector : parts.spread_labels;
  pod_spec["affinity"] = AntiAffinity(spread, ctx.plan.nodes, ctx.options.schedulable_nodes);
  if (!parts.pod_security_context.empty()) pod_spec["securityContext"] = parts.pod_security_context;
  if (!parts.init_containers.empty()) pod_spec["initContainers"] = parts.init_containers;
  pod_spec["containers"] = parts.containers;
  if (!parts.volumes.empty()) pod_spec["volumes"] = parts.volumes;

  Json spec = Json::object();
  spec["serviceName"] = parts.service_name;
  spec["replicas"] = parts.replicas;
  spec["podManagementPolicy"] = "Parallel";
  spec["updateStrategy"] = {{"type", "RollingUpdate"}};
  spec["selector"] = {{"matchLabels", parts.selector}};
  Json tmpl = Json::object();
  tmpl["metadata"] = {{"labels", pod_labels}};
  tmpl["spec"] = pod_spec;
  spec["template"] = tmpl;
  if (!parts.claim_templates.empty()) {
    spec["volumeClaimTemplates"] = parts.claim_templates;
    // The run's volumes go with the run (Kubernetes 1.27+; older servers ignore the field and the
    // namespace's deletion takes the claims anyway).
    spec["persistentVolumeClaimRetentionPolicy"] = {{"whenDeleted", "Delete"},
                                                    {"whenScaled", "Delete"}};
  }
  set.Set("spec", spec);
  return set;
}

std::string HeadlessName(const BuildContext& ctx) { return ctx.base + "-headless"; }

ClusterLayout AddBrokerSet(Chart& chart, const BuildContext& ctx, BrokerSet set) {
  const int n = ctx.plan.nodes;
  const std::string headless = HeadlessName(ctx);
  const Json selector = SelectorLabels(ctx.base, set.component);
  set.pods.name = ctx.base;
  set.pods.service_name = headless;
  set.pods.replicas = n;
  set.pods.selector = selector;
  chart.Add(ctx.phase_file, HeadlessService(ctx, headless, selector, set.headless_ports));
  chart.Add(ctx.phase_file, ClientService(ctx, ctx.base, selector, set.client_ports));
  if (n > 1) chart.Add(ctx.phase_file, DisruptionBudget(ctx, ctx.base, selector));
  chart.Add(ctx.phase_file, StatefulSet(ctx, std::move(set.pods)));

  ClusterLayout layout;
  layout.rollouts = {"statefulset/" + ctx.base};
  for (int i = 0; i < n; ++i) {
    layout.pods.push_back(ctx.base + "-" + std::to_string(i));
    layout.endpoint.bootstrap += (i ? "," : "") + ctx.PodHost(ctx.base, headless, i) + ":" +
                                 std::to_string(set.client_port);
  }
  layout.pod_selector = SelectorString(ctx.base, set.component);
  layout.broker_container = set.component;
  layout.process_name = set.process_name;
  layout.client_service = ctx.base;
  return layout;
}

}  // namespace drone::platforms::kubernetes
