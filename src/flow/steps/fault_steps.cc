// kind: fault.kill and fault.network — disturb a node, hold, heal. Heal is registered as an undo
// action before the fault is injected, so a failed or interrupted run still heals it.
#include "core/clock.h"
#include "core/units.h"
#include "faults/network/node_delay.h"
#include "faults/process/node_kill.h"
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
    if (!with.duration_ns) return Status::Ok();  // stays until teardown heals it
    ctx.cancel.WaitFor(*with.duration_ns);
    // Heal now (also when cancelled: teardown would do it anyway, this is just sooner).
    Status healed = fault->Heal();
    if (!healed.ok()) return healed.WithContext("heal " + record.kind + " on " + node);
    run.EndFault(**index, NowNs());
    run.Emit("FAULT_HEALED", step, record.kind + " on " + node);
    index->reset();  // healed: the undo action has nothing left to record
    return ctx.cancel.cancelled() ? Cancelled("fault " + step + " cut short") : Status::Ok();
  }

 protected:
  virtual std::shared_ptr<faults::Fault> Make(platforms::NodeControl& control, const std::string& node,
                                              const spec::FaultWith& with) = 0;
};

class FaultKillStep : public FaultStep {
 public:
  std::string Kind() const override { return "fault.kill"; }

 protected:
  std::shared_ptr<faults::Fault> Make(platforms::NodeControl& control, const std::string& node,
                                      const spec::FaultWith& with) override {
    return faults::NewNodeKill(control, node, with.failback, control.Backend());
  }
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

}  // namespace drone::flow
