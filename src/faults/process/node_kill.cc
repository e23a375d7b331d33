#include "faults/process/node_kill.h"

namespace drone::faults {
namespace {

class NodeKill : public Fault {
 public:
  NodeKill(platforms::NodeControl& control, std::string node, bool failback, std::string backend)
      : control_(control), node_(std::move(node)), failback_(failback), backend_(std::move(backend)) {}

  std::string Kind() const override { return "kill"; }
  std::string Target() const override { return node_; }
  std::string Backend() const override { return backend_; }
  nlohmann::json Details() const override { return {{"failback", failback_}}; }

  Status Inject() override {
    RETURN_IF_ERROR(control_.Kill(node_));
    active_ = true;
    return Status::Ok();
  }

  Status Heal() override {
    if (!active_) return Status::Ok();
    RETURN_IF_ERROR(control_.Start(node_, failback_));
    active_ = false;
    return Status::Ok();
  }

 private:
  platforms::NodeControl& control_;
  const std::string node_;
  const bool failback_;
  const std::string backend_;
  bool active_ = false;
};

}  // namespace

std::unique_ptr<Fault> NewNodeKill(platforms::NodeControl& control, std::string node,
                                   bool failback, std::string backend) {
  return std::make_unique<NodeKill>(control, std::move(node), failback, std::move(backend));
}

}  // namespace drone::faults
