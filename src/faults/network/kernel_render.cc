#include "faults/network/kernel_render.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "faults/network/packet_impairer.h"

namespace drone::faults::network {
namespace {

// tc takes microseconds at most; "100ms" when exact, else "1500us".
std::string TcTime(int64_t ns) {
  const int64_t us = (ns + 500) / 1000;
  if (us % 1000 == 0) return std::to_string(us / 1000) + "ms";
  return std::to_string(us) + "us";
}

std::string Percent(double p) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g%%", p * 100.0);
  return buf;
}

// iptables' --probability takes a fraction.
std::string Fraction(double p) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", p);
  return buf;
}

void AddChance(Argv& a, const char* what, double probability, double correlation) {
  a.push_back(what);
  a.push_back(Percent(probability));
  if (correlation != 0) a.push_back(Percent(correlation));
}

Argv Rule(const char* op, Direction dir, const std::string& device, const std::string& peer,
          const std::string& tag) {
  Argv a = {"iptables", "-w", op, dir == Direction::kEgress ? "OUTPUT" : "INPUT"};
  if (std::string(op) == "-I") a.push_back("1");
  a.push_back(dir == Direction::kEgress ? "-o" : "-i");
  a.push_back(device);
  if (!peer.empty()) {
    a.push_back(dir == Direction::kEgress ? "-d" : "-s");
    a.push_back(peer);
  }
  a.insert(a.end(), {"-m", "comment", "--comment", tag});
  return a;
}

// Apply rules (op -A or -I) plus their -D twins, one per peer (or one for all traffic).
CommandPlan Rules(const char* op, Direction dir, const std::string& device,
                  const std::vector<std::string>& peers, const std::string& tag, const Argv& tail) {
  CommandPlan plan;
  std::vector<std::string> targets = peers.empty() ? std::vector<std::string>{""} : peers;
  for (const std::string& peer : targets) {
    Argv apply = Rule(op, dir, device, peer, tag);
    Argv heal = Rule("-D", dir, device, peer, tag);
    apply.insert(apply.end(), tail.begin(), tail.end());
    heal.insert(heal.end(), tail.begin(), tail.end());
    plan.apply.push_back(std::move(apply));
    plan.heal.push_back(std::move(heal));
  }
  return plan;
}

// The qdiscs under `parent` ("root" or "parent 1:4") with handle major `major` for one rule.
Result<std::vector<Argv>> RuleQdiscs(const std::string& device, const Argv& parent, int major,
                                     const Impairment& imp, bool netem) {
  std::vector<Argv> out;
  Argv netem_args = NetemArgs(imp);
  if (!netem_args.empty() && !netem) {
    return FailedPrecondition("impairment of " + imp.target.from +
                              (imp.target.to.empty() ? "" : " -> " + imp.target.to) +
                              " needs sch_netem, which this kernel lacks");
  }
  const std::string handle = std::to_string(major) + ":";
  if (!netem_args.empty()) {
    Argv a = {"tc", "qdisc", "add", "dev", device};
    a.insert(a.end(), parent.begin(), parent.end());
    a.insert(a.end(), {"handle", handle, "netem"});
    a.insert(a.end(), netem_args.begin(), netem_args.end());
    // netem's default queue of 1000 packets overflows at a few hundred Mbit/s with a long delay.
    a.insert(a.end(), {"limit", "100000"});
    out.push_back(std::move(a));
    if (imp.rate) {
      Argv t = {"tc",
                "qdisc",
                "add",
                "dev",
                device,
                "parent",
                std::to_string(major) + ":1",
                "handle",
                std::to_string(major + 1) + ":",
                "tbf"};
      Argv tbf = TbfArgs(*imp.rate);
      t.insert(t.end(), tbf.begin(), tbf.end());
      out.push_back(std::move(t));
    }
  } else if (imp.rate) {
    Argv t = {"tc", "qdisc", "add", "dev", device};
    t.insert(t.end(), parent.begin(), parent.end());
    t.insert(t.end(), {"handle", handle, "tbf"});
    Argv tbf = TbfArgs(*imp.rate);
    t.insert(t.end(), tbf.begin(), tbf.end());
    out.push_back(std::move(t));
  }
  return out;
}

bool HealLeftNothing(const CommandResult& r) {
  // Already gone: a deleted qdisc, a deleted rule.
  return r.exit_code == 0 || r.output.find("handle of zero") != std::string::npos ||
         r.output.find("does a matching rule exist") != std::string::npos ||
         r.output.find("No such file or directory") != std::string::npos ||
         r.output.find("Cannot find device") != std::string::npos;
}

}  // namespace

bool IsPlainRandomLoss(const LossSpec& loss) {
  return loss.model == LossModel::kRandom && loss.correlation == 0;
}

bool NeedsNetem(const Impairment& imp) {
  return imp.delay || imp.duplicate || imp.corrupt || imp.reorder ||
         (imp.loss && !IsPlainRandomLoss(*imp.loss));
}

Argv NetemArgs(const Impairment& imp) {
  Argv a;
  if (imp.delay) {
    a.insert(a.end(), {"delay", TcTime(imp.delay->time_ns)});
    if (imp.delay->jitter_ns > 0) {
      a.push_back(TcTime(imp.delay->jitter_ns));
      if (imp.delay->correlation != 0) a.push_back(Percent(imp.delay->correlation));
      if (imp.delay->distribution != DelayDistribution::kUniform) {
        a.insert(a.end(), {"distribution", DelayDistributionName(imp.delay->distribution)});
      }
    }
  }
  if (imp.loss) {
    if (imp.loss->model == LossModel::kRandom) {
      a.insert(a.end(), {"loss", "random", Percent(imp.loss->probability)});
      if (imp.loss->correlation != 0) a.push_back(Percent(imp.loss->correlation));
    } else {
      a.insert(a.end(), {"loss", "gemodel", Percent(imp.loss->p), Percent(imp.loss->r),
                         Percent(imp.loss->bad_loss), Percent(imp.loss->good_loss)});
    }
  }
  if (imp.duplicate)
    AddChance(a, "duplicate", imp.duplicate->probability, imp.duplicate->correlation);
  if (imp.corrupt) AddChance(a, "corrupt", imp.corrupt->probability, imp.corrupt->correlation);
  if (imp.reorder) {
    AddChance(a, "reorder", imp.reorder->probability, imp.reorder->correlation);
    a.insert(a.end(), {"gap", std::to_string(imp.reorder->gap)});
  }
  // netem takes no seed: only the userspace impairer reproduces a pattern exactly.
  return a;
}

Argv TbfArgs(const RateSpec& rate) {
  const int64_t burst = rate.burst_bytes ? rate.burst_bytes : DefaultBurstBytes(rate.bits_per_s);
  const int64_t limit = rate.limit_ns ? rate.limit_ns : kDefaultRateLimitNs;
  return {"rate",    std::to_string(rate.bits_per_s) + "bit",
          "burst",   std::to_string(burst),
          "latency", TcTime(limit)};
}

Result<CommandPlan> RenderTc(const std::string& device, const std::vector<EgressRule>& rules,
                             bool netem) {
  CommandPlan plan;
  if (rules.empty()) return plan;
  plan.heal.push_back({"tc", "qdisc", "del", "dev", device, "root"});
  if (rules.size() == 1 && rules[0].destinations.empty()) {
    ASSIGN_OR_RETURN(plan.apply, RuleQdiscs(device, {"root"}, 1, rules[0].impairment, netem));
    return plan;
  }
  // An htb root classifies by destination; "default 0" sends everything unclassified past the
  // classes untouched. (htb rather than prio: prio is missing from some kernels, this one's too.)
  // Rule i gets class 1:(i+1), wide open, with its netem/tbf beneath.
  constexpr size_t kMaxRules = 64;
  if (rules.size() > kMaxRules) {
    return InvalidArgument("at most " + std::to_string(kMaxRules) +
                           " impaired links leave one device; merge some");
  }
  plan.apply.push_back(
      {"tc", "qdisc", "add", "dev", device, "root", "handle", "1:", "htb", "default", "0"});
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string cls = "1:" + std::to_string(i + 1);
    const int major = 10 * static_cast<int>(i + 1);
    plan.apply.push_back({"tc", "class", "add", "dev", device, "parent", "1:", "classid", cls,
                          "htb", "rate", "100gbit", "burst", "1250000", "cburst", "1250000",
                          "quantum", "60000"});
    ASSIGN_OR_RETURN(std::vector<Argv> q,
                     RuleQdiscs(device, {"parent", cls}, major, rules[i].impairment, netem));
    plan.apply.insert(plan.apply.end(), q.begin(), q.end());
    std::vector<std::string> dsts = rules[i].destinations;
    if (dsts.empty()) dsts.push_back("0.0.0.0/0");
    for (const std::string& d : dsts) {
      plan.apply.push_back({"tc", "filter", "add", "dev", device, "parent", "1:", "protocol", "ip",
                            "prio", std::to_string(i + 1), "u32", "match", "ip", "dst", d, "flowid",
                            cls});
    }
  }
  return plan;
}

CommandPlan RenderIptablesLoss(Direction dir, const std::string& device,
                               const std::vector<std::string>& peers, double probability,
                               const std::string& tag) {
  return Rules("-A", dir, device, peers, tag,
               {"-m", "statistic", "--mode", "random", "--probability", Fraction(probability), "-j",
                "DROP"});
}

CommandPlan RenderIptablesBlock(Direction dir, const std::string& device,
                                const std::vector<std::string>& peers, const std::string& tag) {
  return Rules("-I", dir, device, peers, tag, {"-j", "DROP"});
}

CommandPlan RenderNfqueue(Direction dir, const std::string& device,
                          const std::vector<std::string>& peers, int queue,
                          const std::string& tag) {
  char mark[16];
  std::snprintf(mark, sizeof(mark), "0x%x", kInjectMark);
  return Rules("-A", dir, device, peers, tag,
               {"-m", "mark", "!", "--mark", mark, "-j", "NFQUEUE", "--queue-num",
                std::to_string(queue), "--queue-bypass"});
}

Result<LabPlan> PlanLabImpairments(const std::vector<LabHost>& hosts, const std::string& hub_netns,
                                   const std::vector<Impairment>& impairments, bool netem,
                                   const std::string& tag) {
  auto host = [&](const std::string& name) -> Result<const LabHost*> {
    for (const LabHost& h : hosts) {
      if (h.name == name) return &h;
    }
    return InvalidArgument("no lab host '" + name + "'");
  };
  // Egress rules per (namespace, device), in first-use order so the plan is deterministic.
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, std::vector<EgressRule>> tc;
  std::vector<PlacedCommand> ipt_apply, ipt_heal;
  bool used_tc_netem = false, used_tbf = false, used_ipt = false;
  auto add_tc = [&](const std::string& ns, const std::string& dev, EgressRule rule) {
    auto key = std::make_pair(ns, dev);
    if (!tc.count(key)) order.push_back(key);
    tc[key].push_back(std::move(rule));
  };
  auto add_ipt = [&](const std::string& ns, const CommandPlan& p) {
    for (const Argv& a : p.apply) ipt_apply.push_back({ns, a});
    for (const Argv& a : p.heal) ipt_heal.push_back({ns, a});
    used_ipt = true;
  };
  for (const Impairment& imp : impairments) {
    RETURN_IF_ERROR(imp.Validate());
    if (imp.NeedsProxy()) {
      return FailedPrecondition(
          "reset, blackhole and slicer act on TCP streams: only the "
          "tcp-proxy backend carries them");
    }
    ASSIGN_OR_RETURN(const LabHost* from, host(imp.target.from));
    const LabHost* to = nullptr;
    if (!imp.target.IsEndpoint()) {
      ASSIGN_OR_RETURN(to, host(imp.target.to));
    }
    // Plain random loss goes to iptables when there is no netem (and with netem, to netem).
    Impairment for_tc = imp;
    if (!netem && imp.loss && IsPlainRandomLoss(*imp.loss)) {
      const std::vector<std::string> peers =
          to ? std::vector<std::string>{to->address + "/32"} : std::vector<std::string>{};
      add_ipt(from->netns, RenderIptablesLoss(Direction::kEgress, from->interface, peers,
                                              imp.loss->probability, tag));
      if (!to) {
        add_ipt(from->netns, RenderIptablesLoss(Direction::kIngress, from->interface, {},
                                                imp.loss->probability, tag));
      }
      for_tc.loss.reset();
    }
    if (NeedsNetem(for_tc) && !netem) {
      return FailedPrecondition("impairment of " + imp.target.from +
                                (to ? " -> " + imp.target.to : "") +
                                " needs sch_netem, which this kernel lacks (the NFQUEUE impairer "
                                "carries it)");
    }
    if (for_tc.Empty()) continue;
    used_tc_netem = used_tc_netem || NeedsNetem(for_tc);
    used_tbf = used_tbf || for_tc.rate.has_value();
    if (to) {
      add_tc(from->netns, from->interface, {for_tc, {to->address + "/32"}});
    } else {
      add_tc(from->netns, from->interface, {for_tc, {}});
      add_tc(hub_netns, from->hub_interface, {for_tc, {}});
    }
  }
  LabPlan plan;
  for (const auto& key : order) {
    ASSIGN_OR_RETURN(CommandPlan p, RenderTc(key.second, tc[key], netem));
    for (const Argv& a : p.apply) plan.apply.push_back({key.first, a});
    for (const Argv& a : p.heal) plan.heal.push_back({key.first, a});
  }
  plan.apply.insert(plan.apply.end(), ipt_apply.begin(), ipt_apply.end());
  plan.heal.insert(plan.heal.end(), ipt_heal.begin(), ipt_heal.end());
  std::vector<std::string> parts;
  if (used_tc_netem) parts.push_back("tc-netem");
  if (used_tbf) parts.push_back("tc-tbf");
  if (used_ipt) parts.push_back("iptables");
  for (const std::string& p : parts) plan.backend += (plan.backend.empty() ? "" : "+") + p;
  return plan;
}

Result<LabPlan> PlanLabPartition(const std::vector<LabHost>& hosts, const BlockedPairs& blocked,
                                 const std::string& tag) {
  auto host = [&](const std::string& name) -> Result<const LabHost*> {
    for (const LabHost& h : hosts) {
      if (h.name == name) return &h;
    }
    return InvalidArgument("no lab host '" + name + "'");
  };
  LabPlan plan;
  plan.backend = "iptables";
  for (const auto& [from_name, to_name] : blocked) {
    ASSIGN_OR_RETURN(const LabHost* from, host(from_name));
    ASSIGN_OR_RETURN(const LabHost* to, host(to_name));
    CommandPlan p =
        RenderIptablesBlock(Direction::kIngress, to->interface, {from->address + "/32"}, tag);
    for (const Argv& a : p.apply) plan.apply.push_back({to->netns, a});
    for (const Argv& a : p.heal) plan.heal.push_back({to->netns, a});
  }
  return plan;
}

Status ApplyPlan(const LabPlan& plan) {
  for (const PlacedCommand& c : plan.apply) {
    Status s = RunChecked(c.argv, c.netns);
    if (!s.ok()) {
      [[maybe_unused]] Status h = HealPlan(plan);
      return s;
    }
  }
  return Status::Ok();
}

Status HealPlan(const LabPlan& plan) {
  Status first;
  for (const PlacedCommand& c : plan.heal) {
    auto r = RunCommand(c.argv, c.netns);
    if (!r.ok()) {
      // A namespace that is gone took its qdiscs and rules with it.
      if (r.status().code() != StatusCode::kNotFound && first.ok()) first = r.status();
      continue;
    }
    if (!HealLeftNothing(*r) && first.ok()) {
      first = FailedPrecondition(CommandLine(c.argv) + " (in " + c.netns + "): " + r->output);
    }
  }
  return first;
}

}  // namespace drone::faults::network
