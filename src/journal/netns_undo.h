// The `netns` undo kind: the lab networks of a run (faults/network/lab_network.h), journaled by
// a cluster step before it creates them, so that `drone clean` deletes what a SIGKILLed run left:
// every network namespace `drone-<run>-*` (hosts first, then the hubs) and with them their
// interfaces, qdiscs and iptables rules. Arguments: {"run_id": "<run>"}.
//
// Thread-safety: stateless.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "journal/undo_journal.h"

namespace drone::journal {

inline constexpr const char* kNetnsUndoKind = "netns";

UndoRecord NetnsRecord(const std::string& run_id);
std::unique_ptr<UndoKind> NewNetnsUndo();

}  // namespace drone::journal
