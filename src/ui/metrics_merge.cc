#include "ui/metrics_merge.h"

#include <map>
#include <sstream>

namespace drone::ui {
namespace {

struct Family {
  std::vector<std::string> header;  // # HELP, # TYPE
  std::vector<std::string> samples;
  bool has_help = false, has_type = false;
};

// "# HELP name ..." / "# TYPE name ..." -> name; empty for other lines.
std::string CommentFamily(const std::string& line, const char* keyword) {
  const std::string prefix = std::string("# ") + keyword + " ";
  if (line.compare(0, prefix.size(), prefix) != 0) return "";
  const size_t end = line.find(' ', prefix.size());
  return line.substr(prefix.size(), end == std::string::npos ? std::string::npos : end - prefix.size());
}

}  // namespace

std::string MergeExpositions(const std::vector<std::string>& texts) {
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  auto family = [&](const std::string& name) -> Family& {
    auto [it, inserted] = families.try_emplace(name);
    if (inserted) order.push_back(name);
    return it->second;
  };
  for (const std::string& text : texts) {
    std::istringstream in(text);
    std::string line;
    std::string current;  // samples follow their family's # TYPE
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (std::string help = CommentFamily(line, "HELP"); !help.empty()) {
        Family& f = family(help);
        if (!f.has_help) f.header.insert(f.header.begin(), line);
        f.has_help = true;
        current = help;
      } else if (std::string type = CommentFamily(line, "TYPE"); !type.empty()) {
        Family& f = family(type);
        if (!f.has_type) f.header.push_back(line);
        f.has_type = true;
        current = type;
      } else if (line[0] == '#') {
        continue;  // other comments
      } else {
        // A sample outside any family (untyped): its own name is its family.
        std::string name = current;
        if (name.empty()) name = line.substr(0, line.find_first_of("{ "));
        family(name).samples.push_back(line);
      }
    }
  }
  std::string out;
  for (const std::string& name : order) {
    const Family& f = families[name];
    for (const std::string& l : f.header) out += l + "\n";
    for (const std::string& l : f.samples) out += l + "\n";
  }
  return out;
}

}  // namespace drone::ui
