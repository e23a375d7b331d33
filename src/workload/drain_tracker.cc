#include "workload/drain_tracker.h"

#include <algorithm>

#include "core/clock.h"
#include "core/log.h"

namespace drone::workload {

void DrainProgress::Merge(const DrainProgress& other) {
  const auto max_into = [](std::vector<int64_t>& mine, const std::vector<int64_t>& theirs) {
    if (theirs.size() > mine.size()) mine.resize(theirs.size(), -1);
    for (size_t i = 0; i < theirs.size(); ++i) mine[i] = std::max(mine[i], theirs[i]);
  };
  max_into(next_offset, other.next_offset);
  max_into(max_acked_seq, other.max_acked_seq);
  max_into(max_received_seq, other.max_received_seq);
  received += other.received;
}

DrainTracker::DrainTracker(drivers::Driver& driver, const drivers::Endpoint& endpoint,
                           std::string name, std::string topic, std::string group, int lanes,
                           uint32_t domains)
    : name_(std::move(name)),
      topic_(std::move(topic)),
      group_(std::move(group)),
      lanes_(lanes),
      domains_(domains),
      lane_caught_up_(static_cast<size_t>(lanes), false),
      domain_caught_up_(domains, false) {
  Result<std::unique_ptr<drivers::Admin>> created = driver.NewAdmin(endpoint);
  if (!created.ok()) {
    LogWarn("workload " + name_ + ": no admin client (" + created.status().ToString() +
            "); draining until the timeout");
    return;
  }
  admin_ = std::move(*created);
  ends_ = admin_->EndOffsets(topic_, 10 * kNsPerSec);
  if (!ends_.ok() && ends_.status().code() == StatusCode::kUnimplemented) {
    Result<int64_t> backlog = admin_->Backlog(topic_, group_, 10 * kNsPerSec);
    mode_ = !backlog.ok() && backlog.status().code() == StatusCode::kUnimplemented ? Mode::kSequences
                                                                                 : Mode::kBacklog;
  } else if (!ends_.ok()) {
    LogWarn("workload " + name_ + ": cannot read end offsets (" + ends_.status().ToString() +
            "); draining until the timeout");
  }
}

DrainTracker::~DrainTracker() = default;

int64_t DrainTracker::ProbeIntervalNs() const {
  return (mode_ == Mode::kBacklog ? 50 : 20) * kNsPerMs;
}

bool DrainTracker::CaughtUp(const DrainProgress& progress) {
  const auto at = [](const std::vector<int64_t>& v, size_t i) { return i < v.size() ? v[i] : -1; };
  bool all = true;
  switch (mode_) {
    case Mode::kEndOffsets:
      all = ends_.ok();
      for (int l = 0; l < lanes_; ++l) {
        if (ends_.ok()) {
          const int64_t end = l < static_cast<int>(ends_->size()) ? (*ends_)[l] : 0;
          lane_caught_up_[l] = end <= 0 || at(progress.next_offset, l) >= end;
        }
        all = all && lane_caught_up_[l];
      }
      break;
    case Mode::kBacklog: {
      Result<int64_t> backlog = admin_->Backlog(topic_, group_, 5 * kNsPerSec);
      if (!backlog.ok() && backlog.status().ToString() != backlog_error_.ToString()) {
        backlog_error_ = backlog.status();
        LogWarn("workload " + name_ + ": cannot read the backlog (" + backlog_error_.ToString() +
                "); retrying until the drain timeout");
      }
      // A backlog counts what the broker has not handed out yet (RabbitMQ: ready messages);
      // deliveries already on their way to a consumer are not in it. So: caught up once it is
      // 0 and the consumers received nothing more over the last interval.
      all = backlog.ok() && *backlog == 0 && progress.received == backlog_received_;
      backlog_received_ = progress.received;
      std::fill(lane_caught_up_.begin(), lane_caught_up_.end(), all);
      break;
    }
    case Mode::kSequences:
      for (uint32_t d = 0; d < domains_; ++d) {
        const int64_t acked = at(progress.max_acked_seq, d);
        domain_caught_up_[d] = acked < 0 || at(progress.max_received_seq, d) >= acked;
        all = all && domain_caught_up_[d];
      }
      break;
  }
  return all;
}

std::vector<bool> DrainTracker::DomainsCaughtUp() const {
  std::vector<bool> out(domains_, false);
  for (uint32_t d = 0; d < domains_; ++d) {
    out[d] = mode_ == Mode::kSequences ? static_cast<bool>(domain_caught_up_[d])
                                       : lanes_ > 0 && static_cast<bool>(lane_caught_up_[d % lanes_]);
  }
  return out;
}

}  // namespace drone::workload
