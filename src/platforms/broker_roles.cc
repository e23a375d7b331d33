#include "platforms/broker_roles.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

namespace drone::platforms {

Result<std::vector<RabbitMqQueueRow>> ParseRabbitMqQueues(const std::string& json) {
  nlohmann::json rows = nlohmann::json::parse(json, nullptr, false);
  if (rows.is_discarded() || !rows.is_array()) {
    return Unavailable("rabbitmq: cannot read the queue list: " + json.substr(0, 200));
  }
  std::vector<RabbitMqQueueRow> out;
  for (const auto& r : rows) {
    if (!r.is_object()) continue;
    auto text = [&](const char* key) {
      return r.contains(key) && r[key].is_string() ? r[key].get<std::string>() : std::string();
    };
    RabbitMqQueueRow row{text("name"), text("type"), text("leader")};
    if (row.leader == "undefined") row.leader.clear();
    out.push_back(std::move(row));
  }
  return out;
}

Result<RabbitMqQueueRow> PickRabbitMqQueue(const std::vector<RabbitMqQueueRow>& rows,
                                           const std::string& queue) {
  std::string names;
  for (const RabbitMqQueueRow& r : rows) {
    names += (names.empty() ? "" : ", ") + r.name;
    if (!queue.empty() && r.name == queue) return r;
  }
  if (queue.empty() && rows.size() == 1) return rows[0];
  if (queue.empty()) {
    return InvalidArgument("rabbitmq: role leader needs exactly one queue, there are [" + names +
                           "]; name it: leader:<queue>");
  }
  return Unavailable("rabbitmq: no queue " + queue + " (queues: [" + names + "])");
}

Result<NatsLeaders> ParseNatsJsz(const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Unavailable("nats: cannot read the /jsz document: " + json.substr(0, 200));
  }
  // Streams by name; a stream's replica group leader is what a "kill the leader" means.
  std::vector<std::pair<std::string, std::string>> streams;
  for (const auto& account : j.value("account_details", nlohmann::json::array())) {
    for (const auto& stream : account.value("stream_detail", nlohmann::json::array())) {
      std::string leader;
      if (stream.contains("cluster")) leader = stream["cluster"].value("leader", "");
      if (!leader.empty()) streams.emplace_back(stream.value("name", ""), leader);
    }
  }
  NatsLeaders out;
  if (!streams.empty()) {
    const auto first = std::min_element(streams.begin(), streams.end());
    out.stream_name = first->first;
    out.stream = first->second;
  }
  if (j.contains("meta_cluster") && j["meta_cluster"].is_object()) {
    out.meta = j["meta_cluster"].value("leader", "");
  }
  return out;
}

Result<std::string> ParseSentinelPrimary(const std::string& output) {
  std::istringstream in(output);
  std::string host, port;
  std::getline(in, host);
  std::getline(in, port);
  while (!host.empty() && (host.back() == '\r' || host.back() == ' ')) host.pop_back();
  if (host.empty() || host == "(nil)" || port.empty()) {
    return Unavailable("redis: the sentinel knows no primary: '" + output.substr(0, 200) + "'");
  }
  return host;
}

Result<int> ParseKafkaPartitionLeader(const std::string& output, const std::string& topic,
                                      int partition) {
  std::istringstream in(output);
  std::string line;
  const std::string want_topic = "Topic: " + topic + "\t";
  const std::string want_partition = "Partition: " + std::to_string(partition) + "\t";
  while (std::getline(in, line)) {
    if (line.find(want_topic) == std::string::npos ||
        line.find(want_partition) == std::string::npos) {
      continue;
    }
    const size_t at = line.find("Leader: ");
    if (at == std::string::npos) break;
    const char* value = line.c_str() + at + 8;
    char* end = nullptr;
    const long id = std::strtol(value, &end, 10);
    if (end == value || id < 0) {
      return Unavailable("kafka: partition " + std::to_string(partition) + " of " + topic +
                         " has no leader right now");
    }
    return static_cast<int>(id);
  }
  return Unavailable("kafka: no partition " + std::to_string(partition) + " of topic " + topic +
                     " in kafka-topics.sh --describe: " + output.substr(0, 200));
}

}  // namespace drone::platforms
