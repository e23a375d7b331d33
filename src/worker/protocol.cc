#include "worker/protocol.h"

#include <array>

namespace drone::worker {
namespace {

using nlohmann::json;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

json OptionalInt(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

// Reads `key` of `j` into `out` when present; InvalidArgument naming it when of the wrong type.
template <typename T>
Status Get(const json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  try {
    *out = it->get<T>();
  } catch (const json::exception&) {
    return InvalidArgument(std::string("field '") + key + "' has the wrong type");
  }
  return Status::Ok();
}

template <typename T>
Status GetOptional(const json& j, const char* key, std::optional<T>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    out->reset();
    return Status::Ok();
  }
  T v{};
  RETURN_IF_ERROR(Get(j, key, &v));
  *out = v;
  return Status::Ok();
}

json PointToJson(const workload::SeriesPoint& p, const workload::PartSecond& s) {
  return {{"t_s", p.t_s},
          {"sent", p.sent},
          {"acked", p.acked},
          {"failed", p.failed},
          {"indeterminate", p.indeterminate},
          {"received", p.received},
          {"bytes_sent", p.bytes_sent},
          {"lag", p.lag},
          {"publish", Base64Encode(s.publish)},
          {"end_to_end", Base64Encode(s.end_to_end)}};
}

}  // namespace

bool ValidShareId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

json AssignmentToJson(const Assignment& a) {
  const workload::WorkloadOptions& o = a.options;
  json producer = {{"acks", o.producer.acks},
                   {"idempotence", o.producer.idempotence},
                   {"linger_ns", o.producer.linger_ns},
                   {"batch_bytes", o.producer.batch_bytes},
                   {"compression", o.producer.compression},
                   {"message_timeout_ns", o.producer.message_timeout_ns},
                   {"extra", o.producer.extra}};
  json options = {{"name", o.name},
                  {"topic", o.topic},
                  {"producers", o.producers},
                  {"consumers", o.consumers},
                  {"rate", o.rate},
                  {"size",
                   {{"kind", static_cast<int>(o.size.kind)},
                    {"bytes", o.size.bytes},
                    {"min", o.size.min},
                    {"max", o.size.max},
                    {"mean", o.size.mean},
                    {"stddev", o.size.stddev}}},
                  {"keys", {{"mode", static_cast<int>(o.keys.mode)}, {"count", o.keys.count}}},
                  {"duration_ns", OptionalInt(o.duration_ns)},
                  {"messages", OptionalInt(o.messages)},
                  {"producer", producer},
                  {"group", o.group},
                  {"consumer_config", o.consumer_config},
                  {"guarantee", static_cast<int>(o.guarantee)},
                  {"drain_timeout_ns", o.drain_timeout_ns},
                  {"consumer_ready_timeout_ns", o.consumer_ready_timeout_ns},
                  {"run_id", o.run_id},
                  {"seed", o.seed},
                  {"producer_ids", o.producer_ids.value_or(std::vector<int>{})},
                  {"consumer_ids", o.consumer_ids.value_or(std::vector<int>{})}};
  return {{"protocol", kProtocolVersion},
          {"id", a.id},
          {"driver", a.driver},
          {"endpoint",
           {{"bootstrap", a.endpoint.bootstrap},
            {"properties", a.endpoint.properties},
            {"consumer_properties", a.endpoint.consumer_properties}}},
          {"options", options},
          {"lease_ns", a.lease_ns}};
}

Result<Assignment> AssignmentFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("the assignment must be a JSON object");
  int protocol = 0;
  RETURN_IF_ERROR(Get(j, "protocol", &protocol));
  if (protocol != kProtocolVersion) {
    return InvalidArgument("protocol " + std::to_string(protocol) + " is not spoken here (this worker speaks " +
                           std::to_string(kProtocolVersion) + ")");
  }
  Assignment a;
  RETURN_IF_ERROR(Get(j, "id", &a.id));
  if (!ValidShareId(a.id)) return InvalidArgument("field 'id' must be 1..64 of [A-Za-z0-9._-]");
  RETURN_IF_ERROR(Get(j, "driver", &a.driver));
  RETURN_IF_ERROR(Get(j, "lease_ns", &a.lease_ns));
  if (a.lease_ns < 1'000'000'000 || a.lease_ns > 3'600'000'000'000) {
    return InvalidArgument("field 'lease_ns' must be within 1 s .. 1 h");
  }
  const json endpoint = j.value("endpoint", json::object());
  if (!endpoint.is_object()) return InvalidArgument("field 'endpoint' must be an object");
  RETURN_IF_ERROR(Get(endpoint, "bootstrap", &a.endpoint.bootstrap));
  RETURN_IF_ERROR(Get(endpoint, "properties", &a.endpoint.properties));
  RETURN_IF_ERROR(Get(endpoint, "consumer_properties", &a.endpoint.consumer_properties));
  const json o = j.value("options", json::object());
  if (!o.is_object()) return InvalidArgument("field 'options' must be an object");
  workload::WorkloadOptions& w = a.options;
  RETURN_IF_ERROR(Get(o, "name", &w.name));
  RETURN_IF_ERROR(Get(o, "topic", &w.topic));
  RETURN_IF_ERROR(Get(o, "producers", &w.producers));
  RETURN_IF_ERROR(Get(o, "consumers", &w.consumers));
  RETURN_IF_ERROR(Get(o, "rate", &w.rate));
  const json size = o.value("size", json::object());
  int size_kind = 0;
  RETURN_IF_ERROR(Get(size, "kind", &size_kind));
  if (size_kind < 0 || size_kind > 2) return InvalidArgument("field 'size.kind' out of range");
  w.size.kind = static_cast<workload::SizeDistribution::Kind>(size_kind);
  RETURN_IF_ERROR(Get(size, "bytes", &w.size.bytes));
  RETURN_IF_ERROR(Get(size, "min", &w.size.min));
  RETURN_IF_ERROR(Get(size, "max", &w.size.max));
  RETURN_IF_ERROR(Get(size, "mean", &w.size.mean));
  RETURN_IF_ERROR(Get(size, "stddev", &w.size.stddev));
  const json keys = o.value("keys", json::object());
  int key_mode = 0;
  RETURN_IF_ERROR(Get(keys, "mode", &key_mode));
  if (key_mode < 0 || key_mode > 2) return InvalidArgument("field 'keys.mode' out of range");
  w.keys.mode = static_cast<workload::KeyOptions::Mode>(key_mode);
  RETURN_IF_ERROR(Get(keys, "count", &w.keys.count));
  RETURN_IF_ERROR(GetOptional(o, "duration_ns", &w.duration_ns));
  RETURN_IF_ERROR(GetOptional(o, "messages", &w.messages));
  const json producer = o.value("producer", json::object());
  RETURN_IF_ERROR(Get(producer, "acks", &w.producer.acks));
  RETURN_IF_ERROR(Get(producer, "idempotence", &w.producer.idempotence));
  RETURN_IF_ERROR(Get(producer, "linger_ns", &w.producer.linger_ns));
  RETURN_IF_ERROR(Get(producer, "batch_bytes", &w.producer.batch_bytes));
  RETURN_IF_ERROR(Get(producer, "compression", &w.producer.compression));
  RETURN_IF_ERROR(Get(producer, "message_timeout_ns", &w.producer.message_timeout_ns));
  RETURN_IF_ERROR(Get(producer, "extra", &w.producer.extra));
  RETURN_IF_ERROR(Get(o, "group", &w.group));
  RETURN_IF_ERROR(Get(o, "consumer_config", &w.consumer_config));
  int guarantee = 0;
  RETURN_IF_ERROR(Get(o, "guarantee", &guarantee));
  if (guarantee < 0 || guarantee > 3) return InvalidArgument("field 'guarantee' out of range");
  w.guarantee = static_cast<verify::Guarantee>(guarantee);
  RETURN_IF_ERROR(Get(o, "drain_timeout_ns", &w.drain_timeout_ns));
  RETURN_IF_ERROR(Get(o, "consumer_ready_timeout_ns", &w.consumer_ready_timeout_ns));
  RETURN_IF_ERROR(Get(o, "run_id", &w.run_id));
  RETURN_IF_ERROR(Get(o, "seed", &w.seed));
  std::vector<int> producer_ids, consumer_ids;
  RETURN_IF_ERROR(Get(o, "producer_ids", &producer_ids));
  RETURN_IF_ERROR(Get(o, "consumer_ids", &consumer_ids));
  // Bounded: a share runs a thread per producer and consumer.
  constexpr int kMaxClients = 1024;
  if (w.producers < 0 || w.consumers < 0 || w.producers > kMaxClients || w.consumers > kMaxClients) {
    return InvalidArgument("fields 'producers' and 'consumers' must be within 0..1024");
  }
  for (int id : producer_ids) {
    if (id < 0 || id >= w.producers) return InvalidArgument("a producer id is out of range");
  }
  for (int id : consumer_ids) {
    if (id < 0 || id >= w.consumers) return InvalidArgument("a consumer id is out of range");
  }
  if (producer_ids.empty() && consumer_ids.empty()) {
    return InvalidArgument("the share runs neither producers nor consumers");
  }
  if (w.topic.empty()) return InvalidArgument("field 'options.topic' is empty");
  w.producer_ids = std::move(producer_ids);
  w.consumer_ids = std::move(consumer_ids);
  return a;
}

json StatusToJson(const ShareStatus& s) {
  json out = {{"protocol", kProtocolVersion}, {"state", s.state}, {"error", s.error},
              {"first_point", s.first_point}};
  if (s.has_progress) {
    const workload::RunnerProgress& p = s.progress;
    out["totals"] = {{"sent", p.totals.sent},
                     {"acked", p.totals.acked},
                     {"failed", p.totals.failed},
                     {"indeterminate", p.totals.indeterminate},
                     {"received", p.totals.received}};
    out["progress"] = {{"next_offset", p.drain.next_offset},
                       {"max_acked_seq", p.drain.max_acked_seq},
                       {"max_received_seq", p.drain.max_received_seq},
                       {"received", p.drain.received},
                       {"consumer_lanes", p.consumer_lanes}};
  }
  json points = json::array();
  for (size_t i = 0; i < s.points.size(); ++i) {
    points.push_back(PointToJson(s.points[i], i < s.seconds.size() ? s.seconds[i] : workload::PartSecond{}));
  }
  out["points"] = std::move(points);
  return out;
}

Result<ShareStatus> StatusFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("status is not a JSON object");
  ShareStatus s;
  RETURN_IF_ERROR(Get(j, "state", &s.state));
  RETURN_IF_ERROR(Get(j, "error", &s.error));
  RETURN_IF_ERROR(Get(j, "first_point", &s.first_point));
  if (j.contains("progress") && j["progress"].is_object()) {
    s.has_progress = true;
    const json& totals = j.value("totals", json::object());
    RETURN_IF_ERROR(Get(totals, "sent", &s.progress.totals.sent));
    RETURN_IF_ERROR(Get(totals, "acked", &s.progress.totals.acked));
    RETURN_IF_ERROR(Get(totals, "failed", &s.progress.totals.failed));
    RETURN_IF_ERROR(Get(totals, "indeterminate", &s.progress.totals.indeterminate));
    RETURN_IF_ERROR(Get(totals, "received", &s.progress.totals.received));
    const json& p = j["progress"];
    RETURN_IF_ERROR(Get(p, "next_offset", &s.progress.drain.next_offset));
    RETURN_IF_ERROR(Get(p, "max_acked_seq", &s.progress.drain.max_acked_seq));
    RETURN_IF_ERROR(Get(p, "max_received_seq", &s.progress.drain.max_received_seq));
    RETURN_IF_ERROR(Get(p, "received", &s.progress.drain.received));
    RETURN_IF_ERROR(Get(p, "consumer_lanes", &s.progress.consumer_lanes));
  }
  if (j.contains("points") && j["points"].is_array()) {
    for (const json& p : j["points"]) {
      workload::SeriesPoint point;
      RETURN_IF_ERROR(Get(p, "t_s", &point.t_s));
      RETURN_IF_ERROR(Get(p, "sent", &point.sent));
      RETURN_IF_ERROR(Get(p, "acked", &point.acked));
      RETURN_IF_ERROR(Get(p, "failed", &point.failed));
      RETURN_IF_ERROR(Get(p, "indeterminate", &point.indeterminate));
      RETURN_IF_ERROR(Get(p, "received", &point.received));
      RETURN_IF_ERROR(Get(p, "bytes_sent", &point.bytes_sent));
      RETURN_IF_ERROR(Get(p, "lag", &point.lag));
      std::string publish, end_to_end;
      RETURN_IF_ERROR(Get(p, "publish", &publish));
      RETURN_IF_ERROR(Get(p, "end_to_end", &end_to_end));
      workload::PartSecond second;
      ASSIGN_OR_RETURN(second.publish, Base64Decode(publish));
      ASSIGN_OR_RETURN(second.end_to_end, Base64Decode(end_to_end));
      s.points.push_back(point);
      s.seconds.push_back(std::move(second));
    }
  }
  return s;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(kAlphabet[(v >> (6 * k)) & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return InvalidArgument("base64: length is not a multiple of 4");
  std::array<int, 256> value{};
  value.fill(-1);
  for (size_t k = 0; k < kAlphabet.size(); ++k) value[static_cast<uint8_t>(kAlphabet[k])] = static_cast<int>(k);
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int pad = 0;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      const int d = value[static_cast<uint8_t>(c)];
      if (d < 0 || pad > 0) return InvalidArgument("base64: bad character");
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

}  // namespace drone::worker
