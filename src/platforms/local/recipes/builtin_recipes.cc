// The broker recipes of the local platform, registered by broker name (the name of `broker:` and
// of the driver). One line per recipe; each lives in recipes/<broker>_recipe.{h,cc}.
#include <mutex>

#include "platforms/local/broker_recipe.h"
#include "platforms/local/recipes/rabbitmq_recipe.h"

namespace drone::platforms::local {

void RegisterBuiltinRecipes(Registry<BrokerRecipe>& registry) {
  registry.Register("rabbitmq", "RabbitMQ nodes (rabbitmq-server) joined into one cluster, with their own epmd",
                    [] { return NewRabbitMqRecipe(); });
}

Registry<BrokerRecipe>& RecipeRegistry() {
  static Registry<BrokerRecipe> registry("recipe");
  static std::once_flag once;
  std::call_once(once, [] { RegisterBuiltinRecipes(registry); });
  return registry;
}

}  // namespace drone::platforms::local
