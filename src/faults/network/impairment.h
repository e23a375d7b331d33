// Link impairments: what a network fault does to the packets of one directed link (src -> dst) or
// of everything an endpoint sends and receives — delay with jitter, loss (random or
// Gilbert-Elliott bursts), duplication, corruption, reordering and a rate limit — and the seeded
// per-packet model that decides, packet by packet, what happens to each one. Every backend
// (kernel netem/tbf, the NFQUEUE impairer, the TCP proxy) takes the same `Impairment`; the JSON
// form here is the one the flow format uses (docs/network-faults.md lists the fields).
//
// Thread-safety: `Impairment` is a value type. An `ImpairmentModel` is driven by one thread at a
// time; callers that change it while running (Update) serialise that with Decide themselves.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/status.h"

namespace drone::faults::network {

enum class DelayDistribution { kUniform, kNormal, kPareto };
const char* DelayDistributionName(DelayDistribution d);

// Added one-way delay. `jitter` is the half-width of the range for uniform, and the standard
// deviation for normal and pareto (netem's meaning). `correlation` (0..1) ties each packet's
// random draw to the previous one, as netem does.
struct DelaySpec {
  int64_t time_ns = 0;
  int64_t jitter_ns = 0;
  DelayDistribution distribution = DelayDistribution::kUniform;
  double correlation = 0;
  bool operator==(const DelaySpec&) const = default;
};

enum class LossModel { kRandom, kGilbertElliott };

// Random loss drops each packet with `probability` (correlated as netem does). Gilbert-Elliott is
// a two-state chain: good -> bad with `p`, bad -> good with `r`; a packet is lost with
// `bad_loss` (netem's 1-h) in the bad state and with `good_loss` (netem's 1-k) in the good one.
struct LossSpec {
  LossModel model = LossModel::kRandom;
  double probability = 0;
  double correlation = 0;
  double p = 0;
  double r = 1;
  double bad_loss = 1;
  double good_loss = 0;
  bool operator==(const LossSpec&) const = default;
};

// Duplicate or corrupt each packet with `probability`.
struct ChanceSpec {
  double probability = 0;
  double correlation = 0;
  bool operator==(const ChanceSpec&) const = default;
};

// netem's reordering: a packet goes out at once (ahead of the delayed ones) with `probability`,
// but only once `gap - 1` packets since the last such one were delayed; gap 1 means any packet.
// Needs a delay to reorder against.
struct ReorderSpec {
  double probability = 0;
  double correlation = 0;
  int gap = 1;
  bool operator==(const ReorderSpec&) const = default;
};

// A token bucket: `bits_per_s`, `burst_bytes` of tokens, and the longest a packet may wait for
// tokens before it is dropped (`limit_ns`, tbf's latency).
struct RateSpec {
  int64_t bits_per_s = 0;
  int64_t burst_bytes = 0;  // 0: DefaultBurstBytes(bits_per_s)
  int64_t limit_ns = 0;     // 0: kDefaultRateLimitNs
  bool operator==(const RateSpec&) const = default;
};

// The TCP proxy's slicer: each chunk of the stream is cut into pieces of about `size_bytes`
// (± `variation_bytes`), sent `delay_ns` apart. Stream-level; only the TCP proxy carries it.
struct SlicerSpec {
  int64_t size_bytes = 64;
  int64_t variation_bytes = 0;
  int64_t delay_ns = 0;
  bool operator==(const SlicerSpec&) const = default;
};

inline constexpr int64_t kDefaultRateLimitNs = 100'000'000;
// Enough for two full Ethernet frames or 4 ms at the rate, whichever is more: smaller bursts make
// tbf refuse the configuration and make the bucket stall on every frame.
int64_t DefaultBurstBytes(int64_t bits_per_s);

// Where the impairment applies: a directed link `from` -> `to`, or an endpoint (all of its
// traffic, both directions) when `to` is empty.
struct ImpairmentTarget {
  std::string from;
  std::string to;
  bool IsEndpoint() const { return to.empty(); }
  bool operator==(const ImpairmentTarget&) const = default;
};

struct Impairment {
  ImpairmentTarget target;
  std::optional<DelaySpec> delay;
  std::optional<LossSpec> loss;
  std::optional<ChanceSpec> duplicate;
  std::optional<ChanceSpec> corrupt;
  std::optional<ReorderSpec> reorder;
  std::optional<RateSpec> rate;
  // Stream-level faults of the TCP proxy: `reset` answers every connection with a TCP reset,
  // `blackhole` takes the bytes and forwards none, `slicer` cuts the stream into small pieces.
  bool reset = false;
  bool blackhole = false;
  std::optional<SlicerSpec> slicer;
  uint64_t seed = 1;
  bool operator==(const Impairment&) const = default;

  // Problems a user can fix: probabilities outside 0..1, reorder without delay, ...; the message
  // names the field.
  Status Validate() const;
  bool Empty() const {
    return !delay && !loss && !duplicate && !corrupt && !reorder && !rate && !reset && !blackhole &&
           !slicer;
  }
  // Whether only a TCP proxy can carry it (reset, blackhole, slicer).
  bool NeedsProxy() const { return reset || blackhole || slicer.has_value(); }

  // The JSON form (docs/network-faults.md). FromJson reports the first bad field by its path,
  // e.g. "delay.jitter: ...", and validates the result.
  static Result<Impairment> FromJson(const nlohmann::json& j);
  nlohmann::json ToJson() const;
};

// "10mbit", "512kbit", "1gbit", "800bit" (tc's decimal units) or "2MBps" style bytes per second
// ("kbps", "mbps", "gbps" are bytes as in tc). Returns bits per second.
Result<int64_t> ParseBandwidth(std::string_view text);
std::string FormatBandwidth(int64_t bits_per_s);
// Exact duration text ("1500us", "100ms"), so that ToJson -> FromJson is lossless.
std::string FormatExactDuration(int64_t ns);

// What happens to one packet.
struct PacketVerdict {
  bool drop = false;
  int copies = 1;  // 2 when duplicated
  bool corrupt = false;
  uint32_t corrupt_offset = 0;  // byte index, already reduced modulo the packet length
  uint8_t corrupt_mask = 0;     // non-zero XOR mask for that byte
  bool reordered = false;       // sent ahead of the delayed packets
  int64_t delay_ns = 0;         // hold time from arrival to release (delay + rate queueing)
};

// A small, fast generator with a fixed algorithm (xoshiro256**, seeded by splitmix64), so the same
// seed gives the same sequence on every platform and standard library.
class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed);
  uint64_t Next();
  double Uniform();  // [0, 1)
  double Normal();   // N(0, 1), Box-Muller
 private:
  std::array<uint64_t, 4> s_;
  std::optional<double> spare_normal_;
};

// The seeded per-packet decision model. Each impairment draws from its own random stream derived
// from the seed, so changing the delay does not change which packets are lost.
class ImpairmentModel {
 public:
  ImpairmentModel(const Impairment& spec, uint64_t seed);
  explicit ImpairmentModel(const Impairment& spec) : ImpairmentModel(spec, spec.seed) {}

  // Decides the fate of a packet of `bytes` bytes arriving at `arrival_ns` (any monotonic clock;
  // calls in arrival order).
  PacketVerdict Decide(int64_t arrival_ns, size_t bytes);

  // Changes the impairment while running. The random streams and the Gilbert-Elliott state carry
  // on, so a running drop pattern is not restarted.
  void Update(const Impairment& spec);
  const Impairment& spec() const { return spec_; }

 private:
  // netem's correlated uniform: each draw is a weighted mean of a fresh draw and the last one.
  struct Correlated {
    double last = 0;
    bool primed = false;
    double Draw(SeededRandom& rng, double rho);
  };

  int64_t DelayDraw();

  Impairment spec_;
  SeededRandom loss_rng_, dup_rng_, corrupt_rng_, delay_rng_, reorder_rng_;
  Correlated loss_c_, dup_c_, corrupt_c_, delay_c_, reorder_c_;
  bool ge_bad_ = false;
  int reorder_counter_ = 0;
  // Token bucket state (virtual time).
  double tokens_ = 0;
  int64_t bucket_ns_ = 0;
  int64_t last_departure_ns_ = 0;
  bool bucket_primed_ = false;
};

}  // namespace drone::faults::network
