// Partitions: which hosts stop hearing which. A PartitionSpec names a shape (isolate a node,
// halves, explicit groups, a majorities ring, a bridge, one-way) and Resolve() turns it, for an
// ordered list of hosts, into the set of directed blocked pairs: (a, b) means packets from a to b
// are dropped. Every backend blocks exactly those pairs, so one spec serves all of them.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace drone::faults::network {

enum class PartitionKind { kIsolate, kHalves, kGroups, kMajoritiesRing, kBridge, kOneWay };
const char* PartitionKindName(PartitionKind k);

struct PartitionSpec {
  PartitionKind kind = PartitionKind::kIsolate;
  std::vector<std::string> nodes;                // isolate: the nodes cut off from the rest
  std::vector<std::vector<std::string>> groups;  // groups: hosts in different groups are cut
  std::string from, to;                          // one-way: from can no longer reach to
  std::vector<std::string> among;                // the hosts taking part (empty: all)
  bool operator==(const PartitionSpec&) const = default;

  // JSON form (docs/network-faults.md): {"partition": "isolate", "nodes": ["node-1"]}, ...
  static Result<PartitionSpec> FromJson(const nlohmann::json& j);
  nlohmann::json ToJson() const;
};

using BlockedPairs = std::set<std::pair<std::string, std::string>>;

// The directed pairs to block among `hosts` (in the order the cluster names its nodes: halves,
// ring and bridge follow that order). Errors name hosts that do not exist and shapes that do not
// fit the host count (a majorities ring needs at least 4 hosts, a bridge 3).
Result<BlockedPairs> Resolve(const PartitionSpec& spec, const std::vector<std::string>& hosts);

}  // namespace drone::faults::network
