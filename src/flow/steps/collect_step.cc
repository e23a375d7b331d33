// kind: collect — copies files matching `paths` (glob patterns) into <run dir>/<name>/, and,
// unless `logs: false`, the output every step captured so far (exec's stdout and stderr tail)
// into <run dir>/<name>/logs/<step>.stdout and .stderr. Each copy is recorded as an artifact
// (RunContext::AddArtifact). A pattern that matches nothing is reported in the outputs
// (`missing`), not a failure: collecting runs in `finally` after failures, when some logs were
// never written. Registers no undo action: the run directory outlives the run on purpose.
#include <glob.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "flow/step_executor.h"

namespace drone::flow {
namespace {

namespace fs = std::filesystem;

int64_t TreeBytes(const fs::path& p) {
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return static_cast<int64_t>(fs::file_size(p, ec));
  int64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += static_cast<int64_t>(it->file_size(ec));
  }
  return total;
}

Result<std::vector<std::string>> Glob(const std::string& pattern) {
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), GLOB_NOCHECK | GLOB_BRACE, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  if (rc == GLOB_NOSPACE) return Internal("collect: out of memory expanding '" + pattern + "'");
  return out;
}

class CollectStep : public StepExecutor {
 public:
  std::string Kind() const override { return "collect"; }

  Status Run(StepContext& ctx) override {
    const auto& with = std::get<spec::CollectWith>(ctx.step.with);
    const std::string run_dir = ctx.run.run_dir();
    if (run_dir.empty()) return FailedPrecondition("collect: this run has no run directory");
    const std::string name = with.name.empty() ? ctx.step.id : with.name;
    const fs::path dir = fs::path(run_dir) / name;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Unavailable("collect: cannot create " + dir.string() + ": " + ec.message());

    nlohmann::json collected = nlohmann::json::array();
    nlohmann::json missing = nlohmann::json::array();
    std::set<std::string> used;  // names taken in `dir`
    Status first_error;
    for (const std::string& raw : with.paths) {
      ASSIGN_OR_RETURN(std::string pattern, ctx.Interpolate(raw));
      ASSIGN_OR_RETURN(std::vector<std::string> matches, Glob(pattern));
      bool any = false;
      for (const std::string& match : matches) {
        const fs::path source(match);
        if (!fs::exists(source, ec)) continue;  // GLOB_NOCHECK hands back a pattern without match
        any = true;
        const std::string base = Unique(source.filename().string(), used);
        const fs::path target = dir / base;
        fs::copy(source, target,
                 fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
        if (ec) {
          if (first_error.ok()) {
            first_error = Unavailable("collect: copying " + match + ": " + ec.message());
          }
          ec.clear();
          continue;
        }
        Record(ctx, ctx.step.id, base, target, collected);
      }
      if (!any) missing.push_back(pattern);
    }
    if (with.logs) CollectLogs(ctx, dir, collected, first_error);
    ctx.run.SetOutputs(ctx.step.id, {{"dir", fs::absolute(dir).string()},
                                     {"artifacts", collected},
                                     {"missing", missing}});
    return first_error;
  }

 private:
  // `base`, or base-2, base-3... when a file of that name is already collected.
  static std::string Unique(const std::string& base, std::set<std::string>& used) {
    std::string name = base;
    for (int i = 2; used.count(name) > 0; ++i) name = base + "-" + std::to_string(i);
    used.insert(name);
    return name;
  }

  static void Record(StepContext& ctx, const std::string& step, const std::string& name,
                     const fs::path& target, nlohmann::json& collected) {
    Artifact a{step, name, fs::absolute(target).string(), TreeBytes(target)};
    collected.push_back(name);
    ctx.run.AddArtifact(std::move(a));
  }

  // Every step's captured text: exec's `stdout` and `stderr_tail` outputs.
  static void CollectLogs(StepContext& ctx, const fs::path& dir, nlohmann::json& collected,
                          Status& first_error) {
    const nlohmann::json steps = ctx.run.ExpressionContext()["steps"];
    std::error_code ec;
    for (const auto& [id, entry] : steps.items()) {
      const nlohmann::json& outputs = entry["outputs"];
      if (!outputs.is_object()) continue;
      for (const auto& [key, suffix] : {std::pair<std::string, std::string>{"stdout", ".stdout"},
                                        {"stderr_tail", ".stderr"}}) {
        auto it = outputs.find(key);
        if (it == outputs.end() || !it->is_string()) continue;
        fs::create_directories(dir / "logs", ec);
        const std::string name = "logs/" + id + suffix;
        const fs::path target = dir / name;
        std::ofstream out(target, std::ios::binary | std::ios::trunc);
        out << it->get<std::string>();
        out.close();
        if (!out) {
          if (first_error.ok()) first_error = Unavailable("collect: cannot write " + target.string());
          continue;
        }
        Record(ctx, id, name, target, collected);
      }
    }
  }
};

}  // namespace

std::unique_ptr<StepExecutor> NewCollectStep() { return std::make_unique<CollectStep>(); }

}  // namespace drone::flow
