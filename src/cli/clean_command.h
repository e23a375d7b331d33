// `drone clean`: undoes what runs left behind when their process died before teardown (SIGKILL, a
// crash), from the undo journals in the data directory (journal/undo_journal.h). The journal of a
// live run is left alone. Called from main() only.
#pragma once

#include <string>

namespace drone::cli {

// Prints what it did (or, dry run, would do); exit code 0 when everything was undone (or there
// was nothing to do), 3 when an undo failed (its journal is kept for another try).
int CleanCommand(const std::string& data_dir, bool dry_run, bool json);

}  // namespace drone::cli
