#include "verify/verdict.h"

#include <cstdint>

namespace drone::verify {
namespace {

// "1 message" / "3 messages".
std::string Count(uint64_t n, const char* singular, const char* plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

// ", e.g. a, b, c" from the report's examples of `category`; empty if it has none.
std::string ExamplesOf(const DeliveryReport& report, const std::string& category) {
  constexpr size_t kMaxInSentence = 3;
  auto it = report.examples.find(category);
  if (it == report.examples.end() || it->second.empty()) return "";
  std::string text = ", e.g. ";
  for (size_t i = 0; i < it->second.size() && i < kMaxInSentence; ++i) {
    if (i > 0) text += ", ";
    text += it->second[i];
  }
  return text;
}

// "; the broker still stores 2 of them, never delivered" once the broker was read after the
// loss (see workload/stored_audit.h); empty if it was not.
std::string StoredOf(const DeliveryReport& report) {
  if (report.lost_stored < 0) return "";
  if (report.lost_stored == 0) return "; none is stored by the broker any more";
  return "; the broker still stores " + std::to_string(report.lost_stored) +
         " of them, never delivered";
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "?";
}

Judgement Judge(const DeliveryReport& report, Guarantee guarantee) {
  const bool forbids_loss = guarantee != Guarantee::kAtMostOnce;
  const bool forbids_duplicates =
      guarantee == Guarantee::kAtMostOnce || guarantee == Guarantee::kExactlyOnce;
  const bool forbids_phantoms = guarantee == Guarantee::kExactlyOnce;
  const bool forbids_reordering = guarantee == Guarantee::kOrdered;

  Judgement judgement;
  std::vector<std::string>& reasons = judgement.reasons;
  if (report.corrupt > 0) {
    reasons.push_back(Count(report.corrupt, "received copy", "received copies") +
                      " failed the payload checksum" + ExamplesOf(report, "corrupt"));
  }
  if (forbids_loss && report.lost > 0) {
    reasons.push_back(Count(report.lost, "acknowledged message was", "acknowledged messages were") +
                      " lost (" + std::to_string(report.lost_gap) + " gap, " +
                      std::to_string(report.lost_tail) + " tail" + StoredOf(report) + ")" +
                      ExamplesOf(report, "lost"));
  }
  if (forbids_duplicates && report.duplicated > 0) {
    reasons.push_back(Count(report.duplicated, "message was", "messages were") +
                      " delivered more than once (" +
                      Count(report.duplicate_copies, "extra copy", "extra copies") + ")" +
                      ExamplesOf(report, "duplicated"));
  }
  if (forbids_phantoms && report.phantom > 0) {
    reasons.push_back(Count(report.phantom, "message was", "messages were") +
                      " delivered although the broker reported the send as failed" +
                      ExamplesOf(report, "phantom"));
  }
  if (forbids_reordering && report.reordered > 0) {
    reasons.push_back(Count(report.reordered, "message", "messages") +
                      " arrived after a later message of the same domain in the same consumer "
                      "session" +
                      ExamplesOf(report, "reordered"));
  }
  if (!reasons.empty()) {
    judgement.verdict = Verdict::kFail;
  } else if (report.unseen > 0) {
    judgement.verdict = Verdict::kUnknown;
    reasons.push_back(
        Count(report.unseen, "acknowledged message was", "acknowledged messages were") +
        " not read before the drain timed out, so " + GuaranteeName(guarantee) +
        " could not be confirmed" + ExamplesOf(report, "unseen"));
  }
  return judgement;
}

}  // namespace drone::verify
