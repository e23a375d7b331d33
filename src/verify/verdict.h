// The verdict of a workload: does its DeliveryReport keep the delivery guarantee it promised?
// Pure functions over value types; thread-safe.
//
// Rules, applied to the report of one workload:
//   - corrupt > 0 fails every guarantee: the broker handed out bytes that were not sent.
//   - at-most-once fails on duplicated.
//   - at-least-once fails on lost.
//   - exactly-once fails on lost, duplicated or phantom (a message reported as failed that was
//     delivered anyway: the producer's retry would duplicate it).
//   - ordered fails on lost or reordered; duplicates are allowed (ordered is at-least-once).
//   - If nothing failed but unseen > 0 (the drain timed out before the consumers caught up), the
//     verdict is unknown for every guarantee: an unread message may be missing, and may also be
//     a duplicate.
//   - Never failing: recovered and unknown (the producer was told "don't know"), failed (the
//     producer was told "no"), unacked_received, and unexpected (foreign data on the topic says
//     nothing about this run's messages).
// Reasons are given only for failures, or for the unknown verdict; a pass has none.
#pragma once

#include <string>
#include <vector>

#include "verify/delivery.h"
#include "verify/delivery_ledger.h"

namespace drone::verify {

enum class Verdict { kPass, kFail, kUnknown };

// "pass", "fail", "unknown": the spelling of the result contract.
const char* VerdictName(Verdict verdict);

struct Judgement {
  Verdict verdict = Verdict::kPass;
  // Human sentences, e.g. "3 acknowledged messages were lost (2 gap, 1 tail), e.g. p1/orders/3#42".
  std::vector<std::string> reasons;
};

Judgement Judge(const DeliveryReport& report, Guarantee guarantee);

}  // namespace drone::verify
