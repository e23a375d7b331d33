#include "workload/stored_audit.h"

#include <string>

#include "core/log.h"
#include "workload/envelope.h"

namespace drone::workload {

void AuditLostMessages(drivers::Driver& driver, const drivers::Endpoint& endpoint,
                       const WorkloadOptions& options,
                       const std::vector<const verify::SendShard*>& sends,
                       const std::vector<const verify::ReceiveShard*>& receives,
                       const std::vector<verify::DomainInfo>& domains, verify::DeliveryReport* report,
                       int64_t timeout_ns) {
  if (report->lost == 0) return;
  const std::string what = "workload " + options.name + ": " + std::to_string(report->lost) +
                           " acknowledged messages lost";
  Result<std::unique_ptr<drivers::Admin>> admin = driver.NewAdmin(endpoint);
  if (!admin.ok()) {
    LogWarn(what + "; cannot ask the broker which it still stores (" + admin.status().ToString() + ")");
    return;
  }
  LogInfo(what + "; reading topic " + options.topic + " from its start to see which the broker still stores");
  verify::ReceiveShard stored;
  uint64_t read = 0;
  Envelope env;
  Status s = (*admin)->ReadStored(options.topic, timeout_ns, [&](std::string_view payload) {
    ++read;
    if (DecodeEnvelope(payload, &env) != DecodeResult::kOk) return;  // foreign or corrupt
    if (env.run_id != options.run_id || env.domain >= domains.size()) return;
    stored.Record(env.domain, env.seq, 0);
  });
  if (s.code() == StatusCode::kUnimplemented) {
    LogInfo("workload " + options.name + ": " + s.message() + "; the losses are not audited");
    return;
  }
  if (!s.ok()) {
    LogWarn("workload " + options.name + ": reading what the broker stores failed after " +
            std::to_string(read) + " messages (" + s.ToString() + "); the losses are not audited");
    return;
  }
  verify::CountLostStored(sends, receives, domains, stored, report);
  LogInfo("workload " + options.name + ": the broker stores " + std::to_string(report->lost_stored) + " of the " +
          std::to_string(report->lost) + " lost messages (never delivered to the group); " +
          std::to_string(static_cast<int64_t>(report->lost) - report->lost_stored) + " are gone from it (" +
          std::to_string(read) + " messages read)");
  if (report->lost_stored > 0 && !options.group.empty()) {
    // Undelivered, yet the drain saw the group caught up: either the broker's count was wrong
    // then, or it still is.
    Result<int64_t> backlog = (*admin)->Backlog(options.topic, options.group, 10'000'000'000);
    if (backlog.ok()) {
      LogInfo("workload " + options.name + ": the broker now counts " + std::to_string(*backlog) +
              " messages not yet delivered or acknowledged for group " + options.group);
    }
  }
}

}  // namespace drone::workload
