#include "faults/network/proxy_fault.h"

namespace drone::faults::network {
namespace {

nlohmann::json Delta(const TcpProxyStats& from, const TcpProxyStats& to) {
  return {{"connections", to.connections - from.connections},
          {"resets", to.resets - from.resets},
          {"bytes_up", to.bytes_up - from.bytes_up},
          {"bytes_down", to.bytes_down - from.bytes_down},
          {"bytes_blackholed", to.bytes_blackholed - from.bytes_blackholed},
          {"open_at_heal", to.open}};
}

}  // namespace

ProxyFault::ProxyFault(ProxyNetwork& proxies, std::string kind, std::string target,
                       std::map<std::string, ProxyDirections> plan, nlohmann::json spec,
                       std::vector<std::pair<std::string, std::string>> uncut)
    : proxies_(proxies),
      kind_(std::move(kind)),
      target_(std::move(target)),
      plan_(std::move(plan)),
      spec_(std::move(spec)),
      uncut_(std::move(uncut)) {}

ProxyFault::~ProxyFault() { [[maybe_unused]] Status s = Heal(); }

nlohmann::json ProxyFault::Details() const {
  nlohmann::json proxies = nlohmann::json::object();
  for (const auto& [node, d] : plan_) {
    nlohmann::json j = {{"up", d.up.ToJson()}, {"down", d.down.ToJson()}};
    if (Result<std::string> a = proxies_.Address(node); a.ok()) j["address"] = *a;
    if (auto it = at_inject_.find(node); it != at_inject_.end()) {
      j["open_at_inject"] = it->second.open;
    }
    proxies[node] = std::move(j);
  }
  nlohmann::json out = {{"spec", spec_}, {"proxies", proxies}};
  if (!uncut_.empty()) {
    nlohmann::json pairs = nlohmann::json::array();
    for (const auto& [a, b] : uncut_) pairs.push_back({a, b});
    out["not_cut"] = pairs;
    out["note"] = "links between brokers do not pass through proxies in network: proxy";
  }
  return out;
}

nlohmann::json ProxyFault::HealDetails() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [node, end] : at_heal_) {
    auto it = at_inject_.find(node);
    if (it != at_inject_.end()) out[node] = Delta(it->second, end);
  }
  return out;
}

Status ProxyFault::Inject() {
  if (injected_) return Status::Ok();
  before_.clear();
  at_inject_.clear();
  at_heal_.clear();
  for (const auto& [node, d] : plan_) {
    ASSIGN_OR_RETURN(ProxyDirections was, proxies_.Get(node));
    before_[node] = was;
  }
  for (const auto& [node, d] : plan_) {
    Status set = proxies_.Set(node, d);
    // After Set (which returns once the proxy applied it): the window's counters start here.
    if (Result<TcpProxyStats> s = proxies_.Stats(node); s.ok()) at_inject_[node] = *s;
    if (!set.ok()) {
      // Nothing may stay disturbed: put back what was set so far.
      for (const auto& [done, was] : before_) {
        if (done == node) break;
        (void)proxies_.Set(done, was, plan_.at(done).Blackholes());
      }
      return set.WithContext("the proxy of " + node);
    }
  }
  injected_ = true;
  return Status::Ok();
}

Status ProxyFault::Heal() {
  if (!injected_) return Status::Ok();
  Status first = Status::Ok();
  for (const auto& [node, was] : before_) {
    if (Result<TcpProxyStats> s = proxies_.Stats(node); s.ok()) at_heal_[node] = *s;
    Status s = proxies_.Set(node, was, plan_.at(node).Blackholes());
    if (!s.ok() && first.ok()) first = s.WithContext("healing the proxy of " + node);
  }
  injected_ = false;
  return first;
}

}  // namespace drone::faults::network
