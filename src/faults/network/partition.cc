#include "faults/network/partition.h"

#include <algorithm>

namespace drone::faults::network {
namespace {

using nlohmann::json;

Result<std::vector<std::string>> Names(const json& j, const std::string& field) {
  if (!j.is_array()) return InvalidArgument(field + ": expected a list of host names");
  std::vector<std::string> out;
  for (const json& v : j) {
    if (!v.is_string() || v.get<std::string>().empty()) {
      return InvalidArgument(field + ": expected a list of host names");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

void BlockBoth(BlockedPairs& b, const std::string& x, const std::string& y) {
  b.emplace(x, y);
  b.emplace(y, x);
}

}  // namespace

const char* PartitionKindName(PartitionKind k) {
  switch (k) {
    case PartitionKind::kIsolate:
      return "isolate";
    case PartitionKind::kHalves:
      return "halves";
    case PartitionKind::kGroups:
      return "groups";
    case PartitionKind::kMajoritiesRing:
      return "majorities-ring";
    case PartitionKind::kBridge:
      return "bridge";
    case PartitionKind::kOneWay:
      return "one-way";
  }
  return "isolate";
}

Result<PartitionSpec> PartitionSpec::FromJson(const json& j) {
  if (!j.is_object() || !j.contains("partition") || !j["partition"].is_string()) {
    return InvalidArgument(
        "partition: required; one of isolate, halves, groups, majorities-ring, bridge, one-way");
  }
  static const char* kKeys[] = {"partition", "nodes", "groups", "from", "to", "among"};
  for (const auto& [key, value] : j.items()) {
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      return InvalidArgument(key +
                             ": unknown field; the fields here are partition, nodes, "
                             "groups, from, to, among");
    }
  }
  PartitionSpec p;
  const std::string kind = j["partition"].get<std::string>();
  bool found = false;
  for (PartitionKind k :
       {PartitionKind::kIsolate, PartitionKind::kHalves, PartitionKind::kGroups,
        PartitionKind::kMajoritiesRing, PartitionKind::kBridge, PartitionKind::kOneWay}) {
    if (kind == PartitionKindName(k)) {
      p.kind = k;
      found = true;
    }
  }
  if (!found) {
    return InvalidArgument("partition: '" + kind +
                           "' is not a partition; use isolate, halves, groups, majorities-ring, "
                           "bridge or one-way");
  }
  auto only = [&](std::initializer_list<const char*> allowed) -> Status {
    for (const char* k : {"nodes", "groups", "from", "to"}) {
      if (j.contains(k) && std::find_if(allowed.begin(), allowed.end(), [&](const char* a) {
                             return std::string(a) == k;
                           }) == allowed.end()) {
        return InvalidArgument(std::string(k) + ": does not apply to partition " + kind);
      }
    }
    return Status::Ok();
  };
  if (j.contains("among")) {
    ASSIGN_OR_RETURN(p.among, Names(j["among"], "among"));
  }
  if (p.kind == PartitionKind::kIsolate) {
    RETURN_IF_ERROR(only({"nodes"}));
    if (!j.contains("nodes")) return InvalidArgument("nodes: required: the hosts to isolate");
    ASSIGN_OR_RETURN(p.nodes, Names(j["nodes"], "nodes"));
    if (p.nodes.empty()) return InvalidArgument("nodes: name at least one host to isolate");
  } else if (p.kind == PartitionKind::kGroups) {
    RETURN_IF_ERROR(only({"groups"}));
    if (!j.contains("groups") || !j["groups"].is_array() || j["groups"].size() < 2) {
      return InvalidArgument("groups: required: two or more lists of hosts");
    }
    for (size_t i = 0; i < j["groups"].size(); ++i) {
      ASSIGN_OR_RETURN(auto g, Names(j["groups"][i], "groups[" + std::to_string(i) + "]"));
      p.groups.push_back(std::move(g));
    }
  } else if (p.kind == PartitionKind::kOneWay) {
    RETURN_IF_ERROR(only({"from", "to"}));
    if (!j.contains("from") || !j["from"].is_string() || !j.contains("to") ||
        !j["to"].is_string()) {
      return InvalidArgument("from, to: required: one-way cuts packets from one host to another");
    }
    p.from = j["from"].get<std::string>();
    p.to = j["to"].get<std::string>();
    if (p.from == p.to) return InvalidArgument("to: must differ from from");
  } else {
    RETURN_IF_ERROR(only({}));
  }
  return p;
}

json PartitionSpec::ToJson() const {
  json j = {{"partition", PartitionKindName(kind)}};
  if (!nodes.empty()) j["nodes"] = nodes;
  if (!groups.empty()) j["groups"] = groups;
  if (kind == PartitionKind::kOneWay) {
    j["from"] = from;
    j["to"] = to;
  }
  if (!among.empty()) j["among"] = among;
  return j;
}

Result<BlockedPairs> Resolve(const PartitionSpec& spec, const std::vector<std::string>& hosts) {
  auto known = [&](const std::string& h) {
    return std::find(hosts.begin(), hosts.end(), h) != hosts.end();
  };
  auto check = [&](const std::string& h, const char* field) -> Status {
    if (known(h)) return Status::Ok();
    std::string list;
    for (const std::string& x : hosts) list += (list.empty() ? "" : ", ") + x;
    return InvalidArgument(std::string(field) + ": no host '" + h + "'; the hosts are " + list);
  };
  std::vector<std::string> all = hosts;
  if (!spec.among.empty()) {
    for (const std::string& h : spec.among) RETURN_IF_ERROR(check(h, "among"));
    all = spec.among;
  }
  const size_t n = all.size();
  BlockedPairs b;
  switch (spec.kind) {
    case PartitionKind::kIsolate:
      for (const std::string& x : spec.nodes) {
        RETURN_IF_ERROR(check(x, "nodes"));
        for (const std::string& y : all) {
          if (std::find(spec.nodes.begin(), spec.nodes.end(), y) == spec.nodes.end()) {
            BlockBoth(b, x, y);
          }
        }
      }
      break;
    case PartitionKind::kHalves: {
      if (n < 2) return InvalidArgument("partition halves: needs at least 2 hosts");
      // The first half is the smaller one when the count is odd: the second keeps the majority.
      const size_t cut = n / 2;
      for (size_t i = 0; i < cut; ++i) {
        for (size_t k = cut; k < n; ++k) BlockBoth(b, all[i], all[k]);
      }
      break;
    }
    case PartitionKind::kGroups: {
      std::vector<std::string> seen;
      for (const auto& g : spec.groups) {
        for (const std::string& h : g) {
          RETURN_IF_ERROR(check(h, "groups"));
          if (std::find(seen.begin(), seen.end(), h) != seen.end()) {
            return InvalidArgument("groups: host '" + h + "' is in two groups");
          }
          seen.push_back(h);
        }
      }
      for (size_t i = 0; i < spec.groups.size(); ++i) {
        for (size_t k = i + 1; k < spec.groups.size(); ++k) {
          for (const std::string& x : spec.groups[i]) {
            for (const std::string& y : spec.groups[k]) BlockBoth(b, x, y);
          }
        }
      }
      break;
    }
    case PartitionKind::kMajoritiesRing: {
      // Each host keeps the nearest hosts on both sides of a ring, enough to see a majority
      // (itself included), while no two hosts see the same majority: there is no quorum that all
      // agree on, yet every host believes it has one.
      if (n < 4) {
        return InvalidArgument("partition majorities-ring: needs at least 4 hosts (with " +
                               std::to_string(n) + " every majority is everyone)");
      }
      const size_t majority = n / 2 + 1;
      const size_t reach = majority / 2;  // ceil((majority - 1) / 2)
      for (size_t i = 0; i < n; ++i) {
        for (size_t k = i + 1; k < n; ++k) {
          const size_t d = std::min(k - i, n - (k - i));
          if (d > reach) BlockBoth(b, all[i], all[k]);
        }
      }
      break;
    }
    case PartitionKind::kBridge: {
      // Two halves that only the middle host still joins.
      if (n < 3) return InvalidArgument("partition bridge: needs at least 3 hosts");
      const size_t mid = n / 2;
      for (size_t i = 0; i < mid; ++i) {
        for (size_t k = mid + 1; k < n; ++k) BlockBoth(b, all[i], all[k]);
      }
      break;
    }
    case PartitionKind::kOneWay:
      RETURN_IF_ERROR(check(spec.from, "from"));
      RETURN_IF_ERROR(check(spec.to, "to"));
      b.emplace(spec.from, spec.to);
      break;
  }
  return b;
}

}  // namespace drone::faults::network
