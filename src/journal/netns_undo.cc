#include "journal/netns_undo.h"

#include "faults/network/lab_network.h"

namespace drone::journal {
namespace {

namespace net = faults::network;

class NetnsUndo : public UndoKind {
 public:
  std::string Name() const override { return kNetnsUndoKind; }
  Status Undo(const nlohmann::json& args, const UndoEnv& env, std::string* what) const override {
    if (!args.is_object() || !args.contains("run_id") || !args["run_id"].is_string()) {
      return InvalidArgument("netns needs {run_id}, got " + args.dump());
    }
    const std::string run_id = args["run_id"].get<std::string>();
    const std::string prefix = net::LabNamespaceName(run_id, "");
    if (env.dry_run) {
      ASSIGN_OR_RETURN(std::vector<std::string> names, net::ListNetns(prefix));
      *what = "would delete " + std::to_string(names.size()) + " network namespace(s) " + prefix + "*";
      return Status::Ok();
    }
    Result<int> n = net::CleanLab(run_id);
    if (!n.ok()) return n.status().code() == StatusCode::kInvalidArgument ? n.status()
                                                                          : Internal(n.status().message());
    *what = "deleted " + std::to_string(*n) + " network namespace(s) " + prefix + "*";
    return Status::Ok();
  }
};

}  // namespace

UndoRecord NetnsRecord(const std::string& run_id) {
  return UndoRecord{kNetnsUndoKind, {{"run_id", run_id}}};
}

std::unique_ptr<UndoKind> NewNetnsUndo() { return std::make_unique<NetnsUndo>(); }

}  // namespace drone::journal
