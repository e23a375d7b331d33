#include "faults/network/node_delay.h"

#include "core/units.h"

namespace drone::faults {
namespace {

class NodeDelay : public Fault {
 public:
  NodeDelay(platforms::NodeControl& control, std::string node, int64_t delay_ns, std::string backend)
      : control_(control), node_(std::move(node)), delay_ns_(delay_ns), backend_(std::move(backend)) {}

  std::string Kind() const override { return "delay"; }
  std::string Target() const override { return node_; }
  std::string Backend() const override { return backend_; }
  nlohmann::json Details() const override {
    return {{"delay", FormatDuration(delay_ns_)}, {"delay_ms", static_cast<double>(delay_ns_) / 1e6}};
  }

  Status Inject() override {
    RETURN_IF_ERROR(control_.SetDelay(node_, delay_ns_));
    active_ = true;
    return Status::Ok();
  }

  Status Heal() override {
    if (!active_) return Status::Ok();
    RETURN_IF_ERROR(control_.SetDelay(node_, 0));
    active_ = false;
    return Status::Ok();
  }

 private:
  platforms::NodeControl& control_;
  const std::string node_;
  const int64_t delay_ns_;
  const std::string backend_;
  bool active_ = false;
};

}  // namespace

std::unique_ptr<Fault> NewNodeDelay(platforms::NodeControl& control, std::string node,
                                    int64_t delay_ns, std::string backend) {
  return std::make_unique<NodeDelay>(control, std::move(node), delay_ns, std::move(backend));
}

}  // namespace drone::faults
