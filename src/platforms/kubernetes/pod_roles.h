// Role targets on Kubernetes: which broker pod holds a role (`leader`, `primary`) at the moment a
// fault fires, asked of the brokers themselves with their own tools through `kubectl exec` (argv,
// no shell) and read with the shared parsers of platforms/broker_roles.h:
//
//   kafka     leader[:TOPIC]  kafka-topics.sh --describe in the broker container; partition 0's
//                             leader id is the pod's ordinal (KAFKA_NODE_ID). Without a topic:
//                             the first topic the flow created on the cluster.
//   rabbitmq  leader[:QUEUE]  rabbitmqctl -q list_queues --formatter json name type leader; the
//                             quorum queue leader's Erlang node names its pod (rabbit@POD.<svc>).
//   nats      leader          wget of the monitoring port's /jsz?streams=true (busybox, in the
//             meta_leader     alpine image): a stream's leader, else the meta leader; servers
//                             are named after their pods.
//   redis     primary|leader  redis-cli -p 26379 SENTINEL get-master-addr-by-name M in a
//                             sentinel pod; the answer (a pod's DNS name, or its IP) maps to a
//                             pod. Without sentinels the primary StatefulSet's pod.
//
// Pods that are down are not asked; the first pod that answers decides.
//
// Thread-safety: pure functions over their arguments and the callbacks they are given.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "platforms/kubernetes/kubectl.h"

namespace drone::platforms::kubernetes {

struct RoleCluster {
  std::string broker;
  std::vector<std::string> pods;  // node i = pods[i]
  std::vector<bool> up;           // per node; missing: up
  std::string broker_container;
  std::vector<std::string> sentinel_pods;  // redis
  std::string sentinel_container;
  std::string sentinel_master;
  std::vector<std::string> topics;  // created on the cluster, in order (kafka's default topic)
};

// Runs argv in a container of a pod; its stdout, or an error with what went wrong.
using PodExec = std::function<Result<std::string>(const std::string& pod, const std::string& container,
                                                  const Argv& argv)>;
// A pod's IP address.
using PodIp = std::function<Result<std::string>(const std::string& pod)>;

// Whether `target` is a role this module resolves for `broker` (as opposed to a node name,
// random, minority).
bool IsRoleTarget(const std::string& broker, const std::string& target);

// The index of the node holding `role`. InvalidArgument: no such role for the broker (the
// message lists the known ones); FailedPrecondition: the role needs something the flow did not
// give (a Kafka topic); Unavailable: no pod could tell.
Result<size_t> ResolveRoleNode(const RoleCluster& cluster, const std::string& role,
                               const PodExec& exec, const PodIp& ip);

// The argv each broker is asked with (for tests and docs).
Argv KafkaDescribeTopicArgs(const std::string& topic);
Argv RabbitmqListQueuesArgs();
Argv NatsJszArgs();
Argv SentinelPrimaryArgs(const std::string& master);

}  // namespace drone::platforms::kubernetes
