#include "platforms/embedded/embedded_kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "core/clock.h"
#include "core/log.h"
#include "platforms/embedded/embedded_lab.h"

namespace drone::platforms {
namespace {

constexpr int kMaxNodes = 16;

void QuietLog(const rd_kafka_t* /*rk*/, int level, const char* fac, const char* buf) {
  if (level <= 4) LogDebug(std::string("embedded kafka ") + fac + ": " + buf);
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The lab's name: "<run>-<cluster>" in the characters and length a lab takes, so that
// `drone clean RUN` (CleanLab: "drone-<run>-*") finds it, as on platform local.
std::string LabId(const ClusterRequest& request) {
  std::string id =
      (request.run_id.empty() ? std::string("run") : request.run_id) + "-" + request.name;
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '-';
  }
  return id.substr(0, 40);
}

struct PartitionState {
  std::vector<int> replicas;  // broker ids, preferred leader first
  int leader = -1;
};

class EmbeddedKafkaCluster : public Cluster, public NodeControl {
 public:
  static Result<std::unique_ptr<Cluster>> Start(const ClusterRequest& request) {
    auto cluster = std::unique_ptr<EmbeddedKafkaCluster>(new EmbeddedKafkaCluster(request.name));
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, QuietLog);
    cluster->host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (cluster->host_ == nullptr) {
      return Internal(std::string("embedded Kafka: cannot create the mock's host client: ") + err);
    }
    cluster->mock_ = rd_kafka_mock_cluster_new(cluster->host_, request.nodes);
    if (cluster->mock_ == nullptr) {
      return Internal("embedded Kafka: librdkafka could not start a mock cluster of " +
                      std::to_string(request.nodes) + " brokers (loopback ports exhausted?)");
    }
    std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster->mock_);
    std::vector<std::string> addresses = Split(bootstrap, ',');
    if (addresses.size() != static_cast<size_t>(request.nodes)) {
      return Internal("embedded Kafka: expected " + std::to_string(request.nodes) +
                      " broker addresses, got '" + bootstrap + "'");
    }
    cluster->bootstrap_ = bootstrap;
    std::vector<std::string> names;
    for (int i = 0; i < request.nodes; ++i) names.push_back("broker-" + std::to_string(i + 1));
    std::vector<std::string> shown = addresses;
    if (request.network == "lab") {
      // The clients keep the mock's bootstrap list: in their host those addresses lead through
      // the lab to the brokers (embedded_lab.h).
      Result<std::unique_ptr<EmbeddedLab>> lab =
          EmbeddedLab::Create(LabId(request), names, addresses);
      if (!lab.ok())
        return lab.status().WithContext("embedded Kafka cluster '" + request.name + "'");
      cluster->lab_ = std::move(*lab);
      shown = cluster->lab_->LabAddresses();
    }
    for (int i = 0; i < request.nodes; ++i) {
      cluster->nodes_.push_back(NodeInfo{names[i], i + 1, shown[i], true});
    }
    // A client of our own for metadata (replica placement after topic creation).
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, QuietLog);
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
    cluster->meta_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (cluster->meta_ == nullptr) return Internal(std::string("embedded Kafka: ") + err);
    LogInfo(
        "embedded Kafka cluster '" + request.name + "' up: " + bootstrap +
        (cluster->lab_ ? std::string(" (lab network ") + faults::network::kLabSubnet + ")" : ""));
    return std::unique_ptr<Cluster>(std::move(cluster));
  }

  ~EmbeddedKafkaCluster() override { (void)Stop(); }

  std::string Broker() const override { return "kafka"; }

  const faults::network::LabNetwork* Lab() const override { return lab_ ? lab_->lab() : nullptr; }
  std::string ClientNetns() const override { return lab_ ? lab_->ClientNetns() : ""; }

  drivers::Endpoint Endpoint() const override {
    // The mock coordinator waits up to session.timeout.ms - 1 s for every member to rejoin when a
    // member joins late, and its first join window is 3 s; a short session keeps a late joiner
    // from stalling the group for 44 s (the default 45 s session).
    return drivers::Endpoint{bootstrap_,
                             {{"broker.address.family", "v4"}},
                             {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}, {"fetch.wait.max.ms", "10"}}};
  }

  std::vector<NodeInfo> Nodes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return nodes_;
  }

  Status CreateTopic(const drivers::TopicRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (mock_ == nullptr) return FailedPrecondition("embedded Kafka cluster is stopped");
    if (topics_.count(request.name) > 0) {
      return {StatusCode::kAlreadyExists, "topic " + request.name + " already exists"};
    }
    if (request.replication > static_cast<int>(nodes_.size())) {
      return InvalidArgument("replication " + std::to_string(request.replication) + " exceeds the " +
                             std::to_string(nodes_.size()) + " brokers of the cluster");
    }
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mock_, request.name.c_str(),
                                                       request.partitions, request.replication);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Internal("embedded Kafka: create topic " + request.name + ": " + rd_kafka_err2str(e));
    }
    // Learn where the mock placed replicas and leaders, as a client would see them.
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(meta_, request.name.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    e = rd_kafka_metadata(meta_, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("embedded Kafka: metadata for " + request.name + ": " + rd_kafka_err2str(e));
    }
    std::vector<PartitionState> parts;
    if (md->topic_cnt == 1) {
      const rd_kafka_metadata_topic_t& t = md->topics[0];
      for (int p = 0; p < t.partition_cnt; ++p) {
        PartitionState state;
        state.leader = t.partitions[p].leader;
        state.replicas.assign(t.partitions[p].replicas,
                              t.partitions[p].replicas + t.partitions[p].replica_cnt);
        // Keep the leader first: it is the preferred leader that failback returns to.
        auto it = std::find(state.replicas.begin(), state.replicas.end(), state.leader);
        if (it != state.replicas.end()) std::rotate(state.replicas.begin(), it, it + 1);
        parts.push_back(std::move(state));
      }
    }
    rd_kafka_metadata_destroy(md);
    // The mock picks leaders at random; spread them round-robin instead (partition p led by
    // broker p mod N + 1, when it holds a replica), so every broker leads partitions and a fault
    // on any broker has the same effect on every run.
    const int brokers = static_cast<int>(nodes_.size());
    for (size_t p = 0; p < parts.size(); ++p) {
      PartitionState& state = parts[p];
      const int wanted = static_cast<int>(p) % brokers + 1;
      auto it = std::find(state.replicas.begin(), state.replicas.end(), wanted);
      if (it == state.replicas.end() || state.leader == wanted) continue;
      if (rd_kafka_mock_partition_set_leader(mock_, request.name.c_str(), static_cast<int>(p),
                                             wanted) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        state.leader = wanted;
        std::rotate(state.replicas.begin(), it, it + 1);
      }
    }
    if (parts.size() != static_cast<size_t>(request.partitions)) {
      return Internal("embedded Kafka: topic " + request.name + " reports " +
                      std::to_string(parts.size()) + " partitions, expected " +
                      std::to_string(request.partitions));
    }
    topics_[request.name] = std::move(parts);
    return Status::Ok();
  }

  void NoteConsumerGroup(const std::string& group) override {
    std::lock_guard<std::mutex> lock(mu_);
    groups_.insert(group);
    MoveCoordinatorsLocked();
  }

  NodeControl* Control() override { return this; }
  std::string Backend() const override { return "embedded-mock"; }

  Status Kill(const std::string& node) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(NodeInfo * info, FindLocked(node));
    if (!info->up) return FailedPrecondition(node + " is already down");
    rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_down(mock_, info->id);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return Internal("set " + node + " down: " + rd_kafka_err2str(e));
    info->up = false;
    // Fail over: every partition led by the dead broker gets a surviving replica as leader.
    for (auto& [topic, parts] : topics_) {
      for (size_t p = 0; p < parts.size(); ++p) {
        PartitionState& state = parts[p];
        if (state.leader != info->id) continue;
        for (int replica : state.replicas) {
          if (replica != info->id && IsUpLocked(replica)) {
            SetLeaderLocked(topic, static_cast<int>(p), replica);
            break;
          }
        }
        // No surviving replica: the partition stays offline, as in a real cluster.
      }
    }
    MoveCoordinatorsLocked();
    LogInfo("embedded Kafka: " + node + " down");
    return Status::Ok();
  }

  Status Start(const std::string& node, bool failback) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(NodeInfo * info, FindLocked(node));
    if (info->up) return Status::Ok();
    rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_up(mock_, info->id);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return Internal("set " + node + " up: " + rd_kafka_err2str(e));
    info->up = true;
    for (auto& [topic, parts] : topics_) {
      for (size_t p = 0; p < parts.size(); ++p) {
        PartitionState& state = parts[p];
        bool offline = !IsUpLocked(state.leader);
        bool preferred = !state.replicas.empty() && state.replicas.front() == info->id;
        if (offline || (failback && preferred && state.leader != info->id)) {
          SetLeaderLocked(topic, static_cast<int>(p), info->id);
        }
      }
    }
    LogInfo("embedded Kafka: " + node + " up" + (failback ? " (preferred leaders restored)" : ""));
    return Status::Ok();
  }

  Status SetDelay(const std::string& node, int64_t delay_ns) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(NodeInfo * info, FindLocked(node));
    int ms = static_cast<int>((delay_ns + kNsPerMs / 2) / kNsPerMs);
    rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(mock_, info->id, ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return Internal("set rtt of " + node + ": " + rd_kafka_err2str(e));
    return Status::Ok();
  }

  Result<std::string> ResolveTarget(const std::string& target, uint64_t seed) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (target == "random") {
      std::vector<const NodeInfo*> up;
      for (const NodeInfo& n : nodes_) {
        if (n.up) up.push_back(&n);
      }
      if (up.empty()) return FailedPrecondition("no broker is up");
      std::mt19937_64 rng(seed);
      return up[rng() % up.size()]->name;
    }
    if (target == "leader") {
      // The leader of the first partition of the first topic: the broker a client talks to most.
      for (const auto& [topic, parts] : topics_) {
        if (!parts.empty()) return nodes_.at(parts[0].leader - 1).name;
      }
      return FailedPrecondition("target 'leader' needs a topic; create one first");
    }
    ASSIGN_OR_RETURN(NodeInfo * info, FindLocked(target));
    return info->name;
  }

  Status Stop() override {
    std::lock_guard<std::mutex> lock(mu_);
    // The proxies first, so that no client talks to a mock being destroyed; the namespaces last.
    Status lab_gone = lab_ ? lab_->Stop() : Status::Ok();
    if (meta_ != nullptr) {
      rd_kafka_destroy(meta_);
      meta_ = nullptr;
    }
    if (mock_ != nullptr) {
      rd_kafka_mock_cluster_destroy(mock_);
      mock_ = nullptr;
      LogInfo("embedded Kafka cluster '" + name_ + "' stopped");
    }
    if (host_ != nullptr) {
      rd_kafka_destroy(host_);
      host_ = nullptr;
    }
    if (!lab_gone.ok()) return lab_gone.WithContext("removing the lab network of " + name_);
    return Status::Ok();
  }

 private:
  explicit EmbeddedKafkaCluster(std::string name) : name_(std::move(name)) {}

  Result<NodeInfo*> FindLocked(const std::string& node) {
    if (mock_ == nullptr) return FailedPrecondition("embedded Kafka cluster is stopped");
    for (NodeInfo& n : nodes_) {
      if (n.name == node || std::to_string(n.id) == node) return &n;
    }
    std::string names;
    for (const NodeInfo& n : nodes_) names += (names.empty() ? "" : ", ") + n.name;
    return NotFound("no node '" + node + "' in cluster " + name_ + "; nodes: " + names +
                    " (or random, leader)");
  }

  bool IsUpLocked(int id) const {
    return id >= 1 && id <= static_cast<int>(nodes_.size()) && nodes_[id - 1].up;
  }

  void SetLeaderLocked(const std::string& topic, int partition, int broker) {
    rd_kafka_resp_err_t e = rd_kafka_mock_partition_set_leader(mock_, topic.c_str(), partition, broker);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      topics_[topic][partition].leader = broker;
    } else {
      LogWarn("embedded Kafka: move leader of " + topic + " [" + std::to_string(partition) +
              "]: " + rd_kafka_err2str(e));
    }
  }

  // Group coordinators of the mock are a hash of the group id, blind to broker state; pin every
  // known group to a live broker so consumers keep their group through an outage.
  void MoveCoordinatorsLocked() {
    int live = -1;
    for (const NodeInfo& n : nodes_) {
      if (n.up) {
        live = n.id;
        break;
      }
    }
    if (live < 0) return;
    for (const std::string& group : groups_) {
      auto it = coordinators_.find(group);
      if (it != coordinators_.end() && IsUpLocked(it->second)) continue;
      rd_kafka_mock_coordinator_set(mock_, "group", group.c_str(), live);
      coordinators_[group] = live;
    }
  }

  const std::string name_;
  mutable std::mutex mu_;
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  rd_kafka_t* meta_ = nullptr;
  std::string bootstrap_;
  std::vector<NodeInfo> nodes_;                              // guarded by mu_
  std::map<std::string, std::vector<PartitionState>> topics_;  // guarded by mu_
  std::set<std::string> groups_;                             // guarded by mu_
  std::map<std::string, int> coordinators_;                  // guarded by mu_
  // network: lab — the brokers' hosts and the clients' (embedded_lab.h); set by Start().
  std::unique_ptr<EmbeddedLab> lab_;
};

class EmbeddedPlatform : public Platform {
 public:
  std::string Name() const override { return "embedded"; }

  Status Validate(const ClusterRequest& request) const override {
    if (request.broker != "kafka") {
      return InvalidArgument("the embedded platform runs Kafka only, not '" + request.broker +
                             "'; use platform: local for other brokers");
    }
    if (request.nodes < 1 || request.nodes > kMaxNodes) {
      return InvalidArgument("the embedded platform runs 1.." + std::to_string(kMaxNodes) +
                             " brokers, not " + std::to_string(request.nodes));
    }
    if (!request.network.empty() && request.network != "loopback" && request.network != "lab") {
      return InvalidArgument("network must be lab or loopback, not '" + request.network + "'");
    }
    if (request.network == "lab") {
      RETURN_IF_ERROR(faults::network::CheckLabPrivilege("run as root, or remove network: lab"));
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Cluster>> CreateCluster(const ClusterRequest& request) override {
    RETURN_IF_ERROR(Validate(request));
    return EmbeddedKafkaCluster::Start(request);
  }
};

}  // namespace

std::unique_ptr<Platform> NewEmbeddedPlatform() { return std::make_unique<EmbeddedPlatform>(); }

}  // namespace drone::platforms
