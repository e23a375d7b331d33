#include "platforms/kubernetes/pod_roles.h"

#include <algorithm>

#include "platforms/broker_roles.h"

namespace drone::platforms::kubernetes {
namespace {

// "rabbit@cluster-1.cluster-headless.ns.svc.cluster.local", "cluster-1.cluster-headless...",
// "cluster-1": the pod's name is the first DNS label of the host.
std::string PodOfHost(std::string host) {
  const size_t at = host.find('@');
  if (at != std::string::npos) host = host.substr(at + 1);
  return host.substr(0, host.find('.'));
}

bool LooksLikeIp(const std::string& s) {
  return !s.empty() && (std::all_of(s.begin(), s.end(), [](char c) {
                          return (c >= '0' && c <= '9') || c == '.';
                        }) ||
                        s.find(':') != std::string::npos);
}

Result<size_t> IndexOfPod(const RoleCluster& c, const std::string& pod, const std::string& who) {
  for (size_t i = 0; i < c.pods.size(); ++i) {
    if (c.pods[i] == pod) return i;
  }
  return Unavailable(c.broker + ": " + who + " '" + pod + "' is not a pod of this cluster");
}

bool Up(const RoleCluster& c, size_t i) { return i >= c.up.size() || c.up[i]; }

// Asks each pod in turn (skipping `skip`), returning the first answer `read` accepts.
Result<size_t> AskEach(const std::vector<std::string>& pods, const std::vector<bool>& skip,
                       const std::string& container, const Argv& argv, const PodExec& exec,
                       const std::function<Result<size_t>(const std::string&)>& read,
                       const std::string& broker) {
  Status last = Unavailable(broker + ": no pod is up to ask");
  for (size_t i = 0; i < pods.size(); ++i) {
    if (i < skip.size() && skip[i]) continue;
    Result<std::string> out = exec(pods[i], container, argv);
    if (!out.ok()) {
      last = out.status().WithContext("asking " + pods[i]);
      continue;
    }
    Result<size_t> node = read(*out);
    if (node.ok() || node.status().code() == StatusCode::kInvalidArgument) return node;
    last = node.status().WithContext("asking " + pods[i]);
  }
  return last;
}

std::vector<bool> DownNodes(const RoleCluster& c) {
  std::vector<bool> down(c.pods.size(), false);
  for (size_t i = 0; i < c.pods.size(); ++i) down[i] = !Up(c, i);
  return down;
}

// "leader:x" -> "x"; "leader" -> "".
std::string Qualifier(const std::string& role) {
  const size_t colon = role.find(':');
  return colon == std::string::npos ? "" : role.substr(colon + 1);
}
std::string RoleName(const std::string& role) { return role.substr(0, role.find(':')); }

}  // namespace

Argv KafkaDescribeTopicArgs(const std::string& topic) {
  return {"/opt/kafka/bin/kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--describe",
          "--topic", topic};
}
Argv RabbitmqListQueuesArgs() {
  return {"rabbitmqctl", "-q", "list_queues", "--formatter", "json", "name", "type", "leader"};
}
Argv NatsJszArgs() { return {"wget", "-q", "-O", "-", "http://127.0.0.1:8222/jsz?streams=true"}; }
Argv SentinelPrimaryArgs(const std::string& master) {
  return {"redis-cli", "-p", "26379", "SENTINEL", "get-master-addr-by-name", master};
}

bool IsRoleTarget(const std::string& broker, const std::string& target) {
  const std::string role = RoleName(target);
  if (broker == "kafka" || broker == "rabbitmq") return role == "leader";
  if (broker == "nats") return target == "leader" || target == "meta_leader";
  if (broker == "redis") return target == "primary" || target == "leader" || target == "master";
  return false;
}

Result<size_t> ResolveRoleNode(const RoleCluster& c, const std::string& role, const PodExec& exec,
                               const PodIp& ip) {
  if (!IsRoleTarget(c.broker, role)) {
    const std::string known = c.broker == "kafka"      ? "leader, leader:<topic>"
                              : c.broker == "rabbitmq" ? "leader, leader:<queue>"
                              : c.broker == "nats"     ? "leader, meta_leader"
                              : c.broker == "redis"    ? "primary (or leader)"
                                                       : "";
    if (known.empty()) return InvalidArgument(c.broker + " has no roles to target");
    return InvalidArgument(c.broker + " has no role '" + role + "'; known: " + known);
  }
  if (c.broker == "kafka") {
    std::string topic = Qualifier(role);
    if (topic.empty() && !c.topics.empty()) topic = c.topics.front();
    if (topic.empty()) {
      return FailedPrecondition(
          "kafka: role leader is partition 0's leader of a topic, and no topic step created one "
          "on this cluster; name it: leader:<topic>");
    }
    return AskEach(c.pods, DownNodes(c), c.broker_container, KafkaDescribeTopicArgs(topic), exec,
                   [&](const std::string& out) -> Result<size_t> {
                     ASSIGN_OR_RETURN(int id, ParseKafkaPartitionLeader(out, topic, 0));
                     if (static_cast<size_t>(id) >= c.pods.size()) {
                       return Unavailable("kafka: leader id " + std::to_string(id) +
                                          " is no node of this cluster");
                     }
                     return static_cast<size_t>(id);
                   },
                   c.broker);
  }
  if (c.broker == "rabbitmq") {
    const std::string queue = Qualifier(role);
    return AskEach(c.pods, DownNodes(c), c.broker_container, RabbitmqListQueuesArgs(), exec,
                   [&](const std::string& out) -> Result<size_t> {
                     ASSIGN_OR_RETURN(std::vector<RabbitMqQueueRow> rows, ParseRabbitMqQueues(out));
                     ASSIGN_OR_RETURN(RabbitMqQueueRow row, PickRabbitMqQueue(rows, queue));
                     if (row.leader.empty()) {
                       return Unavailable("rabbitmq: queue " + row.name + " (" + row.type +
                                          ") has no leader right now");
                     }
                     return IndexOfPod(c, PodOfHost(row.leader), "the leader");
                   },
                   c.broker);
  }
  if (c.broker == "nats") {
    return AskEach(c.pods, DownNodes(c), c.broker_container, NatsJszArgs(), exec,
                   [&](const std::string& out) -> Result<size_t> {
                     ASSIGN_OR_RETURN(NatsLeaders leaders, ParseNatsJsz(out));
                     const std::string& server =
                         role == "leader" && !leaders.stream.empty() ? leaders.stream : leaders.meta;
                     if (server.empty()) return Unavailable("nats: no JetStream leader right now");
                     return IndexOfPod(c, server, "the leader");
                   },
                   c.broker);
  }
  // redis
  if (c.sentinel_pods.empty()) return size_t{0};  // no failover: the primary StatefulSet's pod
  return AskEach(c.sentinel_pods, {}, c.sentinel_container, SentinelPrimaryArgs(c.sentinel_master),
                 exec,
                 [&](const std::string& out) -> Result<size_t> {
                   ASSIGN_OR_RETURN(std::string host, ParseSentinelPrimary(out));
                   if (!LooksLikeIp(host)) return IndexOfPod(c, PodOfHost(host), "the primary");
                   for (size_t i = 0; i < c.pods.size(); ++i) {
                     Result<std::string> pod_ip = ip(c.pods[i]);
                     if (pod_ip.ok() && *pod_ip == host) return i;
                   }
                   return Unavailable("redis: the primary " + host + " is no pod of this cluster");
                 },
                 c.broker);
}

}  // namespace drone::platforms::kubernetes
