#include "faults/network/lab_network.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace drone::faults::network {
namespace {

bool IsLabName(const std::string& s) {
  if (s.empty() || s.size() > 40) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

Status Ip(const std::vector<std::string>& args, const std::string& netns = "") {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunChecked(argv, netns);
}

// Effective capability bits from /proc/self/status.
uint64_t EffectiveCapabilities() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return 0;
}

std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line;
}

}  // namespace

std::string LabNamespaceName(const std::string& run_id, const std::string& host) {
  return std::string(kLabNamespacePrefix) + run_id + "-" + host;
}

Result<std::unique_ptr<LabNetwork>> LabNetwork::Create(const std::string& run_id,
                                                       const std::vector<std::string>& hosts) {
  if (!IsLabName(run_id)) {
    return InvalidArgument("lab run id '" + run_id + "' must be 1-40 letters, digits or '-'");
  }
  if (hosts.empty() || hosts.size() > kMaxLabHosts) {
    return InvalidArgument("a lab needs 1 to " + std::to_string(kMaxLabHosts) + " hosts");
  }
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (!IsLabName(hosts[i]) || hosts[i] == "hub") {
      return InvalidArgument("lab host name '" + hosts[i] +
                             "' must be 1-40 letters, digits or '-', and not 'hub'");
    }
    if (std::find(hosts.begin(), hosts.begin() + static_cast<long>(i), hosts[i]) !=
        hosts.begin() + static_cast<long>(i)) {
      return InvalidArgument("lab host '" + hosts[i] + "' is named twice");
    }
  }
  std::unique_ptr<LabNetwork> lab(new LabNetwork());
  lab->run_id_ = run_id;
  Status s = lab->Build(hosts);
  if (!s.ok()) {
    Status t = lab->Teardown();
    if (!t.ok()) s = s.WithContext("(cleanup also failed: " + t.message() + ")");
    return s.WithContext("creating the lab network");
  }
  return lab;
}

Status LabNetwork::Build(const std::vector<std::string>& hosts) {
  hub_netns_ = LabNamespaceName(run_id_, "hub");
  // Recorded once `ip netns add` succeeded (a failed add made nothing, and a name that already
  // existed is not ours to delete); a half-configured namespace is deleted with the rest.
  RETURN_IF_ERROR(Ip({"netns", "add", hub_netns_}));
  created_.push_back(hub_netns_);
  RETURN_IF_ERROR(Ip({"link", "set", "lo", "up"}, hub_netns_));
  RETURN_IF_ERROR(Ip({"link", "add", "br0", "type", "bridge"}, hub_netns_));
  RETURN_IF_ERROR(Ip({"link", "set", "br0", "up"}, hub_netns_));
  for (size_t i = 0; i < hosts.size(); ++i) {
    LabHost h;
    h.name = hosts[i];
    h.netns = LabNamespaceName(run_id_, hosts[i]);
    h.address = "10.213.0." + std::to_string(i + 2);
    h.interface = "eth0";
    h.hub_interface = "vh" + std::to_string(i + 1);
    RETURN_IF_ERROR(Ip({"netns", "add", h.netns}));
    created_.push_back(h.netns);
    RETURN_IF_ERROR(Ip({"link", "set", "lo", "up"}, h.netns));
    RETURN_IF_ERROR(Ip({"link", "add", h.hub_interface, "type", "veth", "peer", "name", h.interface,
                        "netns", h.netns},
                       hub_netns_));
    RETURN_IF_ERROR(Ip({"link", "set", h.hub_interface, "master", "br0", "up"}, hub_netns_));
    RETURN_IF_ERROR(Ip({"addr", "add", h.address + "/24", "dev", h.interface}, h.netns));
    RETURN_IF_ERROR(Ip({"link", "set", h.interface, "up"}, h.netns));
    hosts_.push_back(std::move(h));
  }
  return Status::Ok();
}

LabNetwork::~LabNetwork() {
  // Errors here have nowhere to go; Teardown() reports them to a caller who wants them, and
  // `drone clean` finds what is left by name.
  [[maybe_unused]] Status s = Teardown();
}

Status LabNetwork::Teardown() {
  Status first;
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    Status s = DeleteNetns(*it);
    if (!s.ok() && first.ok()) first = s;
  }
  if (first.ok()) created_.clear();
  return first;
}

Result<const LabHost*> LabNetwork::Host(const std::string& name) const {
  for (const LabHost& h : hosts_) {
    if (h.name == name) return &h;
  }
  return NotFound("the lab has no host '" + name + "'");
}

std::vector<std::string> LabNetwork::Namespaces() const { return created_; }

Result<CommandResult> LabNetwork::Run(const std::string& host,
                                      const std::vector<std::string>& argv) const {
  ASSIGN_OR_RETURN(const LabHost* h, Host(host));
  return RunCommand(argv, h->netns);
}

Result<NetnsProcess> LabNetwork::Spawn(const std::string& host,
                                       const std::vector<std::string>& argv) const {
  ASSIGN_OR_RETURN(const LabHost* h, Host(host));
  return NetnsProcess::Spawn(argv, h->netns);
}

Status DeleteNetns(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) {
    return InvalidArgument("bad namespace name '" + name + "'");
  }
  std::error_code ec;
  if (!std::filesystem::exists("/run/netns/" + name, ec)) return Status::Ok();
  auto r = RunCommand({"ip", "netns", "delete", name});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0 && std::filesystem::exists("/run/netns/" + name, ec)) {
    return FailedPrecondition("ip netns delete " + name + ": " + FirstLine(r->output));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ListNetns(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!std::filesystem::exists("/run/netns", ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  if (ec) return Internal("listing /run/netns: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Result<int> CleanLab(const std::string& run_id) {
  if (!IsLabName(run_id)) return InvalidArgument("bad run id '" + run_id + "'");
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListNetns(LabNamespaceName(run_id, "")));
  // The hub goes last: deleting a host takes its veth peer off the bridge first.
  std::stable_partition(names.begin(), names.end(),
                        [&](const std::string& n) { return n != LabNamespaceName(run_id, "hub"); });
  for (const std::string& n : names) RETURN_IF_ERROR(DeleteNetns(n));
  return static_cast<int>(names.size());
}

nlohmann::json KernelSupport::ToJson() const {
  return {{"privileged", privileged},
          {"netns", netns},
          {"netem", netem},
          {"tbf", tbf},
          {"htb", htb},
          {"iptables", iptables},
          {"iptables_statistic", iptables_statistic},
          {"nfqueue", nfqueue},
          {"notes", notes}};
}

std::string KernelSupport::Summary() const {
  if (!privileged || !netns) {
    return "no privilege for network namespaces: impairments use the TCP proxy (latency, "
           "bandwidth, reset, blackhole, slicer; no packet loss)";
  }
  std::string s = "network namespaces available; ";
  if (netem) {
    s += "kernel netem carries delay, loss, duplicate, corrupt and reorder";
  } else if (nfqueue) {
    s += "no sch_netem in this kernel: the NFQUEUE impairer carries delay, jitter, duplicate, "
         "corrupt and reorder";
  } else {
    s += "neither sch_netem nor NFQUEUE: only loss, rate and partitions";
  }
  s += tbf ? "; tbf carries rate" : "";
  s += iptables ? "; iptables carries partitions" : "; no iptables: no partitions";
  return s;
}

KernelSupport ProbeKernelSupport() {
  KernelSupport k;
  const uint64_t caps = EffectiveCapabilities();
  constexpr uint64_t kNetAdmin = 1ULL << 12, kSysAdmin = 1ULL << 21;
  k.privileged = (caps & kNetAdmin) && (caps & kSysAdmin);
  if (!k.privileged) {
    k.notes.push_back(
        "CAP_NET_ADMIN and CAP_SYS_ADMIN are needed for network namespaces (run as root)");
    return k;
  }
  static std::atomic<int> counter{0};
  const std::string ns =
      "drone-probe-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  Status made = Ip({"netns", "add", ns});
  if (!made.ok()) {
    k.notes.push_back(made.message());
    return k;
  }
  auto note = [&](const char* what, const Status& s) {
    if (!s.ok()) k.notes.push_back(std::string(what) + ": " + s.message());
    return s.ok();
  };
  k.netns = note("veth", Ip({"link", "add", "p0", "type", "veth", "peer", "name", "p1"}, ns)) &&
            note("veth", Ip({"link", "set", "p0", "up"}, ns));
  if (k.netns) {
    k.netem =
        note("netem",
             RunChecked({"tc", "qdisc", "add", "dev", "p0", "root", "netem", "delay", "1ms"}, ns));
    k.tbf = note("tbf", RunChecked({"tc", "qdisc", "add", "dev", "p0", "root", "tbf", "rate",
                                    "1mbit", "burst", "32kb", "latency", "50ms"},
                                   ns));
    if (k.tbf) {
      [[maybe_unused]] Status d = RunChecked({"tc", "qdisc", "del", "dev", "p0", "root"}, ns);
    }
    k.htb = note("htb", RunChecked({"tc", "qdisc", "add", "dev", "p0", "root", "handle",
                                    "1:", "htb", "default", "0"},
                                   ns)) &&
            note("u32", RunChecked({"tc", "filter", "add", "dev", "p0", "parent", "1:", "protocol",
                                    "ip", "prio", "1", "u32", "match", "ip", "dst",
                                    "10.213.0.254/32", "flowid", "1:1"},
                                   ns));
  }
  k.iptables =
      note("iptables",
           RunChecked({"iptables", "-w", "-A", "OUTPUT", "-d", "10.213.0.254", "-j", "DROP"}, ns));
  if (k.iptables) {
    k.iptables_statistic =
        note("iptables statistic",
             RunChecked({"iptables", "-w", "-A", "OUTPUT", "-d", "10.213.0.254", "-m", "statistic",
                         "--mode", "random", "--probability", "0.5", "-j", "DROP"},
                        ns));
    k.nfqueue = note("NFQUEUE", RunChecked({"iptables", "-w", "-A", "OUTPUT", "-d", "10.213.0.254",
                                            "-j", "NFQUEUE", "--queue-num", "1", "--queue-bypass"},
                                           ns));
  }
  Status gone = DeleteNetns(ns);
  if (!gone.ok()) k.notes.push_back(gone.message());
  return k;
}

Status CheckLabPrivilege(const std::string& way_out) {
  const KernelSupport& k = DetectKernelSupport();
  if (k.privileged && k.netns) return Status::Ok();
  return FailedPrecondition(
      "network: lab needs network namespaces, which need root (CAP_SYS_ADMIN and "
      "CAP_NET_ADMIN): " +
      (k.notes.empty() ? std::string("not available") : k.notes.front()) + "; " + way_out);
}

const KernelSupport& DetectKernelSupport() {
  static const KernelSupport support = ProbeKernelSupport();
  return support;
}

}  // namespace drone::faults::network
