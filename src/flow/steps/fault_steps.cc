// kind: fault.kill, fault.stop, fault.pause, fault.restart and fault.network — disturb a node (or
// several: target `minority`), hold, heal. Heal is registered as an undo
// action before the fault is injected, so a failed or interrupted run still heals it.
#include "core/clock.h"
#include "core/units.h"
#include "faults/network/node_delay.h"
#include "faults/process/process_fault.h"
#include "flow/step_executor.h"

namespace drone::flow {
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

    faults::FaultRecord record;
    record.step = ctx.step.id;
    record.kind = fault->Kind();
    record.target = node;
    record.backend = fault->Backend();
    record.details = fault->Details();
    if (target_text != node) record.details["requested"] = target_text;

    RunContext& run = ctx.run;
    auto index = std::make_shared<std::optional<size_t>>();
    const std::string step = ctx.step.id;
    run.PushUndo("heal " + record.kind + " on " + node, [&run, fault, index, step, node] {
      Status s = fault->Heal();
      if (s.ok() && index->has_value()) {
        int64_t now = NowNs();
        run.EndFault(**index, now);
        run.Emit("FAULT_HEALED", step, fault->Kind() + " on " + node);
      }
      return s;
    });
    RETURN_IF_ERROR(fault->Inject());
    record.start_ns = NowNs();
    *index = run.AddFault(record);
    run.Emit("FAULT_INJECTED", step, record.kind + " on " + node + " via " + record.backend);
    run.SetOutputs(step, {{"target", node}, {"kind", record.kind}});
    const std::optional<int64_t> hold = with.duration_ns ? with.duration_ns : DefaultHold();
    if (!hold) return Status::Ok();  // stays until teardown heals it
    if (*hold > 0) ctx.cancel.WaitFor(*hold);
    // Heal now (also when cancelled: teardown would do it anyway, this is just sooner).
    Status healed = fault->Heal();
    if (!healed.ok()) return healed.WithContext("heal " + record.kind + " on " + node);
    run.EndFault(**index, NowNs());
    run.Emit("FAULT_HEALED", step, record.kind + " on " + node);
    index->reset();  // healed: the undo action has nothing left to record
    return ctx.cancel.cancelled() ? Cancelled("fault " + step + " cut short") : Status::Ok();
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
