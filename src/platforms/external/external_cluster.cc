#include "platforms/external/external_cluster.h"

#include <mutex>

#include "core/clock.h"
#include "drivers/builtin_drivers.h"

namespace drone::platforms {
namespace {

class ExternalCluster : public Cluster {
 public:
  ExternalCluster(std::string broker, std::string bootstrap, std::unique_ptr<drivers::Admin> admin)
      : broker_(std::move(broker)), bootstrap_(std::move(bootstrap)), admin_(std::move(admin)) {}

  std::string Broker() const override { return broker_; }
  drivers::Endpoint Endpoint() const override { return drivers::Endpoint{bootstrap_, {}}; }

  std::vector<NodeInfo> Nodes() const override {
    std::vector<NodeInfo> nodes;
    size_t start = 0;
    int i = 0;
    while (start < bootstrap_.size()) {
      size_t end = bootstrap_.find(',', start);
      if (end == std::string::npos) end = bootstrap_.size();
      ++i;
      nodes.push_back(NodeInfo{"node-" + std::to_string(i), i, bootstrap_.substr(start, end - start), true});
      start = end + 1;
    }
    return nodes;
  }

  Status CreateTopic(const drivers::TopicRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    return admin_->CreateTopic(request, 30 * kNsPerSec);
  }

  Status Stop() override { return Status::Ok(); }

 private:
  const std::string broker_;
  const std::string bootstrap_;
  std::mutex mu_;
  std::unique_ptr<drivers::Admin> admin_;  // guarded by mu_
};

class ExternalPlatform : public Platform {
 public:
  std::string Name() const override { return "external"; }

  Status Validate(const ClusterRequest& request) const override {
    if (request.bootstrap.empty()) {
      return InvalidArgument("platform external needs `bootstrap` (host:port[,host:port...])");
    }
    if (!drivers::DriverRegistry().Contains(request.broker)) {
      return InvalidArgument("no driver for broker '" + request.broker + "'");
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Cluster>> CreateCluster(const ClusterRequest& request) override {
    RETURN_IF_ERROR(Validate(request));
    ASSIGN_OR_RETURN(auto driver, drivers::DriverRegistry().Create(request.broker));
    ASSIGN_OR_RETURN(auto admin, driver->NewAdmin(drivers::Endpoint{request.bootstrap, {}}));
    // An unreachable address is bad input, found before anything else starts.
    Status reachable = admin->Ping(10 * kNsPerSec);
    if (!reachable.ok()) {
      return InvalidArgument("cannot reach " + request.broker + " at " + request.bootstrap +
                             " within 10s (" + reachable.message() +
                             "); check the address and that the cluster is up");
    }
    return std::unique_ptr<Cluster>(
        new ExternalCluster(request.broker, request.bootstrap, std::move(admin)));
  }
};

}  // namespace

std::unique_ptr<Platform> NewExternalPlatform() { return std::make_unique<ExternalPlatform>(); }

}  // namespace drone::platforms
