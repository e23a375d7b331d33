// The parts every broker's objects are made of: labels and selectors, probes, anti-affinity,
// volume claim templates, the headless and client Services, the PodDisruptionBudget, the
// NET_ADMIN sidecar, and the StatefulSet that holds them. The broker builders
// (kafka_chart.cc, ...) compose these; nothing here knows a broker.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "platforms/kubernetes/manifest.h"
#include "platforms/kubernetes/synth.h"

namespace drone::platforms::kubernetes {

// What a broker builder is given.
struct BuildContext {
  const ClusterPlan& plan;
  const SynthOptions& options;
  std::string ns;
  std::string base;        // DNS label for the cluster's objects
  std::string phase_file;  // where its objects go
  std::string StorageClass() const;
  std::string ServiceType() const;
  // The in-cluster DNS name of pod `index` of StatefulSet `set` behind headless Service `headless`.
  std::string PodHost(const std::string& set, const std::string& headless, int index) const;
  std::string ServiceHost(const std::string& service) const;
};

// app.kubernetes.io/name=<component>, app.kubernetes.io/instance=<base>: the pod selector.
Json SelectorLabels(const std::string& base, const std::string& component);
std::string SelectorString(const std::string& base, const std::string& component);

Json TcpProbe(int port, int initial_delay_s, int period_s, int failure_threshold);
Json HttpProbe(const std::string& path, int port, int initial_delay_s, int period_s,
               int failure_threshold);
Json ExecProbe(const std::vector<std::string>& command, int initial_delay_s, int period_s,
               int timeout_s, int failure_threshold);

// Pod anti-affinity over kubernetes.io/hostname: required when the cluster has at least
// `replicas` nodes, preferred (weight 100) otherwise or when the node count is unknown.
Json AntiAffinity(const Json& selector_labels, int replicas, int schedulable_nodes);

Json Resources(const std::string& cpu, const std::string& memory, const std::string& memory_limit);
Json EnvValue(const std::string& name, const std::string& value);
Json EnvField(const std::string& name, const std::string& field_path);
Json EnvSecret(const std::string& name, const std::string& secret, const std::string& key);
Json Port(const std::string& name, int port);

// A ReadWriteOnce claim template named `name` of `size`, with the storage class when set.
Json ClaimTemplate(const BuildContext& ctx, const std::string& name, const std::string& size);

// The network-fault sidecar: Drone's image, idle until `kubectl exec` hands it tc/iptables/pkill
// command lines; NET_ADMIN (and NET_RAW for iptables) in the pod's network namespace.
Json NetfaultSidecar(const std::string& image);

struct ServicePort {
  std::string name;
  int port = 0;
};
// Headless Service for the pods' stable DNS names; publishes not-ready pods so that nodes find
// each other before they are ready (cluster formation needs that).
ApiObject HeadlessService(const BuildContext& ctx, const std::string& name, const Json& selector,
                          const std::vector<ServicePort>& ports);
// The Service clients use: the provider's type (or the plan's), with its load-balancer annotations.
ApiObject ClientService(const BuildContext& ctx, const std::string& name, const Json& selector,
                        const std::vector<ServicePort>& ports);
// maxUnavailable 1: voluntary disruptions (node drains) take one broker at a time.
ApiObject DisruptionBudget(const BuildContext& ctx, const std::string& name, const Json& selector);

struct StatefulSetParts {
  std::string name;
  std::string service_name;  // the headless Service
  int replicas = 1;
  Json selector;             // SelectorLabels(...)
  Json spread_labels;        // pods kept apart by anti-affinity; null: the selector's
  Json containers = Json::array();
  Json init_containers = Json::array();
  Json volumes = Json::array();
  Json claim_templates = Json::array();
  Json pod_security_context = Json::object();
  std::string service_account;  // empty: the namespace's default
  int termination_grace_s = 30;
};
// Parallel pod management (quorum systems need all members up to become ready), rolling updates,
// anti-affinity, and — with the plan's netfault — the sidecar and a shared process namespace
// (so that the sidecar can pause the broker: PID 1 of a container ignores SIGSTOP sent from
// inside it).
ApiObject StatefulSet(const BuildContext& ctx, StatefulSetParts parts);

// A broker that is one StatefulSet of `plan.nodes` pods named <base>-<i> (Kafka, NATS,
// RabbitMQ, Mosquitto): what it brings to the skeleton that AddBrokerSet builds around it.
struct BrokerSet {
  std::string component;     // app.kubernetes.io/name of its pods, and its container's name
  std::string process_name;  // the broker's process, for pkill in the sidecar
  int client_port = 0;       // each pod's host:port in the endpoint's bootstrap list
  std::vector<ServicePort> headless_ports;
  std::vector<ServicePort> client_ports;
  // Containers, volumes, claims, security, grace period; name, service_name, replicas and
  // selector are AddBrokerSet's.
  StatefulSetParts pods;
};
// The headless Service <base>-headless, the client Service <base>, a PodDisruptionBudget when
// there is more than one node, and the StatefulSet <base>, added to the cluster's phase in that
// order; the layout that reaches and waits for them.
ClusterLayout AddBrokerSet(Chart& chart, const BuildContext& ctx, BrokerSet set);
// The headless Service's name of a cluster (DNS names of its pods are <pod>.<headless>.<ns>...).
std::string HeadlessName(const BuildContext& ctx);

// The broker builders, one per broker kind (their own .cc files).
Result<ClusterLayout> BuildKafka(Chart& chart, const BuildContext& ctx);
Result<ClusterLayout> BuildStrimziKafka(Chart& chart, const BuildContext& ctx);
Result<ClusterLayout> BuildRabbitmq(Chart& chart, const BuildContext& ctx);
Result<ClusterLayout> BuildNats(Chart& chart, const BuildContext& ctx);
Result<ClusterLayout> BuildRedis(Chart& chart, const BuildContext& ctx);
Result<ClusterLayout> BuildMosquitto(Chart& chart, const BuildContext& ctx);

// The plan's option `key`, or `fallback` when it is not set.
std::string OptionOr(const ClusterPlan& plan, const std::string& key, const std::string& fallback);

// Sentinels of a Redis plan: options.sentinels, default 3; 0 for a single node. -1 when the
// option is not a number (ValidatePlans reports it).
int RedisSentinels(const ClusterPlan& plan);

// Pinned images from the projects' official repositories.
inline constexpr const char* kKafkaImage = "apache/kafka:3.9.0";
inline constexpr const char* kKafkaVersion = "3.9.0";
inline constexpr const char* kRabbitmqImage = "rabbitmq:4.0.5";
inline constexpr const char* kNatsImage = "nats:2.10.24-alpine";
inline constexpr const char* kRedisImage = "redis:7.4.2";
inline constexpr const char* kMosquittoImage = "eclipse-mosquitto:2.0.20";

}  // namespace drone::platforms::kubernetes
