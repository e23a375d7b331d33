#include "cli/k8s_command.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "flow/preflight.h"
#include "platforms/kubernetes/kubectl.h"
#include "platforms/kubernetes/kubernetes_platform.h"
#include "platforms/kubernetes/synth.h"
#include "platforms/local/child_process.h"
#include "spec/loader.h"

namespace drone::cli {
namespace {

namespace k8s = platforms::kubernetes;

constexpr int kExitBadInput = 2;
constexpr int kExitIncomplete = 3;
constexpr int64_t kCallTimeoutNs = 30 * kNsPerSec;

}  // namespace

void MoveClustersToKubernetes(spec::FlowSpec& flow, const std::string& context,
                              const std::string& provider, const std::string& image) {
  for (spec::Step& s : flow.steps) {
    if (s.kind != spec::StepKind::kCluster) continue;
    auto& with = std::get<spec::ClusterWith>(s.with);
    if (with.platform == "external") continue;
    with.platform = "kubernetes";
    with.lb = "none";
    if (!context.empty()) with.context = context;
    if (!provider.empty()) with.provider = provider;
    if (!image.empty()) with.image = image;
  }
}

int K8sSynthCommand(const K8sSynthFlags& flags) {
  spec::LoadResult loaded = spec::LoadFlowFile(flags.flow_path, flags.params);
  if (!loaded.flow) {
    for (const spec::Diagnostic& d : loaded.errors) std::cerr << d.ToString() << "\n";
    std::cerr << "drone: " << flags.flow_path << " is not a valid flow; nothing was written\n";
    return kExitBadInput;
  }
  auto provider = k8s::FindProvider(flags.provider);
  if (!provider.ok()) {
    std::cerr << "drone: --provider: " << provider.status().message() << "\n";
    return kExitBadInput;
  }
  std::vector<k8s::ClusterPlan> plans = k8s::PlansFromFlow(*loaded.flow);
  if (plans.empty()) {
    std::cerr << "drone: " << flags.flow_path
              << " has no cluster step that starts servers; nothing to synthesise\n";
    return kExitBadInput;
  }
  k8s::SynthOptions options;
  options.run_id = flags.run_id.empty() ? loaded.flow->name : flags.run_id;
  options.flow = loaded.flow->name;
  options.provider = *provider;
  options.schedulable_nodes = flags.nodes;
  options.image = flags.image;
  options.storage_class = flags.storage_class;
  options.worker_token = flags.worker_token;
  options.workers = flags.workers >= 0 ? flags.workers : k8s::WorkerPods(*loaded.flow, "");
  auto synthesis = k8s::Synthesise(plans, options);
  if (!synthesis.ok()) {
    std::cerr << flags.flow_path << ": " << synthesis.status().message() << "\n";
    std::cerr << "drone: nothing was written\n";
    return kExitBadInput;
  }
  std::error_code ec;
  std::filesystem::create_directories(flags.out_dir, ec);
  if (ec) {
    std::cerr << "drone: cannot create " << flags.out_dir << ": " << ec.message() << "\n";
    return kExitBadInput;
  }
  for (const k8s::Phase& phase : synthesis->chart.phases()) {
    const std::string path = (std::filesystem::path(flags.out_dir) / phase.file).string();
    std::ofstream out(path, std::ios::trunc);
    out << k8s::PhaseYaml(phase);
    if (!out) {
      std::cerr << "drone: writing " << path << " failed\n";
      return kExitIncomplete;
    }
    std::cout << path << "  (" << phase.objects.size() << " objects)\n";
  }
  return 0;
}

int K8sDoctorCommand(const std::string& context, const std::string& provider_name) {
  int failures = 0;
  auto line = [&](bool ok, const std::string& what, const std::string& todo = "") {
    std::cout << (ok ? "ok    " : "fail  ") << what;
    if (!ok && !todo.empty()) std::cout << " — " << todo;
    std::cout << "\n";
    if (!ok) ++failures;
  };
  auto provider = k8s::FindProvider(provider_name);
  if (!provider.ok()) {
    std::cerr << "drone: --provider: " << provider.status().message() << "\n";
    return kExitBadInput;
  }
  auto found = platforms::local::FindExecutable("kubectl");
  line(found.ok(), found.ok() ? "kubectl: " + *found : "kubectl is not on PATH",
       "install kubectl (https://kubernetes.io/docs/tasks/tools/)");
  if (!found.ok()) return kExitBadInput;
  const k8s::Kubectl kubectl(context);
  const std::string ctx = context.empty() ? "the current context" : "context " + context;
  auto version = kubectl.Run({"version", "-o", "json"}, "", kCallTimeoutNs);
  std::string server;
  if (version.ok()) {
    nlohmann::json v = nlohmann::json::parse(version->out, nullptr, false);
    if (v.is_object() && v.contains("serverVersion")) {
      server = v["serverVersion"].value("gitVersion", "");
    }
  }
  line(!server.empty(), server.empty() ? "no API server answers for " + ctx : "API server " + server + " (" + ctx + ")",
       "check `kubectl config get-contexts` and your credentials");
  if (server.empty()) return kExitBadInput;

  struct Permission {
    std::string verb, resource;
    bool namespaced;
  };
  const std::vector<Permission> permissions = {
      {"create", "namespaces", false},         {"delete", "namespaces", false},
      {"list", "nodes", false},                {"create", "statefulsets.apps", true},
      {"create", "services", true},            {"create", "configmaps", true},
      {"create", "secrets", true},             {"create", "serviceaccounts", true},
      {"create", "roles.rbac.authorization.k8s.io", true},
      {"create", "rolebindings.rbac.authorization.k8s.io", true},
      {"create", "poddisruptionbudgets.policy", true},
      {"get", "pods", true},                   {"delete", "pods", true},
      {"create", "pods/exec", true},
  };
  for (const Permission& p : permissions) {
    k8s::Argv args = {"auth", "can-i", p.verb, p.resource};
    if (p.namespaced) args.push_back("--all-namespaces");
    auto r = kubectl.Run(args, "", kCallTimeoutNs);
    const bool yes = r.ok() && r->exit_code == 0 && r->out.rfind("yes", 0) == 0;
    line(yes, "may " + p.verb + " " + p.resource,
         "ask for a role that grants it (Drone creates and deletes one namespace per run)");
  }

  const std::string storage = provider->storage_class;
  if (!storage.empty()) {
    auto r = kubectl.Run({"get", "storageclass", storage, "-o", "name"}, "", kCallTimeoutNs);
    line(r.ok() && r->exit_code == 0, "storage class " + storage,
         "create it, or pass --storage-class to `drone k8s synth` (see docs/platforms/kubernetes.md)");
  } else {
    auto r = kubectl.Run({"get", "storageclass", "-o", "json"}, "", kCallTimeoutNs);
    bool has_default = false;
    if (r.ok() && r->exit_code == 0) {
      nlohmann::json list = nlohmann::json::parse(r->out, nullptr, false);
      if (list.is_object() && list.contains("items")) {
        for (const auto& item : list["items"]) {
          const auto annotations = item.value("metadata", nlohmann::json::object())
                                       .value("annotations", nlohmann::json::object());
          if (annotations.value("storageclass.kubernetes.io/is-default-class", "") == "true") {
            has_default = true;
          }
        }
      }
    }
    line(has_default, "a default storage class",
         "mark one default (storageclass.kubernetes.io/is-default-class=true) or pick a provider");
  }

  if (provider->service_type != "LoadBalancer") {
    line(true, "client Services of type " + provider->service_type + " (no load balancer needed)");
  } else if (provider->name == "eks") {
    auto r = kubectl.Run({"-n", "kube-system", "get", "deployment", "aws-load-balancer-controller",
                          "-o", "name"}, "", kCallTimeoutNs);
    line(r.ok() && r->exit_code == 0, "AWS Load Balancer Controller in kube-system",
         "install it (NLB Services need it), or use service: ClusterIP");
  } else if (provider->name == "k3s") {
    line(true, "LoadBalancer Services (k3s ServiceLB)");
  } else {
    // A cloud provider sets the nodes' providerID; without one nothing answers LoadBalancer
    // Services unless an add-on such as MetalLB does.
    auto r = kubectl.Run({"get", "nodes", "-o", "jsonpath={.items[*].spec.providerID}"}, "",
                         kCallTimeoutNs);
    const bool cloud = r.ok() && r->exit_code == 0 && !r->out.empty();
    line(cloud, cloud ? "LoadBalancer Services (cloud provider " + r->out.substr(0, r->out.find(':')) + ")"
                      : "no cloud provider on the nodes for LoadBalancer Services",
         "install a load balancer (e.g. MetalLB) or use service: NodePort");
  }
  if (failures > 0) {
    std::cout << failures << (failures == 1 ? " check" : " checks") << " failed\n";
    return kExitBadInput;
  }
  std::cout << "ready for drone run --platform kubernetes" << (context.empty() ? "" : " --context " + context) << "\n";
  return 0;
}

int CleanKubernetesCommand(const std::string& context, bool all_hosts) {
  const k8s::Kubectl kubectl(context);
  auto listed = kubectl.RunChecked(k8s::ManagedNamespacesArgs(), "", kCallTimeoutNs);
  if (!listed.ok()) {
    std::cerr << "drone: " << listed.status().message() << "\n";
    return kExitIncomplete;
  }
  nlohmann::json list = nlohmann::json::parse(listed->out, nullptr, false);
  if (!list.is_object() || !list.contains("items")) {
    std::cerr << "drone: kubectl get namespaces did not answer a list\n";
    return kExitIncomplete;
  }
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  int deleted = 0, kept = 0, failed = 0;
  for (const auto& item : list["items"]) {
    const auto meta = item.value("metadata", nlohmann::json::object());
    const std::string name = meta.value("name", "");
    const auto annotations = meta.value("annotations", nlohmann::json::object());
    const std::string owner_host = annotations.value("drone.dev/host", "");
    const std::string owner_pid = annotations.value("drone.dev/pid", "");
    if (name.empty()) continue;
    // A run is live when its drone process still runs on this host; runs of other hosts are
    // someone else's to clean unless --all-hosts says otherwise.
    if (!owner_host.empty() && owner_host != host && !all_hosts) {
      std::cout << "kept     " << name << " (run on host " << owner_host << "; --all-hosts deletes it)\n";
      ++kept;
      continue;
    }
    if (owner_host == host && !owner_pid.empty()) {
      const pid_t pid = static_cast<pid_t>(std::atol(owner_pid.c_str()));
      std::ifstream comm("/proc/" + owner_pid + "/comm");
      std::string program;
      std::getline(comm, program);
      if (pid > 0 && ::kill(pid, 0) == 0 && program == "drone") {
        std::cout << "kept     " << name << " (its run is live: pid " << owner_pid << ")\n";
        ++kept;
        continue;
      }
    }
    auto r = kubectl.RunChecked(k8s::DeleteNamespaceArgs(name, k8s::kDeleteTimeoutS), "",
                                (k8s::kDeleteTimeoutS + 30) * kNsPerSec);
    if (r.ok()) {
      std::cout << "deleted  " << name << "\n";
      ++deleted;
    } else {
      std::cout << "failed   " << name << ": " << r.status().message() << "\n";
      ++failed;
    }
  }
  std::cout << deleted << " deleted, " << kept << " kept, " << failed << " failed\n";
  return failed == 0 ? 0 : kExitIncomplete;
}

}  // namespace drone::cli
