#include "faults/network/impairment.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "core/units.h"

namespace drone::faults::network {
namespace {

using nlohmann::json;

Status FieldError(const std::string& path, const std::string& what) {
  return InvalidArgument(path + ": " + what);
}

// Rejects keys the format does not have, naming the closest known one.
Status CheckKeys(const json& j, const std::string& path, std::initializer_list<const char*> keys) {
  if (!j.is_object()) return FieldError(path.empty() ? "impairment" : path, "expected an object");
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* k : keys) known = known || key == k;
    if (!known) {
      std::string list;
      for (const char* k : keys) list += std::string(list.empty() ? "" : ", ") + k;
      return FieldError(path.empty() ? key : path + "." + key,
                        "unknown field; the fields here are " + list);
    }
  }
  return Status::Ok();
}

std::string Join(const std::string& path, const char* key) {
  return path.empty() ? key : path + "." + key;
}

// A probability is a number in 0..1 or a percentage string "5%".
Result<double> GetProbability(const json& j, const std::string& path) {
  double v = 0;
  if (j.is_number()) {
    v = j.get<double>();
  } else if (j.is_string() && !j.get<std::string>().empty() && j.get<std::string>().back() == '%') {
    std::string s = j.get<std::string>();
    s.pop_back();
    char* end = nullptr;
    v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) {
      return FieldError(path, "'" + j.get<std::string>() + "' is not a percentage like \"5%\"");
    }
    v /= 100.0;
  } else {
    return FieldError(path,
                      "expected a probability: a number from 0 to 1 or a percentage like \"5%\"");
  }
  if (!(v >= 0 && v <= 1)) return FieldError(path, "must be between 0 and 1 (0% and 100%)");
  return v;
}

Result<int64_t> GetDuration(const json& j, const std::string& path) {
  if (!j.is_string()) return FieldError(path, "expected a duration with a unit, e.g. \"10ms\"");
  auto d = ParseDuration(j.get<std::string>());
  if (!d.ok()) return FieldError(path, d.status().message());
  return *d;
}

Status ReadChance(const json& j, const std::string& path, double* probability,
                  double* correlation) {
  if (j.is_number() || j.is_string()) {  // shorthand: "duplicate": "1%"
    ASSIGN_OR_RETURN(*probability, GetProbability(j, path));
    return Status::Ok();
  }
  RETURN_IF_ERROR(CheckKeys(j, path, {"probability", "correlation"}));
  if (!j.contains("probability")) return FieldError(Join(path, "probability"), "is required");
  ASSIGN_OR_RETURN(*probability, GetProbability(j["probability"], Join(path, "probability")));
  if (j.contains("correlation")) {
    ASSIGN_OR_RETURN(*correlation, GetProbability(j["correlation"], Join(path, "correlation")));
  }
  return Status::Ok();
}

Status ReadDelay(const json& j, DelaySpec* d) {
  if (j.is_string()) {  // shorthand: "delay": "100ms"
    ASSIGN_OR_RETURN(d->time_ns, GetDuration(j, "delay"));
    return Status::Ok();
  }
  RETURN_IF_ERROR(CheckKeys(j, "delay", {"time", "jitter", "distribution", "correlation"}));
  if (!j.contains("time")) return FieldError("delay.time", "is required, e.g. \"100ms\"");
  ASSIGN_OR_RETURN(d->time_ns, GetDuration(j["time"], "delay.time"));
  if (j.contains("jitter")) {
    ASSIGN_OR_RETURN(d->jitter_ns, GetDuration(j["jitter"], "delay.jitter"));
  }
  if (j.contains("correlation")) {
    ASSIGN_OR_RETURN(d->correlation, GetProbability(j["correlation"], "delay.correlation"));
  }
  if (j.contains("distribution")) {
    const json& v = j["distribution"];
    std::string s = v.is_string() ? v.get<std::string>() : "";
    if (s == "uniform")
      d->distribution = DelayDistribution::kUniform;
    else if (s == "normal")
      d->distribution = DelayDistribution::kNormal;
    else if (s == "pareto")
      d->distribution = DelayDistribution::kPareto;
    else
      return FieldError("delay.distribution", "must be uniform, normal or pareto");
  }
  return Status::Ok();
}

Status ReadLoss(const json& j, LossSpec* l) {
  if (j.is_number() || j.is_string()) {
    ASSIGN_OR_RETURN(l->probability, GetProbability(j, "loss"));
    return Status::Ok();
  }
  RETURN_IF_ERROR(CheckKeys(
      j, "loss", {"model", "probability", "correlation", "p", "r", "bad_loss", "good_loss"}));
  std::string model = "random";
  if (j.contains("model")) {
    model = j["model"].is_string() ? j["model"].get<std::string>() : "";
    if (model != "random" && model != "gilbert-elliott") {
      return FieldError("loss.model", "must be random or gilbert-elliott");
    }
  }
  if (model == "random") {
    for (const char* k : {"p", "r", "bad_loss", "good_loss"}) {
      if (j.contains(k)) {
        return FieldError(std::string("loss.") + k,
                          "belongs to model gilbert-elliott; add \"model\": \"gilbert-elliott\"");
      }
    }
    json chance = j;
    chance.erase("model");
    return ReadChance(chance, "loss", &l->probability, &l->correlation);
  }
  l->model = LossModel::kGilbertElliott;
  for (const char* k : {"probability", "correlation"}) {
    if (j.contains(k)) {
      return FieldError(std::string("loss.") + k,
                        "belongs to model random; gilbert-elliott takes p, r, bad_loss, good_loss");
    }
  }
  if (!j.contains("p"))
    return FieldError("loss.p",
                      "is required: the chance of going from the good state to the bad one");
  ASSIGN_OR_RETURN(l->p, GetProbability(j["p"], "loss.p"));
  if (j.contains("r")) {
    ASSIGN_OR_RETURN(l->r, GetProbability(j["r"], "loss.r"));
  }
  if (j.contains("bad_loss")) {
    ASSIGN_OR_RETURN(l->bad_loss, GetProbability(j["bad_loss"], "loss.bad_loss"));
  }
  if (j.contains("good_loss")) {
    ASSIGN_OR_RETURN(l->good_loss, GetProbability(j["good_loss"], "loss.good_loss"));
  }
  return Status::Ok();
}

Status ReadReorder(const json& j, ReorderSpec* r) {
  if (j.is_number() || j.is_string()) {
    ASSIGN_OR_RETURN(r->probability, GetProbability(j, "reorder"));
    return Status::Ok();
  }
  RETURN_IF_ERROR(CheckKeys(j, "reorder", {"probability", "correlation", "gap"}));
  json chance = j;
  chance.erase("gap");
  RETURN_IF_ERROR(ReadChance(chance, "reorder", &r->probability, &r->correlation));
  if (j.contains("gap")) {
    if (!j["gap"].is_number_integer() || j["gap"].get<int64_t>() < 1 ||
        j["gap"].get<int64_t>() > 1'000'000) {
      return FieldError("reorder.gap", "must be a whole number from 1 to 1000000");
    }
    r->gap = j["gap"].get<int>();
  }
  return Status::Ok();
}

Status ReadRate(const json& j, RateSpec* r) {
  json obj = j.is_string() ? json{{"bandwidth", j}} : j;  // shorthand: "rate": "10mbit"
  RETURN_IF_ERROR(CheckKeys(obj, "rate", {"bandwidth", "burst", "limit"}));
  if (!obj.contains("bandwidth"))
    return FieldError("rate.bandwidth", "is required, e.g. \"10mbit\"");
  if (!obj["bandwidth"].is_string())
    return FieldError("rate.bandwidth", "expected a bandwidth like \"10mbit\"");
  auto bw = ParseBandwidth(obj["bandwidth"].get<std::string>());
  if (!bw.ok()) return FieldError("rate.bandwidth", bw.status().message());
  r->bits_per_s = *bw;
  if (obj.contains("burst")) {
    if (!obj["burst"].is_string() && !obj["burst"].is_number_integer()) {
      return FieldError("rate.burst", "expected a size like \"32KiB\"");
    }
    auto b = ParseSize(obj["burst"].is_string() ? obj["burst"].get<std::string>()
                                                : std::to_string(obj["burst"].get<int64_t>()));
    if (!b.ok()) return FieldError("rate.burst", b.status().message());
    r->burst_bytes = *b;
  }
  if (obj.contains("limit")) {
    ASSIGN_OR_RETURN(r->limit_ns, GetDuration(obj["limit"], "rate.limit"));
  }
  return Status::Ok();
}

json ChanceJson(double probability, double correlation) {
  json j = {{"probability", probability}};
  if (correlation != 0) j["correlation"] = correlation;
  return j;
}

uint64_t SplitMix(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Stream `n` of a seed: a distinct, reproducible generator per impairment kind.
uint64_t StreamSeed(uint64_t seed, uint64_t n) {
  uint64_t x = seed ^ (0xd1b54a32d192ed03ULL * (n + 1));
  return SplitMix(&x);
}

}  // namespace

const char* DelayDistributionName(DelayDistribution d) {
  switch (d) {
    case DelayDistribution::kUniform:
      return "uniform";
    case DelayDistribution::kNormal:
      return "normal";
    case DelayDistribution::kPareto:
      return "pareto";
  }
  return "uniform";
}

int64_t DefaultBurstBytes(int64_t bits_per_s) {
  return std::max<int64_t>(2 * 1514, bits_per_s / 8 / 250);
}

Result<int64_t> ParseBandwidth(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  std::string number(text.substr(0, i));
  std::string unit;
  for (char c : text.substr(i)) {
    if (c != ' ') unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  char* end = nullptr;
  double v = number.empty() ? -1 : std::strtod(number.c_str(), &end);
  double scale = 0;
  if (unit == "bit")
    scale = 1;
  else if (unit == "kbit")
    scale = 1e3;
  else if (unit == "mbit")
    scale = 1e6;
  else if (unit == "gbit")
    scale = 1e9;
  else if (unit == "bps")
    scale = 8;
  else if (unit == "kbps")
    scale = 8e3;
  else if (unit == "mbps")
    scale = 8e6;
  else if (unit == "gbps")
    scale = 8e9;
  if (number.empty() || end != number.c_str() + number.size() || scale == 0 || !(v > 0)) {
    return InvalidArgument("'" + std::string(text) +
                           "' is not a bandwidth; write a positive number and one of bit, kbit, "
                           "mbit, gbit (bits per second) or bps, kbps, mbps, gbps (bytes per "
                           "second), e.g. 10mbit");
  }
  double bits = v * scale;
  if (bits < 8 || bits > 1e12) {
    return InvalidArgument("bandwidth '" + std::string(text) + "' is outside 8bit .. 1000gbit");
  }
  return static_cast<int64_t>(std::llround(bits));
}

std::string FormatBandwidth(int64_t bits_per_s) {
  if (bits_per_s % 1'000'000'000 == 0) return std::to_string(bits_per_s / 1'000'000'000) + "gbit";
  if (bits_per_s % 1'000'000 == 0) return std::to_string(bits_per_s / 1'000'000) + "mbit";
  if (bits_per_s % 1'000 == 0) return std::to_string(bits_per_s / 1'000) + "kbit";
  return std::to_string(bits_per_s) + "bit";
}

std::string FormatExactDuration(int64_t ns) {
  if (ns != 0 && ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  if (ns % 1'000 == 0) return std::to_string(ns / 1'000) + "us";
  return std::to_string(ns) + "ns";
}

Status Impairment::Validate() const {
  if (target.from.empty()) {
    return FieldError("from", "is required: the endpoint (or the link's source) to impair");
  }
  if (target.from == target.to) return FieldError("to", "a link needs two different endpoints");
  if (Empty()) {
    return FieldError("impairment",
                      "names nothing to do; add delay, loss, duplicate, corrupt, reorder, rate, "
                      "reset, blackhole or slicer");
  }
  if (reorder && reorder->probability > 0 && (!delay || delay->time_ns == 0)) {
    return FieldError("reorder", "needs a delay to reorder against; add delay.time");
  }
  if (delay && delay->jitter_ns > 0 && delay->time_ns == 0) {
    return FieldError("delay.jitter", "needs delay.time; jitter varies a delay");
  }
  if (loss && loss->model == LossModel::kGilbertElliott && loss->r == 0 && loss->p > 0) {
    return FieldError("loss.r", "0 would never leave the bad state; give a chance above 0");
  }
  if (reset && blackhole) {
    return FieldError("blackhole",
                      "and reset exclude each other: a reset connection carries nothing");
  }
  if (rate && rate->burst_bytes != 0 && rate->burst_bytes < 1514) {
    return FieldError("rate.burst", "must hold at least one full frame (1514 bytes)");
  }
  return Status::Ok();
}

Result<Impairment> Impairment::FromJson(const json& j) {
  RETURN_IF_ERROR(CheckKeys(j, "",
                            {"from", "to", "endpoint", "delay", "loss", "duplicate", "corrupt",
                             "reorder", "rate", "reset", "blackhole", "slicer", "seed"}));
  Impairment imp;
  if (j.contains("endpoint")) {
    if (j.contains("from") || j.contains("to")) {
      return FieldError("endpoint",
                        "impairs an endpoint; a link uses from and to instead, not both");
    }
    if (!j["endpoint"].is_string()) return FieldError("endpoint", "expected a name");
    imp.target.from = j["endpoint"].get<std::string>();
  } else {
    if (j.contains("from") != j.contains("to")) {
      return FieldError(j.contains("from") ? "to" : "from",
                        "a link needs both from and to (or use endpoint)");
    }
    if (j.contains("from")) {
      if (!j["from"].is_string()) return FieldError("from", "expected a name");
      if (!j["to"].is_string()) return FieldError("to", "expected a name");
      imp.target.from = j["from"].get<std::string>();
      imp.target.to = j["to"].get<std::string>();
    }
  }
  if (j.contains("delay")) RETURN_IF_ERROR(ReadDelay(j["delay"], &imp.delay.emplace()));
  if (j.contains("loss")) RETURN_IF_ERROR(ReadLoss(j["loss"], &imp.loss.emplace()));
  if (j.contains("duplicate")) {
    auto& c = imp.duplicate.emplace();
    RETURN_IF_ERROR(ReadChance(j["duplicate"], "duplicate", &c.probability, &c.correlation));
  }
  if (j.contains("corrupt")) {
    auto& c = imp.corrupt.emplace();
    RETURN_IF_ERROR(ReadChance(j["corrupt"], "corrupt", &c.probability, &c.correlation));
  }
  if (j.contains("reorder")) RETURN_IF_ERROR(ReadReorder(j["reorder"], &imp.reorder.emplace()));
  if (j.contains("rate")) RETURN_IF_ERROR(ReadRate(j["rate"], &imp.rate.emplace()));
  for (const char* flag : {"reset", "blackhole"}) {
    if (!j.contains(flag)) continue;
    if (!j[flag].is_boolean()) return FieldError(flag, "expected true or false");
    (std::string(flag) == "reset" ? imp.reset : imp.blackhole) = j[flag].get<bool>();
  }
  if (j.contains("slicer")) {
    const json& s = j["slicer"];
    RETURN_IF_ERROR(CheckKeys(s, "slicer", {"size", "variation", "delay"}));
    SlicerSpec& sl = imp.slicer.emplace();
    for (const char* k : {"size", "variation"}) {
      if (!s.contains(k)) continue;
      if (!s[k].is_number_integer() || s[k].get<int64_t>() < 0 || s[k].get<int64_t>() > 65536) {
        return FieldError(std::string("slicer.") + k, "expected a byte count from 0 to 65536");
      }
      (std::string(k) == "size" ? sl.size_bytes : sl.variation_bytes) = s[k].get<int64_t>();
    }
    if (s.contains("delay")) {
      ASSIGN_OR_RETURN(sl.delay_ns, GetDuration(s["delay"], "slicer.delay"));
    }
    if (sl.size_bytes < 1) return FieldError("slicer.size", "must be at least 1 byte");
    if (sl.variation_bytes >= sl.size_bytes) {
      return FieldError("slicer.variation", "must be smaller than slicer.size");
    }
  }
  if (j.contains("seed")) {
    if (!j["seed"].is_number_unsigned()) return FieldError("seed", "expected a whole number >= 0");
    imp.seed = j["seed"].get<uint64_t>();
  }
  RETURN_IF_ERROR(imp.Validate());
  return imp;
}

json Impairment::ToJson() const {
  json j = json::object();
  if (target.IsEndpoint()) {
    j["endpoint"] = target.from;
  } else {
    j["from"] = target.from;
    j["to"] = target.to;
  }
  if (delay) {
    json d = {{"time", FormatExactDuration(delay->time_ns)}};
    if (delay->jitter_ns != 0) d["jitter"] = FormatExactDuration(delay->jitter_ns);
    if (delay->distribution != DelayDistribution::kUniform) {
      d["distribution"] = DelayDistributionName(delay->distribution);
    }
    if (delay->correlation != 0) d["correlation"] = delay->correlation;
    j["delay"] = d;
  }
  if (loss) {
    if (loss->model == LossModel::kRandom) {
      j["loss"] = ChanceJson(loss->probability, loss->correlation);
    } else {
      j["loss"] = {{"model", "gilbert-elliott"},
                   {"p", loss->p},
                   {"r", loss->r},
                   {"bad_loss", loss->bad_loss},
                   {"good_loss", loss->good_loss}};
    }
  }
  if (duplicate) j["duplicate"] = ChanceJson(duplicate->probability, duplicate->correlation);
  if (corrupt) j["corrupt"] = ChanceJson(corrupt->probability, corrupt->correlation);
  if (reorder) {
    json r = ChanceJson(reorder->probability, reorder->correlation);
    r["gap"] = reorder->gap;
    j["reorder"] = r;
  }
  if (rate) {
    json r = {{"bandwidth", FormatBandwidth(rate->bits_per_s)}};
    if (rate->burst_bytes != 0) r["burst"] = std::to_string(rate->burst_bytes);
    if (rate->limit_ns != 0) r["limit"] = FormatExactDuration(rate->limit_ns);
    j["rate"] = r;
  }
  if (reset) j["reset"] = true;
  if (blackhole) j["blackhole"] = true;
  if (slicer) {
    j["slicer"] = {{"size", slicer->size_bytes},
                   {"variation", slicer->variation_bytes},
                   {"delay", FormatExactDuration(slicer->delay_ns)}};
  }
  j["seed"] = seed;
  return j;
}

SeededRandom::SeededRandom(uint64_t seed) {
  uint64_t x = seed;
  for (auto& w : s_) w = SplitMix(&x);
}

uint64_t SeededRandom::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double SeededRandom::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

double SeededRandom::Normal() {
  if (spare_normal_) {
    double v = *spare_normal_;
    spare_normal_.reset();
    return v;
  }
  double u1 = 0;
  while (u1 <= 0) u1 = Uniform();
  const double u2 = Uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  spare_normal_ = radius * std::sin(2 * M_PI * u2);
  return radius * std::cos(2 * M_PI * u2);
}

double ImpairmentModel::Correlated::Draw(SeededRandom& rng, double rho) {
  const double fresh = rng.Uniform();
  if (rho == 0 || !primed) {
    last = fresh;
    primed = true;
    return fresh;
  }
  last = (1 - rho) * fresh + rho * last;
  return last;
}

ImpairmentModel::ImpairmentModel(const Impairment& spec, uint64_t seed)
    : spec_(spec),
      loss_rng_(StreamSeed(seed, 0)),
      dup_rng_(StreamSeed(seed, 1)),
      corrupt_rng_(StreamSeed(seed, 2)),
      delay_rng_(StreamSeed(seed, 3)),
      reorder_rng_(StreamSeed(seed, 4)) {}

void ImpairmentModel::Update(const Impairment& spec) {
  if (spec.rate != spec_.rate) bucket_primed_ = false;
  spec_ = spec;
}

int64_t ImpairmentModel::DelayDraw() {
  const DelaySpec& d = *spec_.delay;
  if (d.jitter_ns == 0) return d.time_ns;
  const double jitter = static_cast<double>(d.jitter_ns);
  double offset = 0;
  switch (d.distribution) {
    case DelayDistribution::kUniform:
      offset = jitter * (2 * delay_c_.Draw(delay_rng_, d.correlation) - 1);
      break;
    case DelayDistribution::kNormal: {
      // Correlate in the normal domain so the marginal stays normal-ish for small rho.
      const double z = delay_rng_.Normal();
      const double rho = d.correlation;
      const double prev = delay_c_.primed ? delay_c_.last : z;
      delay_c_.last = rho == 0 ? z : (1 - rho) * z + rho * prev;
      delay_c_.primed = true;
      offset = jitter * delay_c_.last;
      break;
    }
    case DelayDistribution::kPareto: {
      // Pareto with shape 3 and scale 1 has mean 1.5 and standard deviation sqrt(3)/2; shifted and
      // scaled to mean 0 and standard deviation 1, so `jitter` is the standard deviation and the
      // tail is long on the late side.
      double u = 1 - delay_c_.Draw(delay_rng_, d.correlation);  // (0, 1]
      if (u <= 0) u = 0x1.0p-53;
      const double x = 1.0 / std::cbrt(u);
      offset = jitter * (x - 1.5) / (std::sqrt(3.0) / 2);
      break;
    }
  }
  return std::max<int64_t>(0, d.time_ns + static_cast<int64_t>(std::llround(offset)));
}

PacketVerdict ImpairmentModel::Decide(int64_t arrival_ns, size_t bytes) {
  PacketVerdict v;
  if (spec_.loss) {
    const LossSpec& l = *spec_.loss;
    if (l.model == LossModel::kRandom) {
      v.drop = l.probability > 0 && loss_c_.Draw(loss_rng_, l.correlation) < l.probability;
    } else {
      // netem's order: move between the states first, then decide the loss in the new state.
      const double move = loss_rng_.Uniform();
      if (ge_bad_) {
        if (move < l.r) ge_bad_ = false;
      } else if (move < l.p) {
        ge_bad_ = true;
      }
      const double lose = loss_rng_.Uniform();
      v.drop = lose < (ge_bad_ ? l.bad_loss : l.good_loss);
    }
  }
  if (v.drop) return v;
  if (spec_.duplicate && spec_.duplicate->probability > 0 &&
      dup_c_.Draw(dup_rng_, spec_.duplicate->correlation) < spec_.duplicate->probability) {
    v.copies = 2;
  }
  if (spec_.corrupt && spec_.corrupt->probability > 0 &&
      corrupt_c_.Draw(corrupt_rng_, spec_.corrupt->correlation) < spec_.corrupt->probability) {
    v.corrupt = true;
    const uint64_t r = corrupt_rng_.Next();
    v.corrupt_offset = bytes == 0 ? 0 : static_cast<uint32_t>((r >> 8) % bytes);
    v.corrupt_mask = static_cast<uint8_t>(1u << (r & 7));  // one flipped bit, like netem
  }
  int64_t delay = 0;
  if (spec_.delay) {
    bool send_now = false;
    if (spec_.reorder && spec_.reorder->probability > 0) {
      const ReorderSpec& r = *spec_.reorder;
      // netem: the first gap-1 packets after a reordered one are always delayed.
      if (reorder_counter_ >= r.gap - 1 &&
          reorder_c_.Draw(reorder_rng_, r.correlation) < r.probability) {
        send_now = true;
      }
    }
    if (send_now) {
      reorder_counter_ = 0;
      v.reordered = true;
    } else {
      ++reorder_counter_;
      delay = DelayDraw();
    }
  }
  int64_t release = arrival_ns + delay;
  if (spec_.rate && spec_.rate->bits_per_s > 0) {
    const RateSpec& r = *spec_.rate;
    const double bytes_per_ns = static_cast<double>(r.bits_per_s) / 8e9;
    const double burst =
        static_cast<double>(r.burst_bytes ? r.burst_bytes : DefaultBurstBytes(r.bits_per_s));
    const int64_t limit = r.limit_ns ? r.limit_ns : kDefaultRateLimitNs;
    // The bucket is FIFO: a packet cannot leave before the one ahead of it.
    const int64_t ready = bucket_primed_ ? std::max(release, last_departure_ns_) : release;
    if (!bucket_primed_) {
      tokens_ = burst;
      bucket_ns_ = ready;
      bucket_primed_ = true;
    }
    double tokens =
        std::min(burst, tokens_ + static_cast<double>(ready - bucket_ns_) * bytes_per_ns);
    int64_t departure = ready;
    const double need = static_cast<double>(bytes);
    if (tokens < need) {
      departure = ready + static_cast<int64_t>(std::ceil((need - tokens) / bytes_per_ns));
    }
    if (departure - release > limit) {
      v.drop = true;  // the queue is full: tbf drops rather than wait past its latency
      v.copies = 1;
      return v;
    }
    tokens_ = tokens < need ? 0 : tokens - need;
    bucket_ns_ = departure;
    last_departure_ns_ = departure;
    release = departure;
  }
  v.delay_ns = release - arrival_ns;
  return v;
}

}  // namespace drone::faults::network
