// kind: fault.kill, fault.stop, fault.pause, fault.restart and fault.network — disturb a node (or
// several: target `minority`), hold, heal (fault.network on a lab cluster and fault.partition:
// network_fault_steps.cc). Heal is registered as an undo
// action before the fault is injected, so a failed or interrupted run still heals it.
#include "core/clock.h"
#include "core/units.h"
#include "faults/network/node_delay.h"
#include "faults/process/process_fault.h"
#include "flow/step_executor.h"
#include "flow/steps/fault_hold.h"

namespace drone::flow {

Status InjectAndHold(StepContext& ctx, std::shared_ptr<faults::Fault> fault,
                     const std::string& node, const std::string& requested,
                     std::optional<int64_t> hold) {
  RunContext& run = ctx.run;
  auto index = std::make_shared<std::optional<size_t>>();
  const std::string step = ctx.step.id;
  const std::string kind = fault->Kind();
  run.PushUndo("heal " + kind + " on " + node, [&run, fault, index, step, node] {
    Status s = fault->Heal();
    if (s.ok() && index->has_value()) {
      const int64_t now = NowNs();
      if (nlohmann::json seen = fault->HealDetails(); !seen.is_null()) {
        run.AddFaultDetail(**index, "at_heal", std::move(seen));
      }
      run.EndFault(**index, now);
      run.Emit("FAULT_HEALED", step, fault->Kind() + " on " + node, now);
    }
    return s;
  });
  RETURN_IF_ERROR(fault->Inject());
  faults::FaultRecord record;
  record.start_ns = NowNs();
  record.step = step;
  record.kind = kind;
  record.target = node;
  // After Inject(): network faults choose their backends as they inject.
  record.backend = fault->Backend();
  record.details = fault->Details();
  if (!requested.empty() && requested != node) record.details["requested"] = requested;
  *index = run.AddFault(record);
  run.Emit("FAULT_INJECTED", step, record.kind + " on " + node + " via " + record.backend,
           record.start_ns);
  run.SetOutputs(step, {{"target", node}, {"kind", record.kind}, {"backend", record.backend}});
  if (!hold) return Status::Ok();  // stays until teardown heals it
  if (*hold > 0) ctx.cancel.WaitFor(*hold);
  // Heal now (also when cancelled: teardown would do it anyway, this is just sooner).
  Status healed = fault->Heal();
  if (!healed.ok()) return healed.WithContext("heal " + record.kind + " on " + node);
  const int64_t now = NowNs();
  if (nlohmann::json seen = fault->HealDetails(); !seen.is_null()) {
    run.AddFaultDetail(**index, "at_heal", std::move(seen));
  }
  run.EndFault(**index, now);
  run.Emit("FAULT_HEALED", step, record.kind + " on " + node, now);
  index->reset();  // healed: the undo action has nothing left to record
  return ctx.cancel.cancelled() ? Cancelled("fault " + step + " cut short") : Status::Ok();
}

namespace {

class FaultStep : public StepExecutor {
 public:
  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::FaultWith>(ctx.step.with);
    ASSIGN_OR_RETURN(platforms::Cluster * cluster, ctx.run.FindCluster(with.cluster));
    platforms::NodeControl* control = cluster->Control();
    if (control == nullptr) {
      return FailedPrecondition("this cluster's platform has no control over its nodes");
    }
    ASSIGN_OR_RETURN(std::string target_text, ctx.Interpolate(with.target));
    // Roles are resolved now, when the fault fires, not when the flow was written.
    ASSIGN_OR_RETURN(std::string node, control->ResolveTarget(target_text, ctx.run.run_number()));
    std::shared_ptr<faults::Fault> fault = Make(*control, node, with);  // shared with the undo
    return InjectAndHold(ctx, std::move(fault), node, target_text,
                         with.duration_ns ? with.duration_ns : DefaultHold());
  }

 protected:
  // How long the fault holds without `duration`; nullopt: until teardown.
  virtual std::optional<int64_t> DefaultHold() const { return std::nullopt; }
  virtual std::shared_ptr<faults::Fault> Make(platforms::NodeControl& control, const std::string& node,
                                              const spec::FaultWith& with) = 0;
};

class FaultKillStep : public FaultStep {
 public:
  std::string Kind() const override { return "fault.kill"; }

 protected:
  std::shared_ptr<faults::Fault> Make(platforms::NodeControl& control, const std::string& node,
                                      const spec::FaultWith& with) override {
    return faults::NewProcessFault(faults::ProcessAction::kKill, control, faults::SplitNodes(node),
                                   with.failback, control.Backend());
  }
};

// fault.stop, fault.pause, fault.restart: the other process faults (local platform: signals).
class ProcessFaultStep : public FaultStep {
 public:
  ProcessFaultStep(std::string kind, faults::ProcessAction action) : kind_(std::move(kind)), action_(action) {}
  std::string Kind() const override { return kind_; }

 protected:
  // A restart brings the node back at once unless `duration` says how long it stays down.
  std::optional<int64_t> DefaultHold() const override {
    return action_ == faults::ProcessAction::kRestart ? std::optional<int64_t>(0) : std::nullopt;
  }
  std::shared_ptr<faults::Fault> Make(platforms::NodeControl& control, const std::string& node,
                                      const spec::FaultWith& /*with*/) override {
    return faults::NewProcessFault(action_, control, faults::SplitNodes(node), true, control.Backend());
  }

 private:
  const std::string kind_;
  const faults::ProcessAction action_;
};

class FaultNetworkStep : public FaultStep {
 public:
  std::string Kind() const override { return "fault.network"; }

  // A cluster in a lab network takes the impairment spec on its links; otherwise the platform's
  // node delay (embedded: added round-trip time).
  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::FaultWith>(ctx.step.with);
    ASSIGN_OR_RETURN(platforms::Cluster * cluster, ctx.run.FindCluster(with.cluster));
    if (cluster->Lab() != nullptr || cluster->Proxies() != nullptr) return RunLabFault(ctx, *cluster);
    // A node's added round-trip time takes a plain delay and nothing else: a loss beside it
    // must not be dropped unseen.
    const bool plain_delay =
        with.delay_ns &&
        (with.impairment.empty() || nlohmann::json::parse(with.impairment).size() == 1);
    if (!with.from.empty() || !with.endpoint.empty() || !plain_delay) {
      // Platforms that impair inside their nodes (Kubernetes: the pods' sidecars) take the spec.
      Status s = RunNodeImpairment(ctx, *cluster);
      if (s.code() != StatusCode::kUnimplemented) return s;
      return FailedPrecondition(
          "fault.network with from/to, endpoint or impairments other than a plain delay needs a "
          "cluster in a lab network (platform local, network: lab), behind proxies "
          "(network: proxy) or on platform kubernetes");
    }
    return FaultStep::Run(ctx);
  }

 protected:
  std::shared_ptr<faults::Fault> Make(platforms::NodeControl& control, const std::string& node,
                                      const spec::FaultWith& with) override {
    return faults::NewNodeDelay(control, node, with.delay_ns.value_or(0),
                                control.Backend() + "-rtt");
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewFaultKillStep() { return std::make_unique<FaultKillStep>(); }
std::unique_ptr<StepExecutor> NewFaultNetworkStep() { return std::make_unique<FaultNetworkStep>(); }
std::unique_ptr<StepExecutor> NewFaultStopStep() {
  return std::make_unique<ProcessFaultStep>("fault.stop", faults::ProcessAction::kStop);
}
std::unique_ptr<StepExecutor> NewFaultPauseStep() {
  return std::make_unique<ProcessFaultStep>("fault.pause", faults::ProcessAction::kPause);
}
std::unique_ptr<StepExecutor> NewFaultRestartStep() {
  return std::make_unique<ProcessFaultStep>("fault.restart", faults::ProcessAction::kRestart);
}

}  // namespace drone::flow
