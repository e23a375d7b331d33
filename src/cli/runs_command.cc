#include "cli/runs_command.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "metrics/histogram.h"
#include "store/run_store.h"

namespace drone::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitBadInput = 2;
constexpr int kExitIncomplete = 3;

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kFailedPrecondition:
      return kExitBadInput;
    default:
      return kExitIncomplete;
  }
}

int Fail(const Status& s) {
  std::cerr << "drone runs: " << s.message() << "\n";
  return ExitCodeFor(s);
}

// Milliseconds since the epoch of a result timestamp ("2026-11-24T04:29:42.123Z").
std::optional<int64_t> ParseTimestampMs(const std::string& text) {
  tm utc{};
  int millis = 0;
  if (sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &utc.tm_year, &utc.tm_mon, &utc.tm_mday,
             &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &millis) != 7) {
    return std::nullopt;
  }
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&utc)) * 1000 + millis;
}

std::optional<double> DurationSeconds(const std::string& started, const std::string& finished) {
  std::optional<int64_t> a = ParseTimestampMs(started);
  std::optional<int64_t> b = ParseTimestampMs(finished);
  if (!a || !b || *b < *a) return std::nullopt;
  return static_cast<double>(*b - *a) / 1000.0;
}

std::string FormatDuration(std::optional<double> seconds) {
  if (!seconds) return "-";
  char buf[32];
  double s = *seconds;
  if (s < 60) {
    snprintf(buf, sizeof(buf), "%.1fs", s);
  } else if (s < 3600) {
    int whole = static_cast<int>(s);
    snprintf(buf, sizeof(buf), "%dm%02ds", whole / 60, whole % 60);
  } else {
    int whole = static_cast<int>(s);
    snprintf(buf, sizeof(buf), "%dh%02dm", whole / 3600, (whole % 3600) / 60);
  }
  return buf;
}

// "2026-11-24T04:29:42.123Z" -> "2026-11-24 04:29:42" (UTC, as stored).
std::string ShortTime(const std::string& ts) {
  if (ts.size() < 19 || ts[10] != 'T') return ts.empty() ? "-" : ts;
  return ts.substr(0, 10) + " " + ts.substr(11, 8);
}

// A field as display text: strings as they are, numbers and others as JSON, missing as "-".
std::string Text(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return "-";
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

const nlohmann::json& Array(const nlohmann::json& obj, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  if (!obj.is_object()) return kEmpty;
  auto it = obj.find(key);
  return it != obj.end() && it->is_array() ? *it : kEmpty;
}

std::string PadRight(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

int List(const std::string& data_dir, bool db_exists, bool json, const std::string& flow_filter,
         const std::string& verdict_filter, int limit, const std::string& matrix_filter) {
  std::vector<store::RunSummary> runs;
  if (db_exists) {
    Result<std::unique_ptr<store::RunStore>> opened = store::RunStore::Open(data_dir);
    if (!opened.ok()) return Fail(opened.status());
    store::RunFilter filter;
    if (!flow_filter.empty()) filter.flow = flow_filter;
    if (!verdict_filter.empty()) filter.verdict = verdict_filter;
    if (!matrix_filter.empty()) filter.matrix_id = matrix_filter;
    filter.limit = limit;
    Result<std::vector<store::RunSummary>> listed = (*opened)->ListRuns(filter);
    if (!listed.ok()) return Fail(listed.status());
    runs = std::move(listed).value();
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const store::RunSummary& r : runs) {
      std::optional<double> d = DurationSeconds(r.started_at, r.finished_at);
      out.push_back({{"run_id", r.run_id},
                     {"flow", r.flow},
                     {"verdict", r.verdict},
                     {"exit_code", r.exit_code},
                     {"started_at", r.started_at},
                     {"finished_at", r.finished_at},
                     {"duration_s", d ? nlohmann::json(*d) : nlohmann::json()}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  if (runs.empty()) {
    std::cout << (db_exists ? "no matching runs in " : "no runs stored yet in ") << data_dir
              << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"RUN ID", "FLOW", "VERDICT", "STARTED (UTC)", "DURATION"}};
  for (const store::RunSummary& r : runs) {
    rows.push_back({r.run_id, r.flow, r.verdict, ShortTime(r.started_at),
                    FormatDuration(DurationSeconds(r.started_at, r.finished_at))});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : PadRight(row[i], widths[i] + 2);
    }
    std::cout << line << "\n";
  }
  return kExitOk;
}

void PrintHuman(const nlohmann::json& r) {
  std::string out;
  out += "run      " + Text(r, "run_id") + "\n";
  out += "flow     " + Text(r, "flow");
  if (Text(r, "file") != "-") out += " (" + Text(r, "file") + ")";
  out += "\n";
  std::string started = Text(r, "started_at");
  std::string finished = Text(r, "finished_at");
  out += "started  " + ShortTime(started) + " UTC, took " +
         FormatDuration(DurationSeconds(started, finished)) + "\n";
  out += "verdict  " + Text(r, "verdict") + " (exit code " + Text(r, "exit_code") + ")\n";
  if (auto m = r.find("matrix"); m != r.end() && m->is_object()) {
    std::string params;
    const nlohmann::json values = m->value("params", nlohmann::json::object());
    for (const auto& [k, v] : values.items()) {
      params += (params.empty() ? "" : " ") + k + "=" +
                (v.is_string() ? v.get<std::string>() : v.dump());
    }
    out += "matrix   " + Text(*m, "id") + ", combination " + params + "\n";
  }
  if (auto f = r.find("from_failure"); f != r.end() && f->is_object()) {
    out += "resumed  from the failure of run " + Text(*f, "run_id") + "\n";
  }
  for (const nlohmann::json& reason : Array(r, "reasons")) {
    out += "  - " + (reason.is_string() ? reason.get<std::string>() : reason.dump()) + "\n";
  }

  const nlohmann::json& steps = Array(r, "steps");
  if (!steps.empty()) {
    out += "\nsteps\n";
    for (const nlohmann::json& s : steps) {
      const std::string status = s.value("reused", false) ? "reused" : Text(s, "status");
      out += "  " + PadRight(status, 10) + " " + Text(s, "id") + " (" + Text(s, "kind") +
             ")  " + FormatDuration(DurationSeconds(Text(s, "started_at"), Text(s, "finished_at")));
      if (Text(s, "error") != "-") out += "  error: " + Text(s, "error");
      out += "\n";
    }
  }

  auto workloads = r.find("workloads");
  if (workloads != r.end() && workloads->is_object() && !workloads->empty()) {
    out += "\nworkloads\n";
    for (const auto& [id, w] : workloads->items()) {
      out += "  " + id + ": sent " + Text(w, "sent") + ", acked " + Text(w, "acked") +
             ", received " + Text(w, "received");
      auto delivery = w.find("delivery");
      if (w.value("delivery_checked", true) && delivery != w.end() && delivery->is_object()) {
        out += ", lost " + Text(*delivery, "lost");
        for (const char* k : {"duplicated", "reordered", "unseen", "corrupt"}) {
          std::string v = Text(*delivery, k);
          if (v != "-" && v != "0") out += ", " + std::string(k) + " " + v;
        }
      } else {
        out += ", delivery not checked";
      }
      if (Text(w, "verdict") != "-") out += "  -> " + Text(w, "verdict");
      out += "\n";
    }
  }

  const nlohmann::json& faults = Array(r, "faults");
  if (!faults.empty()) {
    out += "\nfaults\n";
    for (const nlohmann::json& f : faults) {
      out += "  " + Text(f, "step") + ": " + Text(f, "kind") + " " + Text(f, "target") + " via " +
             Text(f, "backend") + "\n";
    }
  }

  const nlohmann::json& checks = Array(r, "checks");
  if (!checks.empty()) {
    out += "\nchecks\n";
    for (const nlohmann::json& c : checks) {
      bool passed = c.is_object() && c.value("passed", false);
      out += std::string("  ") + (passed ? "pass" : "FAIL") + "  " + Text(c, "expect") +
             "  (observed " + Text(c, "observed") + ")\n";
    }
  }
  std::cout << out;
}

std::string Ms(int64_t ns) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(ns) / 1e6);
  return buf;
}

// What the store keeps beside the result: histograms (decoded), artifacts and every event.
Status PrintStored(const store::RunStore& store, const std::string& run_id) {
  std::string out;
  ASSIGN_OR_RETURN(std::vector<store::StoredHistogram> histograms, store.Histograms(run_id));
  if (!histograms.empty()) {
    out += "\nhistograms (ms)\n";
    for (const store::StoredHistogram& h : histograms) {
      out += "  " + PadRight(h.workload + " " + h.measurement, 24);
      Result<metrics::Histogram> decoded = metrics::Histogram::Deserialize(h.bytes);
      if (!decoded.ok()) {
        out += "unreadable: " + decoded.status().message() + "\n";
      } else if (decoded->TotalCount() == 0) {
        out += "no values\n";
      } else {
        out += "n " + std::to_string(decoded->TotalCount()) + "  p50 " +
               Ms(decoded->ValueAtPercentile(50)) + "  p99 " + Ms(decoded->ValueAtPercentile(99)) +
               "  p99.9 " + Ms(decoded->ValueAtPercentile(99.9)) + "  max " + Ms(decoded->Max()) +
               "\n";
      }
    }
  }
  ASSIGN_OR_RETURN(std::vector<store::StoredArtifact> artifacts, store.Artifacts(run_id));
  if (!artifacts.empty()) {
    out += "\nartifacts\n";
    for (const store::StoredArtifact& a : artifacts) {
      out += "  " + a.step + ": " + a.name + " (" + std::to_string(a.bytes) + " bytes) " + a.path +
             "\n";
    }
  }
  ASSIGN_OR_RETURN(std::vector<nlohmann::json> events, store.Events(run_id));
  if (!events.empty()) {
    out += "\nevents\n";
    const int64_t t0 = events.front().value("t_ns", int64_t{0});
    for (const nlohmann::json& e : events) {
      char t[32];
      snprintf(t, sizeof(t), "%8.3fs", static_cast<double>(e.value("t_ns", t0) - t0) / 1e9);
      out += std::string("  ") + t + "  " + PadRight(Text(e, "type"), 15);
      if (e.contains("step")) out += " " + Text(e, "step");
      if (e.contains("message")) out += (e.contains("step") ? ": " : " ") + Text(e, "message");
      out += "\n";
    }
  }
  std::cout << out;
  return Status::Ok();
}

int Show(const std::string& data_dir, const std::string& run_id, bool json) {
  Result<std::unique_ptr<store::RunStore>> opened = store::RunStore::Open(data_dir);
  if (!opened.ok()) return Fail(opened.status());
  Result<nlohmann::json> result = (*opened)->GetResult(run_id);
  if (!result.ok()) return Fail(result.status());
  if (json) {
    // The same text as `drone run --json` writes.
    std::cout << result->dump(2) << "\n";
    return kExitOk;
  }
  PrintHuman(*result);
  Status shown = PrintStored(**opened, run_id);
  return shown.ok() ? kExitOk : Fail(shown);
}

int Remove(const std::string& data_dir, const std::vector<std::string>& ids) {
  Result<std::unique_ptr<store::RunStore>> opened = store::RunStore::Open(data_dir);
  if (!opened.ok()) return Fail(opened.status());
  int exit_code = kExitOk;
  for (const std::string& id : ids) {
    Status s = (*opened)->DeleteRun(id);
    if (s.ok()) {
      std::cout << "removed " << id << "\n";
    } else {
      exit_code = std::max(exit_code, Fail(s));
    }
  }
  return exit_code;
}

}  // namespace

std::string DefaultDataDir() {
  std::string dir = store::DefaultDataDir(getenv("XDG_DATA_HOME"), getenv("HOME"));
  if (!dir.empty()) return dir;
  // No HOME (a service, a bare container): ask the password database.
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    return store::DefaultDataDir(nullptr, found->pw_dir);
  }
  return std::string();
}

int RunsCommand(const std::string& data_dir, const std::string& action,
                const std::vector<std::string>& ids, bool json, const std::string& flow_filter,
                const std::string& verdict_filter, int limit,
                const std::string& matrix_filter) {
  if (action != "list" && action != "show" && action != "rm") {
    std::cerr << "drone runs: unknown action '" << action
              << "'; use list, show RUN_ID or rm RUN_ID...\n";
    return kExitBadInput;
  }
  if (data_dir.empty()) {
    std::cerr << "drone runs: no data directory (HOME is not set); pass --data-dir DIR\n";
    return kExitBadInput;
  }
  if (action == "list" && !ids.empty()) {
    std::cerr << "drone runs list: takes no run ids; use `drone runs show RUN_ID`\n";
    return kExitBadInput;
  }
  if (action == "show" && ids.size() != 1) {
    std::cerr << "drone runs show: give exactly one run id; `drone runs list` shows them\n";
    return kExitBadInput;
  }
  if (action == "rm" && ids.empty()) {
    std::cerr << "drone runs rm: give one or more run ids; `drone runs list` shows them\n";
    return kExitBadInput;
  }
  if (!verdict_filter.empty() && verdict_filter != "pass" && verdict_filter != "fail" &&
      verdict_filter != "unknown") {
    std::cerr << "drone runs list: --verdict must be pass, fail or unknown, not '" << verdict_filter
              << "'\n";
    return kExitBadInput;
  }

  // Reading must not create a data directory as a side effect, so look before opening.
  std::error_code ec;
  bool db_exists =
      std::filesystem::exists(std::filesystem::path(data_dir) / store::kDatabaseFileName, ec);
  if (action == "list") {
    return List(data_dir, db_exists, json, flow_filter, verdict_filter, limit, matrix_filter);
  }
  if (!db_exists) {
    std::cerr << "drone runs " << action << ": no run '" << ids[0] << "': no runs are stored in "
              << data_dir << " yet (is --data-dir right?)\n";
    return kExitBadInput;
  }
  if (action == "show") return Show(data_dir, ids[0], json);
  return Remove(data_dir, ids);
}

}  // namespace drone::cli
