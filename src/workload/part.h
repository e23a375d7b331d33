// WorkloadPart: one process's share of a distributed workload (worker/), as the coordinator
// merges it: the counters, latency histograms and per-second series of that process's producers
// and consumers, its ledger shards (one send shard and one receive shard, merged over its
// threads), and which lanes its consumers skipped offsets on. Domains are global (producer index
// x lane), so the shards of different processes never claim the same message's send.
//
// SerializePart()/DeserializePart() give it an exact, versioned binary form ("DWP1"; histograms
// and shards in their own formats inside). MergeParts() turns the parts into the WorkloadResult a
// single process would have produced: counts add, histograms merge, series points of the same
// second merge (their interval histograms too, so per-second percentiles are exact), and one
// Classify() runs over every part's shards with the coordinator's drain verdict per domain.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "verify/delivery_ledger.h"
#include "workload/workload.h"

namespace drone::workload {

// The interval histograms of one series point, serialised (metrics::Histogram::Serialize()).
struct PartSecond {
  std::string publish;
  std::string end_to_end;
};

struct WorkloadPart {
  // Counters, histograms, series points, timestamps; `delivery` is not used (the coordinator
  // classifies), nor are `consumed` and `drain_caught_up`.
  WorkloadResult result;
  verify::SendShard sends;
  verify::ReceiveShard receives;
  std::vector<uint64_t> skipped_per_lane;  // offsets this part's consumers jumped over
  std::vector<PartSecond> seconds;         // one per result.series point
  bool had_consumers = false;
};

std::string SerializePart(const WorkloadPart& part);
Result<WorkloadPart> DeserializePart(std::string_view bytes);

// One series point from the same second of several parts: counters add, t_s is the latest,
// percentiles come from the merged interval histograms. `lag` is left to the caller (it is
// cumulative: acked - received over every part so far). Empty `points`: a zero point.
SeriesPoint MergeSecond(const std::vector<const SeriesPoint*>& points,
                        const std::vector<const PartSecond*>& seconds);

// Merges the parts of one workload. `domains` names every global domain and says whether the
// coordinator's drain saw it caught up; domains on lanes where any part skipped offsets are
// marked not caught up here. `consumed`: the workload had consumers (a delivery verdict applies).
WorkloadResult MergeParts(const std::vector<const WorkloadPart*>& parts,
                          std::vector<verify::DomainInfo> domains, bool consumed);

}  // namespace drone::workload
