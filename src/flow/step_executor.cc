#include "flow/step_executor.h"

#include <mutex>

#include "flow/steps/fault_hold.h"
#include "spec/expression.h"

namespace drone::flow {

std::unique_ptr<StepExecutor> NewClusterStep();
std::unique_ptr<StepExecutor> NewTopicStep();
std::unique_ptr<StepExecutor> NewWorkloadStep();
std::unique_ptr<StepExecutor> NewFaultKillStep();
std::unique_ptr<StepExecutor> NewFaultNetworkStep();
std::unique_ptr<StepExecutor> NewFaultStopStep();
std::unique_ptr<StepExecutor> NewFaultPauseStep();
std::unique_ptr<StepExecutor> NewFaultRestartStep();
std::unique_ptr<StepExecutor> NewCheckStep();
std::unique_ptr<StepExecutor> NewSleepStep();
std::unique_ptr<StepExecutor> NewExecStep();
std::unique_ptr<StepExecutor> NewWaitStep();
std::unique_ptr<StepExecutor> NewHttpStep();
std::unique_ptr<StepExecutor> NewCollectStep();
std::unique_ptr<StepExecutor> NewFlowStep();

Result<std::string> StepContext::Interpolate(const std::string& text) const {
  if (text.find("${{") == std::string::npos) return text;
  return spec::Interpolate(text, run.ExpressionContext());
}

void RegisterBuiltinStepKinds(Registry<StepExecutor>& registry) {
  registry.Register("cluster", "start a broker cluster on a platform", [] { return NewClusterStep(); });
  registry.Register("topic", "create a topic on a cluster", [] { return NewTopicStep(); });
  registry.Register("workload", "producers and consumers with rate, sizes, keys, durability",
                    [] { return NewWorkloadStep(); });
  registry.Register("fault.kill", "take a node down (and bring it back after `duration`)",
                    [] { return NewFaultKillStep(); });
  registry.Register("fault.network", "impair a node's links (embedded: added round-trip time)",
                    [] { return NewFaultNetworkStep(); });
  registry.Register("fault.stop", "stop a node gracefully (local: SIGTERM), start it after `duration`",
                    [] { return NewFaultStopStep(); });
  registry.Register("fault.pause", "freeze a node (local: SIGSTOP), thaw it after `duration` (SIGCONT)",
                    [] { return NewFaultPauseStep(); });
  registry.Register("fault.restart", "stop a node gracefully and start it again (after `duration`)",
                    [] { return NewFaultRestartStep(); });
  registry.Register("fault.partition", "cut hosts of a lab network off from each other",
                    [] { return NewFaultPartitionStep(); });
  registry.Register("check", "assert thresholds on a workload's results",
                    [] { return NewCheckStep(); });
  registry.Register("sleep", "wait for a duration", [] { return NewSleepStep(); });
  registry.Register("exec", "run a program (argv, no shell) and capture its output",
                    [] { return NewExecStep(); });
  registry.Register("wait", "wait until conditions on workload totals or step outputs hold",
                    [] { return NewWaitStep(); });
  registry.Register("http", "probe a URL: status and body criteria, retried until a deadline",
                    [] { return NewHttpStep(); });
  registry.Register("collect", "copy logs and artifacts into the run directory",
                    [] { return NewCollectStep(); });
  registry.Register("flow", "run a sub-flow file as one step", [] { return NewFlowStep(); });
}

Registry<StepExecutor>& StepKindRegistry() {
  static Registry<StepExecutor> registry("step kind");
  static std::once_flag once;
  std::call_once(once, [] { RegisterBuiltinStepKinds(registry); });
  return registry;
}

}  // namespace drone::flow
