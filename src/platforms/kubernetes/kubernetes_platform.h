// Platform "kubernetes": a cluster step's broker runs as pods in the run's namespace
// (drone-<run-id>) of the cluster that kubectl's context names. CreateCluster synthesises the
// objects (synth.h), applies them phase by phase with server-side apply (field manager "drone"),
// recording an undo-journal entry (kind kubernetes-namespace) before each apply, and waits — with deadlines — for every
// StatefulSet's rollout (or a custom resource's Ready condition). Stop deletes the namespace,
// with a bounded wait, once the run's last Kubernetes cluster stops. Process faults act through
// kubectl (pod deletion, signals from the network-fault sidecar); see pod_faults.h.
//
// Thread-safety: as platforms::Platform and platforms::Cluster — the platform is stateless; a
// cluster synchronises internally and may be used from fault, workload and teardown threads.
#pragma once

#include <memory>
#include <string>

#include "core/registry.h"
#include "journal/undo_journal.h"
#include "platforms/platform.h"

namespace drone::platforms {

std::unique_ptr<Platform> NewKubernetesPlatform();

}  // namespace drone::platforms

namespace drone::platforms::kubernetes {

// Deadlines, in seconds, of the kubectl calls a cluster makes.
inline constexpr int kApplyTimeoutS = 120;
inline constexpr int kReadyTimeoutS = 600;
inline constexpr int kDeleteTimeoutS = 180;

// What the undo journal records before an apply: enough to delete what the apply creates — the
// whole namespace, as undo kind `kubernetes-namespace` {"context": CTX, "namespace": NS}.
struct ApplyRecord {
  std::string context;
  std::string ns;
  std::string phase_file;
};
// The one place an apply is journalled; the entry's id (0 without a journal). Do not apply when
// it fails.
Result<uint64_t> JournalBeforeApply(journal::Journal* journal, const ApplyRecord& record);
// Registers `kubernetes-namespace` with the undo kinds that `drone clean` executes: it deletes
// the namespace through kubectl with a bounded wait.
void RegisterUndoKinds(Registry<journal::UndoKind>& registry);

}  // namespace drone::platforms::kubernetes
