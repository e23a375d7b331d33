// Vocabulary of delivery checking: what a producer learned about one send (SendOutcome) and what
// the workload promised (Guarantee). Plain enums and constexpr helpers; thread-safe.
//
// Guarantee mirrors drone::spec::Guarantee value for value; verify/ sits below spec/ and does not
// include it, so the workload engine converts between the two.
#pragma once

#include <cstdint>

namespace drone::verify {

// The outcome of sending one message, as the producer learned it. The numeric values are stored
// in the ledger's 2-bit cells, so they must stay within 0..3.
enum class SendOutcome : uint8_t {
  kNone = 0,           // no outcome recorded (never sent, or still in flight)
  kAck = 1,            // the broker confirmed the message
  kNack = 2,           // the broker (or client) reported a definite failure
  kIndeterminate = 3,  // timeout, disconnect: the producer cannot know
};

// The delivery promise a workload is judged against.
enum class Guarantee { kAtMostOnce, kAtLeastOnce, kExactlyOnce, kOrdered };

constexpr const char* SendOutcomeName(SendOutcome outcome) {
  switch (outcome) {
    case SendOutcome::kNone:
      return "none";
    case SendOutcome::kAck:
      return "ack";
    case SendOutcome::kNack:
      return "nack";
    case SendOutcome::kIndeterminate:
      return "indeterminate";
  }
  return "?";
}

// The spelling used in flow files: "at-most-once", "at-least-once", "exactly-once", "ordered".
constexpr const char* GuaranteeName(Guarantee guarantee) {
  switch (guarantee) {
    case Guarantee::kAtMostOnce:
      return "at-most-once";
    case Guarantee::kAtLeastOnce:
      return "at-least-once";
    case Guarantee::kExactlyOnce:
      return "exactly-once";
    case Guarantee::kOrdered:
      return "ordered";
  }
  return "?";
}

}  // namespace drone::verify
