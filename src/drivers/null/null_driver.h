// The null driver: a broker that accepts everything at once and stores nothing. Producers ack
// every message on the next Poll()/Flush(); consumers never receive anything. With it a workload
// measures Drone's own cost per message — envelope encoding, open-loop scheduling, the delivery
// ledger, histograms, the history log — i.e. the ceiling of the generator
// (bench/generator_bench.cc). Not registered in the builtin registry: it is a measuring
// instrument, not a broker a flow should name.
//
// Thread-safety: as drivers::Driver — the driver is safe for concurrent use; each Admin, Producer
// and Consumer it creates is used by one thread at a time.
#pragma once

#include <memory>

#include "drivers/driver.h"

namespace drone::drivers {

// Every topic has `partitions` lanes (>= 1).
std::unique_ptr<Driver> NewNullDriver(int partitions);

}  // namespace drone::drivers
