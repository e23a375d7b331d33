#include "platforms/builtin_platforms.h"

#include <mutex>

#include "platforms/embedded/embedded_kafka.h"
#include "platforms/external/external_cluster.h"
#include "platforms/kubernetes/kubernetes_platform.h"
#include "platforms/local/local_platform.h"

namespace drone::platforms {

void RegisterBuiltinPlatforms(Registry<Platform>& registry) {
  registry.Register("embedded", "Kafka in-process on librdkafka's mock cluster (the default)",
                    [] { return NewEmbeddedPlatform(); });
  registry.Register("external", "an existing cluster reached through `bootstrap` addresses",
                    [] { return NewExternalPlatform(); });
  registry.Register("local", "real servers started here as child processes (recipes per broker)",
                    [] { return NewLocalPlatform(); });
  registry.Register("kubernetes",
                    "pods in a namespace of the run, applied with kubectl (eks, gke, aks, kind, ...)",
                    [] { return NewKubernetesPlatform(); });
}

Registry<Platform>& PlatformRegistry() {
  static Registry<Platform> registry("platform");
  static std::once_flag once;
  std::call_once(once, [] { RegisterBuiltinPlatforms(registry); });
  return registry;
}

}  // namespace drone::platforms
