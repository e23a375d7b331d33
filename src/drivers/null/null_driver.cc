#include "drivers/null/null_driver.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace drone::drivers {
namespace {

class NullAdmin : public Admin {
 public:
  explicit NullAdmin(int partitions) : partitions_(partitions) {}

  Status Ping(int64_t /*timeout_ns*/) override { return Status::Ok(); }

  Status CreateTopic(const TopicRequest& /*request*/, int64_t /*timeout_ns*/) override {
    return Status::Ok();
  }

  Result<TopicInfo> DescribeTopic(const std::string& name, int64_t /*timeout_ns*/) override {
    return TopicInfo{name, partitions_, 1};
  }

  // Nothing is ever stored, so every lane ends at 0 (a drain is caught up at once).
  Result<std::vector<int64_t>> EndOffsets(const std::string& /*topic*/,
                                          int64_t /*timeout_ns*/) override {
    return std::vector<int64_t>(static_cast<size_t>(partitions_), 0);
  }

 private:
  const int partitions_;
};

class NullProducer : public Producer {
 public:
  NullProducer(int partitions, DeliveryHandler& handler)
      : partitions_(partitions), handler_(handler) {}

  int Lanes() const override { return partitions_; }

  Status Send(int lane, std::string_view /*key*/, std::string_view /*payload*/,
              uint64_t token) override {
    pending_.push_back(Pending{token, lane});
    return Status::Ok();
  }

  void Poll(int /*timeout_ms*/) override {
    // Nothing arrives later than now, so there is never a reason to wait.
    ReportAll();
  }

  size_t Flush(int64_t /*timeout_ns*/) override {
    ReportAll();
    return 0;
  }

  size_t InFlight() const override { return pending_.size(); }

 private:
  struct Pending {
    uint64_t token;
    int32_t lane;
  };

  void ReportAll() {
    // Swapped out first so that a handler calling Send() appends to a fresh batch; the two
    // vectors keep their capacity, so steady state allocates nothing.
    std::swap(pending_, reporting_);
    for (const Pending& p : reporting_) {
      Delivery d;
      d.token = p.token;
      d.outcome = Outcome::kAck;
      d.lane = p.lane;
      d.offset = -1;  // nothing is stored, so there is no position to report
      handler_.OnDelivery(d);
    }
    reporting_.clear();
  }

  const int partitions_;
  DeliveryHandler& handler_;
  std::vector<Pending> pending_;
  std::vector<Pending> reporting_;
};

class NullConsumer : public Consumer {
 public:
  explicit NullConsumer(int partitions) : partitions_(partitions) {}

  Result<size_t> Poll(int timeout_ms, ReceiveHandler& /*handler*/) override {
    // Waits a little, as a real consumer with nothing to read does, so a consumer loop does not
    // spin a core; never longer than 1 ms, so stopping stays prompt.
    std::this_thread::sleep_for(std::chrono::microseconds(std::clamp(timeout_ms, 0, 1) * 1000));
    return size_t{0};
  }

  uint32_t Session() const override { return 0; }
  int AssignedLanes() const override { return partitions_; }
  void Close() override {}

 private:
  const int partitions_;
};

class NullDriver : public Driver {
 public:
  explicit NullDriver(int partitions) : partitions_(std::max(partitions, 1)) {}

  std::string Name() const override { return "null"; }

  Result<std::unique_ptr<Admin>> NewAdmin(const Endpoint& /*endpoint*/) override {
    return std::unique_ptr<Admin>(std::make_unique<NullAdmin>(partitions_));
  }

  Result<std::unique_ptr<Producer>> NewProducer(const Endpoint& /*endpoint*/,
                                                const ProducerOptions& /*options*/,
                                                DeliveryHandler& handler) override {
    return std::unique_ptr<Producer>(std::make_unique<NullProducer>(partitions_, handler));
  }

  Result<std::unique_ptr<Consumer>> NewConsumer(const Endpoint& /*endpoint*/,
                                                const ConsumerOptions& /*options*/) override {
    return std::unique_ptr<Consumer>(std::make_unique<NullConsumer>(partitions_));
  }

 private:
  const int partitions_;
};

}  // namespace

std::unique_ptr<Driver> NewNullDriver(int partitions) {
  return std::make_unique<NullDriver>(partitions);
}

}  // namespace drone::drivers
