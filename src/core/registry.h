// Name -> factory registries for Drone's plug-in points. Builtins are registered explicitly by
// RegisterBuiltins() (no static-initialiser magic); lookups are read-only afterwards and safe from
// any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace drone {

template <typename T>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;

  void Register(const std::string& name, std::string description, Factory factory) {
    entries_[name] = Entry{std::move(description), std::move(factory)};
  }

  Result<std::unique_ptr<T>> Create(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [n, e] : entries_) known += (known.empty() ? "" : ", ") + n;
      return NotFound("unknown " + kind_ + " '" + name + "'; built in: " + known);
    }
    return it->second.factory();
  }

  bool Contains(const std::string& name) const { return entries_.count(name) > 0; }

  std::vector<std::pair<std::string, std::string>> List() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [n, e] : entries_) out.emplace_back(n, e.description);
    return out;
  }

  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

 private:
  struct Entry {
    std::string description;
    Factory factory;
  };
  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace drone
