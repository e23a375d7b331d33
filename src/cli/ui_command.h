// `drone ui`: serves the web UI and its REST API (ui/ui_server.h, docs/ui.md, docs/api.md) until
// SIGINT/SIGTERM. Called from main() only.
#pragma once

#include <string>

#include "ui/ui_server.h"

namespace drone::cli {

// Exit codes: 0 stopped by a signal; 2 bad input (a non-loopback --host without --token, an
// address in use, a data or flows directory that cannot be used), nothing left running.
int UiCommand(ui::UiOptions options);

}  // namespace drone::cli
