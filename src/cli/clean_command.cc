#include "cli/clean_command.h"

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/env_command.h"
#include "journal/undo_journal.h"

namespace drone::cli {

int CleanCommand(const std::string& data_dir, bool dry_run, bool json) {
  std::vector<std::string> problems;
  std::vector<journal::JournalFile> files = journal::ListJournals(data_dir, &problems);
  journal::UndoEnv env;
  env.data_dir = data_dir;
  env.dry_run = dry_run;
  bool failed = false;
  nlohmann::json out = {{"data_dir", data_dir}, {"dry_run", dry_run},
                        {"journals", nlohmann::json::array()}, {"problems", problems}};
  for (const journal::JournalFile& f : files) {
    nlohmann::json j = {{"run_id", f.run_id},           {"flow", f.flow},
                        {"pid", f.owner.pid},           {"alive", f.owner_alive},
                        {"started_at", f.started_at},   {"journal", f.path},
                        {"actions", nlohmann::json::array()}};
    if (f.owner_alive) {
      if (!json) {
        std::cout << "run " << f.run_id << " (" << f.flow << ", pid " << f.owner.pid
                  << ") is still running: left alone\n";
      }
      out["journals"].push_back(j);
      continue;
    }
    if (!json) {
      std::cout << "run " << f.run_id << " (" << f.flow << ", pid " << f.owner.pid
                << ", dead): " << f.open.size() << " thing(s) to undo\n";
    }
    for (const journal::CleanAction& a : journal::CleanJournal(f, env)) {
      failed = failed || !a.status.ok();
      nlohmann::json action = {{"kind", a.kind}, {"what", a.what}, {"ok", a.status.ok()}};
      if (!a.done.empty()) action["done"] = a.done;
      if (!a.status.ok()) action["error"] = a.status.message();
      j["actions"].push_back(action);
      if (!json) {
        std::cout << "  " << a.what << ": "
                  << (a.status.ok() ? a.done : "FAILED: " + a.status.message()) << "\n";
      }
    }
    out["journals"].push_back(j);
  }
  // A standing environment whose holder died is forgotten once its journal is undone; a live
  // one was left alone above (its journal's owner, the holder, is alive).
  const std::vector<std::string> forgotten =
      dry_run ? std::vector<std::string>() : ForgetDeadEnvironments(data_dir);
  out["environments_forgotten"] = forgotten;
  if (!json) {
    for (const std::string& n : forgotten) {
      std::cout << "standing environment " << n << " (holder dead): forgotten\n";
    }
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
  } else {
    for (const std::string& p : problems) std::cerr << "drone clean: skipped: " << p << "\n";
    if (files.empty()) std::cout << "nothing to clean in " << data_dir << "\n";
  }
  return failed ? 3 : 0;
}

}  // namespace drone::cli
