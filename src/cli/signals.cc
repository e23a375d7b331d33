#include "cli/signals.h"

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace drone::cli {
namespace {

// SIGUSR2 only wakes the watcher when it should stop; the user never needs to send it.
constexpr int kWakeSignal = SIGUSR2;

sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, kWakeSignal);
  return set;
}

void Say(const std::string& text) {
  ssize_t ignored = write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void IgnoreBrokenPipes() { ::signal(SIGPIPE, SIG_IGN); }

SignalWatcher::SignalWatcher(CancelToken& cancel) : cancel_(cancel) {
  thread_ = std::thread([this] {
    sigset_t set = TerminationSet();
    timespec tick{1, 0};
    while (!stop_.load()) {
      int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig <= 0 || sig == kWakeSignal) continue;
      int n = ++seen_;
      std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
      if (n == 1) {
        Say("\ndrone: " + name + " received: stopping and tearing down (Ctrl-C again to hurry)\n");
        cancel_.Cancel("interrupted by " + name);
      } else if (n == 2) {
        Say("drone: " + name + " again: hurrying: no more draining or flushing, programs get "
            "SIGKILL; undo and finally steps still run\n");
        cancel_.Hurry("interrupted by " + name);
      } else {
        Say("drone: teardown in progress; it removes what the run created, please wait\n");
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  stop_.store(true);
  pthread_kill(thread_.native_handle(), kWakeSignal);
  thread_.join();
}

}  // namespace drone::cli
