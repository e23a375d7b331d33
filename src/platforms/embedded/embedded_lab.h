// EmbeddedLab: an embedded Kafka cluster in a lab network (`network: lab`). The mock's brokers
// live in Drone's process and listen on 127.0.0.1, and they advertise exactly that address in
// their metadata (librdkafka 2.0's mock has no call to change it), so no namespace can sit between
// them and a client that dials them directly. Instead every broker becomes a lab host of its own
// (namespace `drone-<run>-<cluster>-broker-<i>`, address 10.213.0.N) and the clients get a host
// `clients`, joined by two pass-through TCP proxies per broker:
//
//   client (clients) -> 127.0.0.1:P (clients' loopback; the advertised address)
//     -> proxy -> 10.213.0.N:P (the broker's host, across the lab's veths and bridge)
//     -> proxy -> 127.0.0.1:P in Drone's own namespace -> the mock broker
//
// The first proxy runs in the clients' namespace; the second listens in the broker's namespace
// and connects out from Drone's own. Every byte between a client and broker i crosses the link
// clients <-> broker-i, so fault.network and fault.partition on that link act on Kafka traffic
// as they do on a real server's. Brokers of the mock do not talk to each other (there is no
// replication traffic), so links between brokers carry nothing.
//
// Thread-safety: created and stopped by one thread; the accessors only read.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "faults/network/lab_network.h"
#include "faults/network/tcp_proxy.h"

namespace drone::platforms {

class EmbeddedLab {
 public:
  // `lab_id` names the lab ("<run>-<cluster>"); `brokers` are the node names, `listeners` the
  // mock's "127.0.0.1:PORT" of each, in the same order. On error nothing is left.
  static Result<std::unique_ptr<EmbeddedLab>> Create(const std::string& lab_id,
                                                     const std::vector<std::string>& brokers,
                                                     const std::vector<std::string>& listeners);
  ~EmbeddedLab() { (void)Stop(); }
  EmbeddedLab(const EmbeddedLab&) = delete;
  EmbeddedLab& operator=(const EmbeddedLab&) = delete;

  const faults::network::LabNetwork* lab() const { return lab_.get(); }
  // The clients' namespace: clients that enter it reach the brokers at their advertised
  // addresses (the mock's bootstrap list), through the lab.
  std::string ClientNetns() const;
  // Broker i's address in the lab ("10.213.0.N:PORT"), in the order of Create's `brokers`.
  const std::vector<std::string>& LabAddresses() const { return lab_addresses_; }

  // Closes the proxies (every client connection with them), then deletes the namespaces.
  // Idempotent.
  Status Stop();

 private:
  EmbeddedLab() = default;

  std::unique_ptr<faults::network::LabNetwork> lab_;
  std::vector<std::string> lab_addresses_;
  std::vector<std::unique_ptr<faults::network::TcpProxy>> proxies_;
};

}  // namespace drone::platforms
