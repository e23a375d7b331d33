#include "platforms/kubernetes/manifest.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>

namespace drone::platforms::kubernetes {

ApiObject::ApiObject(std::string api_version, std::string kind, std::string name)
    : api_version_(std::move(api_version)), kind_(std::move(kind)), name_(std::move(name)) {}

ApiObject& ApiObject::Namespace(std::string ns) {
  namespace_ = std::move(ns);
  return *this;
}

ApiObject& ApiObject::Label(const std::string& key, const std::string& value) {
  labels_[key] = value;
  return *this;
}

ApiObject& ApiObject::Annotate(const std::string& key, const std::string& value) {
  annotations_[key] = value;
  return *this;
}

ApiObject& ApiObject::Set(const std::string& field, Json value) {
  body_[field] = std::move(value);
  return *this;
}

Json& ApiObject::Body(const std::string& field) { return body_[field]; }

Json ApiObject::ToJson() const {
  Json out = Json::object();
  out["apiVersion"] = api_version_;
  out["kind"] = kind_;
  Json meta = Json::object();
  meta["name"] = name_;
  if (!namespace_.empty()) meta["namespace"] = namespace_;
  if (!labels_.empty()) {
    Json labels = Json::object();
    for (const auto& [k, v] : labels_) labels[k] = v;
    meta["labels"] = labels;
  }
  if (!annotations_.empty()) {
    Json annotations = Json::object();
    for (const auto& [k, v] : annotations_) annotations[k] = v;
    meta["annotations"] = annotations;
  }
  out["metadata"] = meta;
  for (const auto& [k, v] : body_.items()) out[k] = v;
  return out;
}

Phase& Chart::PhaseFor(const std::string& file) {
  for (Phase& p : phases_) {
    if (p.file == file) return p;
  }
  phases_.push_back({file, {}});
  return phases_.back();
}

ApiObject& Chart::Add(const std::string& file, ApiObject object) {
  for (const auto& [k, v] : labels_) object.Label(k, v);
  Phase& phase = PhaseFor(file);
  phase.objects.push_back(std::move(object));
  return phase.objects.back();
}

void Chart::DropEmptyPhases() {
  phases_.erase(std::remove_if(phases_.begin(), phases_.end(),
                               [](const Phase& p) { return p.objects.empty(); }),
                phases_.end());
}

const Phase* Chart::Find(const std::string& file) const {
  for (const Phase& p : phases_) {
    if (p.file == file) return &p;
  }
  return nullptr;
}

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Whether `s` can be written as a plain YAML scalar and read back as the same string (YAML 1.1
// and 1.2 readers alike: kubectl's reader still takes `yes` and `on` for booleans).
bool IsPlainSafe(const std::string& s) {
  if (s.empty()) return false;
  if (s.front() == ' ' || s.back() == ' ') return false;
  static const std::string kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string::npos) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return false;
  if (s.back() == ':') return false;
  static const char* kReserved[] = {"true", "false", "yes", "no", "on", "off", "y", "n",
                                    "null", "~", ".inf", ".nan", "-.inf", "+.inf"};
  const std::string lower = Lower(s);
  for (const char* r : kReserved) {
    if (lower == r) return false;
  }
  // Anything that starts like a number may be read as one (3, 0x1f, 1e3, 1_000, 12:30 in 1.1).
  const char c0 = s.front();
  if (std::isdigit(static_cast<unsigned char>(c0)) != 0) return false;
  if ((c0 == '+' || c0 == '.') && s.size() > 1 &&
      std::isdigit(static_cast<unsigned char>(s[1])) != 0) {
    return false;
  }
  return true;
}

std::string Scalar(const std::string& s) {
  if (IsPlainSafe(s)) return s;
  return Json(s).dump();  // a JSON string is a valid YAML double-quoted scalar
}

std::string Indent(int n) { return std::string(static_cast<size_t>(n), ' '); }

// A literal block for multi-line text (configuration files), when YAML can carry it exactly.
bool LiteralBlockFits(const std::string& s) {
  if (s.find('\n') == std::string::npos) return false;
  if (s.front() == ' ' || s.front() == '\n') return false;
  for (char c : s) {
    if (c == '\t' || c == '\r' || (static_cast<unsigned char>(c) < 0x20 && c != '\n')) return false;
  }
  // Trailing blanks on a line are kept by a literal block, but editors strip them; quote instead.
  if (s.find(" \n") != std::string::npos) return false;
  return true;
}

void EmitLiteral(const std::string& s, int indent, std::string& out) {
  size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  out += trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
  out += "\n";
  const std::string body = s.substr(0, s.size() - trailing);
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(start, end - start);
    if (!line.empty()) out += Indent(indent) + line;
    out += "\n";
    start = end + 1;
  }
  for (size_t i = 1; i < trailing; ++i) out += "\n";
}

void EmitValue(const Json& v, int indent, std::string& out);

// After "key:" or "- ": a scalar on the same line, or a nested block on the next lines.
void EmitAfterKey(const Json& v, int indent, std::string& out) {
  if (v.is_object() && !v.empty()) {
    out += "\n";
    EmitValue(v, indent + 2, out);
  } else if (v.is_array() && !v.empty()) {
    out += "\n";
    EmitValue(v, indent, out);  // block sequences sit at the key's indentation
  } else if (v.is_string() && LiteralBlockFits(v.get<std::string>())) {
    out += " ";
    EmitLiteral(v.get<std::string>(), indent + 2, out);
  } else {
    out += " ";
    EmitValue(v, indent, out);
  }
}

void EmitValue(const Json& v, int indent, std::string& out) {
  if (v.is_object()) {
    if (v.empty()) {
      out += "{}\n";
      return;
    }
    for (const auto& [k, item] : v.items()) {
      out += Indent(indent) + Scalar(k) + ":";
      EmitAfterKey(item, indent, out);
    }
  } else if (v.is_array()) {
    if (v.empty()) {
      out += "[]\n";
      return;
    }
    for (const Json& item : v) {
      out += Indent(indent) + "-";
      if (item.is_object() && !item.empty()) {
        // The first key shares the dash's line; the rest line up beneath it.
        std::string nested;
        EmitValue(item, indent + 2, nested);
        out += " " + nested.substr(static_cast<size_t>(indent) + 2);
      } else if (item.is_array() && !item.empty()) {
        out += "\n";
        EmitValue(item, indent + 2, out);
      } else {
        EmitAfterKey(item, indent, out);
      }
    }
  } else if (v.is_string()) {
    out += Scalar(v.get<std::string>()) + "\n";
  } else if (v.is_null()) {
    out += "null\n";
  } else {
    out += v.dump() + "\n";
  }
}

}  // namespace

std::string ToYaml(const Json& value) {
  std::string out;
  EmitValue(value, 0, out);
  return out;
}

std::string PhaseYaml(const Phase& phase) {
  std::string out;
  for (size_t i = 0; i < phase.objects.size(); ++i) {
    if (i > 0) out += "---\n";
    out += ToYaml(phase.objects[i].ToJson());
  }
  return out;
}

std::string DnsLabel(const std::string& text, size_t max) {
  std::string out;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0) {
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.empty()) out = "x";
  if (out.size() <= max) return out;
  // FNV-1a of the whole text keeps truncated names apart.
  uint32_t h = 2166136261u;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "-%08x", h);
  std::string cut = out.substr(0, max - 9);
  while (!cut.empty() && cut.back() == '-') cut.pop_back();
  return cut + suffix;
}

}  // namespace drone::platforms::kubernetes
