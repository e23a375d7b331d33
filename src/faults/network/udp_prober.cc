#include "faults/network/udp_prober.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <ctime>
#include <thread>

#include "core/clock.h"
#include "faults/network/command.h"

namespace drone::faults::network {
namespace {

constexpr uint32_t kMagic = 0xd7a1fa17;
constexpr size_t kHeader = 4 + 4 + 8 + 8;  // magic, seq, sent_ns, checksum

uint64_t Fnv(const uint8_t* p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

// Everything but the checksum field, so corruption anywhere shows.
// Send and arrival times both on CLOCK_REALTIME, the clock of the kernel's receive timestamps;
// sender and receiver are one process, so no offset enters.
int64_t RealtimeNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

uint64_t Checksum(const uint8_t* p, size_t n) {
  return Fnv(p, 16) ^ (n > kHeader ? Fnv(p + kHeader, n - kHeader) * 31 : 0);
}

}  // namespace

double ProbeResult::MeanLatencyMs() const {
  if (latency_ns.empty()) return 0;
  double sum = 0;
  for (int64_t l : latency_ns) sum += static_cast<double>(l);
  return sum / static_cast<double>(latency_ns.size()) / 1e6;
}

double ProbeResult::StddevLatencyMs() const {
  if (latency_ns.size() < 2) return 0;
  const double mean = MeanLatencyMs() * 1e6;
  double sum = 0;
  for (int64_t l : latency_ns)
    sum += (static_cast<double>(l) - mean) * (static_cast<double>(l) - mean);
  return std::sqrt(sum / static_cast<double>(latency_ns.size() - 1)) / 1e6;
}

double ProbeResult::PercentileLatencyMs(double q) const {
  if (latency_ns.empty()) return 0;
  std::vector<int64_t> v = latency_ns;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return static_cast<double>(v[i]) / 1e6;
}

double ProbeResult::ReceiveBitsPerSecond() const {
  if (last_rx_ns <= first_rx_ns || received < 2) return 0;
  // The first arrival opens the interval, so its bytes are not part of the rate.
  const double bytes = static_cast<double>(rx_bytes) * (received - 1) / received;
  return bytes * 8 / (static_cast<double>(last_rx_ns - first_rx_ns) / 1e9);
}

Result<ProbeResult> ProbeUdp(const std::string& from_netns, const std::string& to_netns,
                             const std::string& to_address, const ProbeOptions& o) {
  if (o.size < 32 || o.size > 65000) return InvalidArgument("probe size must be 32..65000 bytes");
  if (o.count <= 0) return InvalidArgument("probe count must be positive");
  ASSIGN_OR_RETURN(int rx, SocketInNetns(to_netns, AF_INET, SOCK_DGRAM, 0));
  auto tx_r = SocketInNetns(from_netns, AF_INET, SOCK_DGRAM, 0);
  if (!tx_r.ok()) {
    ::close(rx);
    return tx_r.status();
  }
  const int tx = *tx_r;
  const int buf_size = 32 << 20;
  ::setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &buf_size, sizeof(buf_size));
  ::setsockopt(tx, SOL_SOCKET, SO_SNDBUFFORCE, &buf_size, sizeof(buf_size));
  const int on = 1;
  ::setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(o.port);
  if (::inet_pton(AF_INET, to_address.c_str(), &at.sin_addr) != 1 ||
      ::bind(rx, reinterpret_cast<sockaddr*>(&at), sizeof(at)) != 0) {
    const std::string err = std::strerror(errno);
    ::close(rx);
    ::close(tx);
    return FailedPrecondition("probe receiver cannot bind " + to_address + ": " + err);
  }
  socklen_t len = sizeof(at);
  ::getsockname(rx, reinterpret_cast<sockaddr*>(&at), &len);

  ProbeResult result;
  result.sent = o.count;
  std::vector<uint8_t> seen(static_cast<size_t>(o.count), 0);
  std::atomic<int64_t> stop_at{0};  // 0: the sender is still sending
  std::thread receiver([&] {
    std::vector<uint8_t> buf(65536);
    int64_t highest = -1;
    while (true) {
      const int64_t stop = stop_at.load(std::memory_order_acquire);
      const int64_t now = MonotonicNs();
      if (stop != 0 && now >= stop) break;
      pollfd p{rx, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      // Two arrival times: when this thread read the datagram (for latency: an impairment on the
      // receiver's INPUT hook holds packets after the device stamped them), and the device's
      // (SO_TIMESTAMPNS, for the rate: a receiver thread running late on a busy machine reads a
      // burst at once, which would inflate the rate).
      iovec iov{buf.data(), buf.size()};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      const ssize_t n = ::recvmsg(rx, &msg, MSG_DONTWAIT);
      const int64_t t = RealtimeNs();
      int64_t t_dev = t;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
          t_dev = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
        }
      }
      if (n < static_cast<ssize_t>(kHeader)) continue;
      uint32_t magic, seq;
      uint64_t sent_ns, sum;
      std::memcpy(&magic, buf.data(), 4);
      std::memcpy(&seq, buf.data() + 4, 4);
      std::memcpy(&sent_ns, buf.data() + 8, 8);
      std::memcpy(&sum, buf.data() + 16, 8);
      if (magic != kMagic || seq >= seen.size() ||
          sum != Checksum(buf.data(), static_cast<size_t>(n)) || static_cast<size_t>(n) != o.size) {
        ++result.corrupt;
        continue;
      }
      if (seen[seq]) {
        ++result.duplicates;
        continue;
      }
      seen[seq] = 1;
      if (static_cast<int64_t>(seq) < highest) ++result.reordered;
      highest = std::max<int64_t>(highest, seq);
      ++result.received;
      result.rx_bytes += n;
      result.latency_ns.push_back(t - static_cast<int64_t>(sent_ns));
      if (result.first_rx_ns == 0) result.first_rx_ns = t_dev;
      result.first_rx_ns = std::min(result.first_rx_ns, t_dev);
      result.last_rx_ns = std::max(result.last_rx_ns, t_dev);
    }
  });

  std::vector<uint8_t> pkt(o.size);
  for (size_t i = kHeader; i < o.size; ++i) pkt[i] = static_cast<uint8_t>(i * 7);
  std::memcpy(pkt.data(), &kMagic, 4);
  const int64_t start = MonotonicNs();
  for (int i = 0; i < o.count; ++i) {
    if (o.interval_ns > 0) {
      const int64_t due = start + static_cast<int64_t>(i) * o.interval_ns;
      // Open-loop pacing: sleep most of the gap, spin the last stretch for precision.
      while (true) {
        const int64_t left = due - MonotonicNs();
        if (left <= 0) break;
        if (left > 200'000) ::usleep(static_cast<useconds_t>((left - 100'000) / 1000));
      }
    }
    const uint32_t seq = static_cast<uint32_t>(i);
    const uint64_t now = static_cast<uint64_t>(RealtimeNs());
    std::memcpy(pkt.data() + 4, &seq, 4);
    std::memcpy(pkt.data() + 8, &now, 8);
    const uint64_t sum = Checksum(pkt.data(), pkt.size());
    std::memcpy(pkt.data() + 16, &sum, 8);
    while (::sendto(tx, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&at), sizeof(at)) <
           0) {
      if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
        ++result.send_failures;
        result.last_send_error = std::strerror(errno);
        break;
      }
      ::usleep(50);  // a full queue below us: wait for room rather than lose the probe
    }
  }
  result.send_span_ns = MonotonicNs() - start;
  stop_at.store(MonotonicNs() + o.settle_ns, std::memory_order_release);
  receiver.join();
  ::close(tx);
  ::close(rx);
  return result;
}

}  // namespace drone::faults::network
