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

}  // namespace drone::drivers
