// kind: topic — creates a topic with partitions and replication on a cluster.
#include "flow/step_executor.h"

namespace drone::flow {
namespace {

class TopicStep : public StepExecutor {
 public:
  std::string Kind() const override { return "topic"; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::TopicWith>(ctx.step.with);
    ASSIGN_OR_RETURN(platforms::Cluster * cluster, ctx.run.FindCluster(with.cluster));
    drivers::TopicRequest request;
    ASSIGN_OR_RETURN(request.name, ctx.Interpolate(with.name));
    request.partitions = with.partitions;
    request.replication = with.replication;
    request.config = with.config;
    RETURN_IF_ERROR(cluster->CreateTopic(request).WithContext("topic " + request.name));
    ctx.run.SetOutputs(ctx.step.id, {{"name", request.name},
                                     {"partitions", request.partitions},
                                     {"replication", request.replication}});
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewTopicStep() { return std::make_unique<TopicStep>(); }

}  // namespace drone::flow
