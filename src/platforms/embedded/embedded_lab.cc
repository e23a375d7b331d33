#include "platforms/embedded/embedded_lab.h"

#include "core/log.h"
#include "faults/network/command.h"
#include "faults/network/impairment.h"

namespace drone::platforms {
namespace {

namespace net = faults::network;

// The lab host every client of the cluster runs in, as on platform local.
constexpr char kClientsHost[] = "clients";

}  // namespace

Result<std::unique_ptr<EmbeddedLab>> EmbeddedLab::Create(
    const std::string& lab_id, const std::vector<std::string>& brokers,
    const std::vector<std::string>& listeners) {
  if (brokers.size() != listeners.size() || brokers.empty()) {
    return Internal("embedded Kafka lab: " + std::to_string(brokers.size()) + " brokers but " +
                    std::to_string(listeners.size()) + " listeners");
  }
  std::vector<std::string> hosts = brokers;
  hosts.push_back(kClientsHost);
  std::unique_ptr<EmbeddedLab> out(new EmbeddedLab());
  ASSIGN_OR_RETURN(out->lab_, net::LabNetwork::Create(lab_id, hosts));
  ASSIGN_OR_RETURN(const net::LabHost* clients, out->lab_->Host(kClientsHost));
  const net::Impairment none;
  for (size_t i = 0; i < brokers.size(); ++i) {
    const net::LabHost& host = out->lab_->hosts()[i];
    const size_t colon = listeners[i].rfind(':');
    if (colon == std::string::npos) {
      return Internal("embedded Kafka lab: a listener without a port: " + listeners[i]);
    }
    const std::string lab_address = host.address + listeners[i].substr(colon);
    // Listens in the broker's host, connects to the mock from Drone's own namespace.
    ASSIGN_OR_RETURN(auto back,
                     net::TcpProxy::Start(lab_address, listeners[i], none, none, host.netns));
    out->proxies_.push_back(std::move(back));
    // Listens on the clients' loopback at the address the mock advertises; its thread, created
    // in the clients' namespace, opens the connections across the lab from there.
    std::unique_ptr<net::TcpProxy> front;
    RETURN_IF_ERROR(net::WithNetns(clients->netns, [&]() -> Status {
                      ASSIGN_OR_RETURN(front,
                                       net::TcpProxy::Start(listeners[i], lab_address, none, none));
                      return Status::Ok();
                    }).WithContext("embedded Kafka lab: the clients' way to " + brokers[i]));
    out->proxies_.push_back(std::move(front));
    out->lab_addresses_.push_back(lab_address);
  }
  return out;
}

std::string EmbeddedLab::ClientNetns() const {
  if (!lab_) return "";
  Result<const net::LabHost*> clients = lab_->Host(kClientsHost);
  return clients.ok() ? (*clients)->netns : "";
}

Status EmbeddedLab::Stop() {
  for (auto& p : proxies_) p->Stop();
  proxies_.clear();
  if (!lab_) return Status::Ok();
  return lab_->Teardown();
}

}  // namespace drone::platforms
