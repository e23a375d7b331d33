#include "cli/ui_command.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/signals.h"
#include "core/clock.h"

namespace drone::cli {
namespace fs = std::filesystem;

int UiCommand(ui::UiOptions options) {
  std::error_code ec;
  if (!fs::is_directory(options.flows_dir, ec)) {
    std::cerr << "drone: --flows " << options.flows_dir
              << ": not a directory; pass the directory that holds your flow files\n";
    return 2;
  }
  if (options.drone_path.empty()) {
    // The runs it starts use this very binary, wherever it was started from.
    options.drone_path = fs::read_symlink("/proc/self/exe", ec).string();
    if (ec) {
      std::cerr << "drone: cannot find this program's path (/proc/self/exe): " << ec.message()
                << "\n";
      return 2;
    }
  }
  CancelToken cancel;
  SignalWatcher signals(cancel);
  auto started = ui::UiServer::Start(options);
  if (!started.ok()) {
    std::cerr << "drone: ui: " << started.status().message() << "; nothing was started\n";
    return 2;
  }
  std::unique_ptr<ui::UiServer> server = std::move(started).value();
  std::string url = server->url();
  if (!options.token.empty()) url += "?token=" + options.token;
  std::cout << "drone ui: serving on " << url << " (runs in " << options.data_dir << ", flows in "
            << options.flows_dir << "); Ctrl-C stops it" << std::endl;
  while (!cancel.WaitFor(3600 * kNsPerSec)) {
  }
  std::cerr << "drone: ui: stopping (runs started here are cancelled and torn down)\n";
  server.reset();
  return 0;
}

}  // namespace drone::cli
