// The Kubernetes object model behind `drone k8s synth` and the kubernetes platform: an ApiObject
// is one manifest (apiVersion, kind, metadata, then its body in the order the builder set it); a
// Chart holds the objects of a run in phases — one file each, applied in order (namespace, RBAC,
// each cluster, workers). Every object added to a chart carries the chart's labels, so that a run's
// objects can be found (and deleted) by label. Serialisation is deterministic: the same inputs give
// byte-identical YAML, which the golden files under tests/k8s/golden/ rely on.
//
// Thread-safety: plain values; a Chart is built by one thread and then only read.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace drone::platforms::kubernetes {

// Insertion-ordered JSON: manifests read apiVersion, kind, metadata, spec — in that order.
using Json = nlohmann::ordered_json;

class ApiObject {
 public:
  ApiObject(std::string api_version, std::string kind, std::string name);

  const std::string& api_version() const { return api_version_; }
  const std::string& kind() const { return kind_; }
  const std::string& name() const { return name_; }
  const std::string& ns() const { return namespace_; }
  const std::map<std::string, std::string>& labels() const { return labels_; }

  ApiObject& Namespace(std::string ns);
  ApiObject& Label(const std::string& key, const std::string& value);
  ApiObject& Annotate(const std::string& key, const std::string& value);
  // Sets a top-level body field ("spec", "data", "rules", ...), keeping the order of first set.
  ApiObject& Set(const std::string& field, Json value);
  // The body field, created as null when missing (for builders that fill it in place).
  Json& Body(const std::string& field);

  // {"apiVersion", "kind", "metadata": {name, namespace, labels, annotations}, body...}.
  Json ToJson() const;

 private:
  std::string api_version_;
  std::string kind_;
  std::string name_;
  std::string namespace_;
  std::map<std::string, std::string> labels_;       // sorted: deterministic output
  std::map<std::string, std::string> annotations_;
  Json body_ = Json::object();
};

struct Phase {
  std::string file;  // "00-namespace.yaml"
  std::vector<ApiObject> objects;
};

class Chart {
 public:
  explicit Chart(std::map<std::string, std::string> labels) : labels_(std::move(labels)) {}

  const std::map<std::string, std::string>& labels() const { return labels_; }
  // The phase of that file, created (at the end) when it does not exist yet.
  Phase& PhaseFor(const std::string& file);
  // Adds the object to the phase, labelled with the chart's labels; returns the stored object.
  ApiObject& Add(const std::string& file, ApiObject object);
  const std::vector<Phase>& phases() const { return phases_; }
  void DropEmptyPhases();
  const Phase* Find(const std::string& file) const;

 private:
  std::map<std::string, std::string> labels_;
  std::vector<Phase> phases_;
};

// One YAML document of a JSON value: block style, keys in their JSON order, strings quoted where
// plain YAML would read them as something else (numbers, booleans, null, leading indicators).
std::string ToYaml(const Json& value);
// The objects of a phase as a multi-document YAML stream ("---" between documents).
std::string PhaseYaml(const Phase& phase);

// A DNS-1123 label from free text: lower case, [a-z0-9-], no leading or trailing '-', at most
// `max` characters (longer names keep a stable hash suffix so that two long names stay distinct).
std::string DnsLabel(const std::string& text, size_t max = 63);

}  // namespace drone::platforms::kubernetes
