#include "faults/network/lab_fault.h"

#include <algorithm>

#include "faults/network/backend_choice.h"
#include "faults/network/kernel_render.h"
#include "faults/network/packet_impairer.h"
#include "faults/network/tcp_proxy.h"

namespace drone::faults::network {
namespace {

// NFQUEUE numbers are per namespace; impairment i uses 100 + 2i (egress) and 101 + 2i (ingress).
constexpr int kFirstQueue = 100;

std::string TargetText(const ImpairmentTarget& t) {
  return t.IsEndpoint() ? t.from : t.from + " -> " + t.to;
}

std::string JoinUnique(const std::vector<std::string>& parts) {
  std::vector<std::string> seen;
  std::string out;
  for (const std::string& whole : parts) {
    size_t start = 0;
    while (start <= whole.size()) {
      size_t end = whole.find('+', start);
      if (end == std::string::npos) end = whole.size();
      const std::string p = whole.substr(start, end - start);
      if (!p.empty() && std::find(seen.begin(), seen.end(), p) == seen.end()) {
        seen.push_back(p);
        out += (out.empty() ? "" : "+") + p;
      }
      start = end + 1;
    }
  }
  return out;
}

}  // namespace

struct LabImpairmentFault::Active {
  LabPlan kernel;       // tc + iptables for the kernel-carried impairments
  LabPlan queue_rules;  // NFQUEUE rules
  std::vector<std::unique_ptr<PacketImpairer>> impairers;
  std::vector<size_t> impairer_of;  // impairers[k] serves impairments_[impairer_of[k]]
};

LabImpairmentFault::LabImpairmentFault(const LabNetwork& lab, std::vector<Impairment> impairments,
                                       KernelSupport support, std::string tag)
    : lab_(lab),
      impairments_(std::move(impairments)),
      support_(std::move(support)),
      tag_(std::move(tag)) {}

LabImpairmentFault::~LabImpairmentFault() { [[maybe_unused]] Status s = Heal(); }

std::string LabImpairmentFault::Target() const {
  std::string out;
  for (const Impairment& i : impairments_) out += (out.empty() ? "" : ", ") + TargetText(i.target);
  return out;
}

std::string LabImpairmentFault::Backend() const { return JoinUnique(backends_); }

nlohmann::json LabImpairmentFault::Details() const {
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < impairments_.size(); ++i) {
    nlohmann::json j = impairments_[i].ToJson();
    if (i < backends_.size()) {
      j["backend"] = backends_[i];
      j["backend_reason"] = reasons_[i];
    }
    if (active_) {
      nlohmann::json stats = nlohmann::json::array();
      for (size_t k = 0; k < active_->impairers.size(); ++k) {
        if (active_->impairer_of[k] == i) stats.push_back(active_->impairers[k]->stats().ToJson());
      }
      if (!stats.empty()) j["impairer"] = stats;
    }
    list.push_back(j);
  }
  return {{"impairments", list}};
}

Status LabImpairmentFault::Inject() {
  if (active_) return Status::Ok();
  backends_.clear();
  reasons_.clear();
  std::vector<Impairment> kernel;
  for (const Impairment& imp : impairments_) {
    ASSIGN_OR_RETURN(BackendChoice c, ChooseBackend(imp, support_, /*in_lab=*/true));
    if (c.backend == kBackendTcpProxy) {
      return FailedPrecondition(TargetText(imp.target) + ": " + c.reason +
                                "; a TCP proxy fault needs the clients pointed at the proxy "
                                "(ProxyImpairmentFault), not a lab link");
    }
    backends_.push_back(c.backend);
    reasons_.push_back(c.reason);
    if (c.Kernel()) kernel.push_back(imp);
  }
  auto active = std::make_unique<Active>();
  ASSIGN_OR_RETURN(active->kernel, PlanLabImpairments(lab_.hosts(), lab_.hub_netns(), kernel,
                                                      support_.netem, tag_));
  // The impairers first, then the rules that feed them.
  for (size_t i = 0; i < impairments_.size(); ++i) {
    if (backends_[i] != kBackendNfqueue) continue;
    const Impairment& imp = impairments_[i];
    ASSIGN_OR_RETURN(const LabHost* from, lab_.Host(imp.target.from));
    const LabHost* to = nullptr;
    if (!imp.target.IsEndpoint()) {
      ASSIGN_OR_RETURN(to, lab_.Host(imp.target.to));
    }
    const int queue = kFirstQueue + 2 * static_cast<int>(i);
    struct Way {
      Direction dir;
      int queue;
      uint64_t seed;
    };
    std::vector<Way> ways = {{Direction::kEgress, queue, imp.seed}};
    // The ingress side draws from streams of its own (seed + 1), so the directions differ.
    if (!to) ways.push_back({Direction::kIngress, queue + 1, imp.seed + 1});
    for (const Way& w : ways) {
      Impairment seeded = imp;
      seeded.seed = w.seed;
      auto p = PacketImpairer::Start(from->netns, w.queue, seeded);
      if (!p.ok()) {
        active_ = std::move(active);
        [[maybe_unused]] Status h = Heal();
        return p.status();
      }
      active->impairers.push_back(std::move(*p));
      active->impairer_of.push_back(i);
      const std::vector<std::string> peers =
          to ? std::vector<std::string>{to->address + "/32"} : std::vector<std::string>{};
      CommandPlan rules = RenderNfqueue(w.dir, from->interface, peers, w.queue, tag_);
      for (const Argv& a : rules.apply) active->queue_rules.apply.push_back({from->netns, a});
      for (const Argv& a : rules.heal) active->queue_rules.heal.push_back({from->netns, a});
    }
  }
  Status s = ApplyPlan(active->kernel);
  if (s.ok()) {
    s = ApplyPlan(active->queue_rules);
    if (!s.ok()) {
      [[maybe_unused]] Status h = HealPlan(active->kernel);
    }
  }
  if (!s.ok()) {
    for (auto& p : active->impairers) p->Stop();
    return s;
  }
  active_ = std::move(active);
  return Status::Ok();
}

Status LabImpairmentFault::Heal() {
  if (!active_) return Status::Ok();
  Status first = HealPlan(active_->queue_rules);
  for (auto& p : active_->impairers) p->Stop();
  Status k = HealPlan(active_->kernel);
  if (first.ok()) first = k;
  if (first.ok()) active_.reset();
  return first;
}

Status LabImpairmentFault::Update(std::vector<Impairment> impairments) {
  if (!active_) {
    impairments_ = std::move(impairments);
    return Status::Ok();
  }
  // In place when every impairment keeps its target and stays on the NFQUEUE impairer.
  bool in_place = impairments.size() == impairments_.size();
  for (size_t i = 0; in_place && i < impairments.size(); ++i) {
    auto c = ChooseBackend(impairments[i], support_, true);
    in_place = c.ok() && c->backend == kBackendNfqueue && backends_[i] == kBackendNfqueue &&
               impairments[i].target == impairments_[i].target;
  }
  if (in_place) {
    for (size_t k = 0; k < active_->impairers.size(); ++k) {
      Impairment seeded = impairments[active_->impairer_of[k]];
      seeded.seed = active_->impairers[k]->queue() % 2 == 0 ? seeded.seed : seeded.seed + 1;
      active_->impairers[k]->Update(seeded);
    }
    impairments_ = std::move(impairments);
    return Status::Ok();
  }
  RETURN_IF_ERROR(Heal());
  impairments_ = std::move(impairments);
  return Inject();
}

LabPartitionFault::LabPartitionFault(const LabNetwork& lab, PartitionSpec spec, std::string tag)
    : lab_(lab), spec_(std::move(spec)), tag_(std::move(tag)) {}

LabPartitionFault::~LabPartitionFault() { [[maybe_unused]] Status s = Heal(); }

std::string LabPartitionFault::Target() const {
  std::string kind = PartitionKindName(spec_.kind);
  if (spec_.kind == PartitionKind::kIsolate) {
    std::string nodes;
    for (const std::string& n : spec_.nodes) nodes += (nodes.empty() ? "" : ", ") + n;
    return kind + " " + nodes;
  }
  if (spec_.kind == PartitionKind::kOneWay) return spec_.from + " -/-> " + spec_.to;
  return kind;
}

nlohmann::json LabPartitionFault::Details() const {
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& [a, b] : blocked_) pairs.push_back({a, b});
  return {{"partition", spec_.ToJson()}, {"blocked", pairs}};
}

Status LabPartitionFault::Inject() {
  if (plan_) return Status::Ok();
  std::vector<std::string> names;
  for (const LabHost& h : lab_.hosts()) names.push_back(h.name);
  ASSIGN_OR_RETURN(blocked_, Resolve(spec_, names));
  ASSIGN_OR_RETURN(LabPlan plan, PlanLabPartition(lab_.hosts(), blocked_, tag_));
  RETURN_IF_ERROR(ApplyPlan(plan));
  plan_ = std::make_unique<LabPlan>(std::move(plan));
  return Status::Ok();
}

Status LabPartitionFault::Heal() {
  if (!plan_) return Status::Ok();
  RETURN_IF_ERROR(HealPlan(*plan_));
  plan_.reset();
  return Status::Ok();
}

ProxyImpairmentFault::ProxyImpairmentFault(std::string listen, std::string upstream, Impairment up,
                                           Impairment down)
    : listen_(std::move(listen)),
      upstream_(std::move(upstream)),
      up_(std::move(up)),
      down_(std::move(down)) {}

ProxyImpairmentFault::~ProxyImpairmentFault() {
  if (proxy_) proxy_->Stop();
}

nlohmann::json ProxyImpairmentFault::Details() const {
  nlohmann::json j = {{"up", up_.ToJson()}, {"down", down_.ToJson()}, {"listen", address()}};
  if (proxy_) j["proxy"] = proxy_->stats().ToJson();
  return j;
}

std::string ProxyImpairmentFault::address() const { return proxy_ ? proxy_->address() : listen_; }

Status ProxyImpairmentFault::Listen() {
  if (proxy_) return Status::Ok();
  ASSIGN_OR_RETURN(proxy_, TcpProxy::Start(listen_, upstream_, Impairment{}, Impairment{}));
  return Status::Ok();
}

Status ProxyImpairmentFault::Inject() {
  RETURN_IF_ERROR(Listen());
  return proxy_->Update(up_, down_);
}

Status ProxyImpairmentFault::Heal() {
  if (!proxy_) return Status::Ok();
  return proxy_->Update(Impairment{}, Impairment{});
}

}  // namespace drone::faults::network
