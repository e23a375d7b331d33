#include "drivers/driver.h"

namespace drone::drivers {

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAck: return "ack";
    case Outcome::kNack: return "nack";
    case Outcome::kIndeterminate: return "indeterminate";
  }
  return "indeterminate";
}

const char* OptionScopeName(OptionScope scope) {
  switch (scope) {
    case OptionScope::kTopic: return "config";
    case OptionScope::kProducer: return "producer_config";
    case OptionScope::kConsumer: return "consumer_config";
  }
  return "config";
}

}  // namespace drone::drivers
