// kind: cluster — starts a broker cluster on a platform and publishes how to reach it.
#include "core/log.h"
#include "core/units.h"
#include "faults/network/lab_network.h"
#include "faults/network/proxy_network.h"
#include "flow/preflight.h"
#include "flow/step_executor.h"
#include "journal/netns_undo.h"
#include "platforms/builtin_platforms.h"
#include "platforms/kubernetes/synth.h"

namespace drone::flow {
namespace {

class ClusterStep : public StepExecutor {
 public:
  std::string Kind() const override { return "cluster"; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::ClusterWith>(ctx.step.with);
    ASSIGN_OR_RETURN(auto platform, platforms::PlatformRegistry().Create(with.platform));
    platforms::ClusterRequest request;
    request.name = ctx.step.id;
    request.broker = with.broker;
    request.nodes = with.nodes;
    ASSIGN_OR_RETURN(request.bootstrap, ctx.Interpolate(with.bootstrap));
    request.lb = with.lb;
    request.options = with.options;
    request.cancel = &ctx.cancel;
    request.run_id = ctx.run.run_id();
    request.flow = ctx.run.flow().name;
    request.context = with.context;
    request.provider = with.provider;
    request.service = with.service;
    request.image = with.image;
    request.netfault = platforms::kubernetes::NeedsNetfault(ctx.run.flow(), ctx.step.id);
    // Workloads run on worker pods beside the brokers, unless `--workers` gave workers already.
    if (with.platform == "kubernetes" && ctx.run.workers().empty()) {
      request.workers = platforms::kubernetes::WorkerPods(ctx.run.flow(), ctx.step.id);
    }
    request.journal = &ctx.run.journal();
    request.network = ClusterNetwork(ctx.run.flow(), ctx.step);
    if (request.network == "proxy" && with.network.empty()) {
      LogWarn("cluster " + ctx.step.id + ": no privilege for a lab network (" +
              faults::network::DetectKernelSupport().Summary() +
              "): falling back to network: proxy, TCP proxies in front of the nodes carry its "
              "network faults (delay, rate, reset, blackhole, slicer; no packet faults)");
    }
    RETURN_IF_ERROR(platform->Validate(request));
    RunContext& run = ctx.run;
    const std::string id = ctx.step.id;
    if (request.network == "lab") {
      // Journaled before the lab exists, so that `drone clean` removes it after a SIGKILL.
      RETURN_IF_ERROR(run.PushUndo("stop cluster " + id, journal::NetnsRecord(run.run_id()),
                                   [&run, id] { return run.StopCluster(id); }));
    } else {
      run.PushUndo("stop cluster " + id, [&run, id] { return run.StopCluster(id); });
    }
    ASSIGN_OR_RETURN(auto cluster, platform->CreateCluster(request));
    nlohmann::json nodes = nlohmann::json::array();
    nlohmann::json addresses = nlohmann::json::array();
    nlohmann::json pids = nlohmann::json::array();
    nlohmann::json roles = nlohmann::json::array();
    for (const platforms::NodeInfo& n : cluster->Nodes()) {
      nodes.push_back(n.name);
      addresses.push_back(n.address);
      pids.push_back(n.pid);
      roles.push_back(n.role);
    }
    // `lb`: the load balancer's address when there is one (clients then use it as bootstrap).
    const std::string lb = with.lb == "none" ? "" : cluster->Endpoint().bootstrap;
    nlohmann::json outputs = {{"bootstrap", cluster->Endpoint().bootstrap},
                        {"nodes", nodes},
                        {"addresses", addresses},
                        {"pids", pids},
                        {"roles", roles},
                        {"lb", lb},
                        {"broker", cluster->Broker()},
                        {"platform", platform->Name()},
                        {"network", request.network}};
    // network: lab — every host's address, by host name (nodes and "clients").
    if (const faults::network::LabNetwork* lab = cluster->Lab()) {
      nlohmann::json hosts = nlohmann::json::object();
      for (const faults::network::LabHost& h : lab->hosts()) hosts[h.name] = h.address;
      outputs["lab"] = {{"subnet", faults::network::kLabSubnet}, {"hosts", hosts}};
    }
    // network: proxy — each node's proxy (which `addresses` name) and the node's own address,
    // and the proxies between the nodes ("a->b": on the way from a to b) where there are some.
    if (const faults::network::ProxyNetwork* proxies = cluster->Proxies()) {
      nlohmann::json hosts = nlohmann::json::object();
      nlohmann::json links = nlohmann::json::object();
      const nlohmann::json all = proxies->ToJson();
      for (auto it = all.begin(); it != all.end(); ++it) {
        const bool link = it.key().find("->") != std::string::npos;
        (link ? links : hosts)[it.key()] = {{"address", it.value()["address"]},
                                            {"upstream", it.value()["upstream"]}};
      }
      outputs["proxy"] = {{"hosts", hosts}, {"links", links}};
    }
    run.SetOutputs(id, std::move(outputs));
    run.AddCluster(id, std::move(cluster));
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewClusterStep() { return std::make_unique<ClusterStep>(); }

}  // namespace drone::flow
