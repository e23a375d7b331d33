// The audit after a loss: were the lost messages lost by the broker, or kept but never delivered?
// A message counts as lost when the producer got its acknowledgement, the consumers caught up with
// what the broker holds, and it never arrived. Whether the broker still stores it (it failed to
// deliver it to the group) or not (it dropped it) are different bugs; reading the topic from its
// start, independently of any consumer group, tells them apart. Brokers whose queues delete what
// was acknowledged (RabbitMQ's queues, MQTT) cannot be read that way; their losses stay unaudited.
#pragma once

#include <cstdint>
#include <vector>

#include "drivers/driver.h"
#include "verify/delivery_ledger.h"
#include "workload/workload.h"

namespace drone::workload {

// How long the broker is given to list what it stores.
inline constexpr int64_t kStoredAuditTimeoutNs = 60'000'000'000;

// When report->lost > 0: reads every message the broker still stores for options.topic and sets
// report->lost_stored (see verify::CountLostStored) from the ones that are this run's and intact.
// When nothing was lost it reads nothing; when the broker cannot list its messages, or the read
// fails, lost_stored stays -1 and the reason is logged. `domains` as for verify::Classify.
void AuditLostMessages(drivers::Driver& driver, const drivers::Endpoint& endpoint,
                       const WorkloadOptions& options,
                       const std::vector<const verify::SendShard*>& sends,
                       const std::vector<const verify::ReceiveShard*>& receives,
                       const std::vector<verify::DomainInfo>& domains, verify::DeliveryReport* report,
                       int64_t timeout_ns = kStoredAuditTimeoutNs);

}  // namespace drone::workload
