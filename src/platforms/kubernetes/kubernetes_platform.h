// Platform "kubernetes": a cluster step's broker runs as pods in the run's namespace
// (drone-<run-id>) of the cluster that kubectl's context names. CreateCluster synthesises the
// objects (synth.h), applies them phase by phase with server-side apply (field manager "drone"),
// recording an undo-journal entry before each apply, and waits — with deadlines — for every
// StatefulSet's rollout (or a custom resource's Ready condition). Stop deletes the namespace,
// with a bounded wait, once the run's last Kubernetes cluster stops. Process faults act through
// kubectl (pod deletion, signals from the network-fault sidecar); see pod_faults.h.
//
// Thread-safety: as platforms::Platform and platforms::Cluster — the platform is stateless; a
// cluster synchronises internally and may be used from fault, workload and teardown threads.
#pragma once

#include <memory>
#include <string>

#include "platforms/platform.h"

namespace drone::platforms {

std::unique_ptr<Platform> NewKubernetesPlatform();

}  // namespace drone::platforms

namespace drone::platforms::kubernetes {

// Deadlines, in seconds, of the kubectl calls a cluster makes.
inline constexpr int kApplyTimeoutS = 120;
inline constexpr int kReadyTimeoutS = 600;
inline constexpr int kDeleteTimeoutS = 180;

// What the undo journal records before an apply: enough to delete what the apply creates.
struct ApplyRecord {
  std::string context;
  std::string ns;
  std::string phase_file;
  std::string run_id;
};
// The one place an apply is journalled.
Status JournalBeforeApply(const ApplyRecord& record);

}  // namespace drone::platforms::kubernetes
