#include "faults/network/packet_impairer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include <cerrno>
#include <cstring>
#include <queue>
#include <vector>

#include "core/clock.h"
#include "faults/network/command.h"

namespace drone::faults::network {

namespace {

constexpr uint32_t kQueueMaxLen = 65536;
constexpr int kReceiveBuffer = 16 << 20;

// A packet whose verdict waits for its release time. The payload is kept only when the verdict
// needs it (corrupted bytes to hand back, or a copy to write).
struct Held {
  int64_t release_ns;
  uint64_t order;  // arrival order: equal release times keep it
  uint32_t id;
  bool corrupt = false;
  bool duplicate = false;
  std::vector<uint8_t> payload;
};

struct Later {
  bool operator()(const Held& a, const Held& b) const {
    return a.release_ns != b.release_ns ? a.release_ns > b.release_ns : a.order > b.order;
  }
};

// The first byte of the transport payload of an IPv4 packet, or of what follows the IP header.
size_t PayloadStart(const uint8_t* p, size_t len) {
  if (len < 20 || (p[0] >> 4) != 4) return 0;
  const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
  if (ihl >= len) return 0;
  size_t l4 = 0;
  if (p[9] == IPPROTO_UDP) l4 = 8;
  if (p[9] == IPPROTO_TCP && ihl + 12 < len) l4 = static_cast<size_t>(p[ihl + 12] >> 4) * 4;
  return ihl + l4 < len ? ihl + l4 : ihl;
}

}  // namespace

struct PacketImpairer::State {
  nfq_handle* handle = nullptr;
  nfq_q_handle* queue = nullptr;
  int fd = -1;
  int raw_fd = -1;  // for duplicates
  std::mutex mu;
  ImpairmentModel model;              // guarded by mu
  std::optional<Impairment> pending;  // guarded by mu: an Update not yet applied
  std::priority_queue<Held, std::vector<Held>, Later> held;  // impairer thread only
  uint64_t order = 0;
  std::atomic<uint64_t> queued{0}, dropped{0}, duplicated{0}, corrupted{0}, reordered{0},
      delayed{0}, released{0}, max_held{0}, verdict_errors{0};
  std::atomic<int> last_errno{0};
  explicit State(const Impairment& imp) : model(imp) {}

  void Verdict(Held& h) {
    int r;
    if (h.corrupt) {
      r = nfq_set_verdict(queue, h.id, NF_ACCEPT, static_cast<uint32_t>(h.payload.size()),
                          h.payload.data());
    } else {
      r = nfq_set_verdict(queue, h.id, NF_ACCEPT, 0, nullptr);
    }
    if (r < 0) {
      verdict_errors.fetch_add(1, std::memory_order_relaxed);
      last_errno.store(errno, std::memory_order_relaxed);
    }
    released.fetch_add(1, std::memory_order_relaxed);
    if (h.duplicate && raw_fd >= 0 && h.payload.size() >= 20) {
      sockaddr_in dst{};
      dst.sin_family = AF_INET;
      std::memcpy(&dst.sin_addr, h.payload.data() + 16, 4);
      if (::sendto(raw_fd, h.payload.data(), h.payload.size(), 0, reinterpret_cast<sockaddr*>(&dst),
                   sizeof(dst)) >= 0) {
        duplicated.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
};

namespace {

int OnPacket(nfq_q_handle* /*qh*/, nfgenmsg* /*msg*/, nfq_data* nfa, void* data) {
  auto* s = static_cast<PacketImpairer::State*>(data);
  const nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == nullptr) return 0;
  const uint32_t id = ntohl(ph->packet_id);
  unsigned char* payload = nullptr;
  const int len = nfq_get_payload(nfa, &payload);
  const int64_t now = MonotonicNs();
  s->queued.fetch_add(1, std::memory_order_relaxed);
  PacketVerdict v;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->pending) {
      s->model.Update(*s->pending);
      s->pending.reset();
    }
    v = s->model.Decide(now, len > 0 ? static_cast<size_t>(len) : 0);
  }
  if (v.drop) {
    if (nfq_set_verdict(s->queue, id, NF_DROP, 0, nullptr) < 0) {
      s->verdict_errors.fetch_add(1, std::memory_order_relaxed);
      s->last_errno.store(errno, std::memory_order_relaxed);
    }
    s->dropped.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  Held h{now + v.delay_ns, s->order++, id};
  h.duplicate = v.copies > 1;
  if (v.corrupt && len > 0) {
    h.corrupt = true;
    s->corrupted.fetch_add(1, std::memory_order_relaxed);
  }
  if ((h.corrupt || h.duplicate) && len > 0) {
    h.payload.assign(payload, payload + len);
    if (h.corrupt) {
      // The model's offset, moved into the transport payload so the headers stay valid and the
      // receiver's application sees the damage (when its kernel does not drop it on a checksum).
      const size_t start = PayloadStart(h.payload.data(), h.payload.size());
      const size_t span = h.payload.size() - start;
      h.payload[start + v.corrupt_offset % span] ^= v.corrupt_mask;
    }
  }
  if (v.reordered) s->reordered.fetch_add(1, std::memory_order_relaxed);
  if (v.delay_ns <= 0) {
    s->Verdict(h);
    return 0;
  }
  s->delayed.fetch_add(1, std::memory_order_relaxed);
  s->held.push(std::move(h));
  const uint64_t n = s->held.size();
  if (n > s->max_held.load(std::memory_order_relaxed))
    s->max_held.store(n, std::memory_order_relaxed);
  return 0;
}

}  // namespace

nlohmann::json PacketImpairerStats::ToJson() const {
  return {{"queued", queued},        {"dropped", dropped},     {"duplicated", duplicated},
          {"corrupted", corrupted},  {"reordered", reordered}, {"delayed", delayed},
          {"released", released},    {"max_held", max_held},   {"verdict_errors", verdict_errors},
          {"last_error", last_error}};
}

Result<std::unique_ptr<PacketImpairer>> PacketImpairer::Start(const std::string& netns, int queue,
                                                              const Impairment& impairment) {
  if (queue < 0 || queue > 65535) return InvalidArgument("NFQUEUE number must be 0..65535");
  std::unique_ptr<PacketImpairer> p(new PacketImpairer());
  p->netns_ = netns;
  p->queue_ = queue;
  p->state_ = std::make_unique<State>(impairment);
  State* s = p->state_.get();
  auto open = [&]() -> Status {
    s->handle = nfq_open();
    if (s->handle == nullptr) {
      return FailedPrecondition(std::string("nfq_open: ") + std::strerror(errno) +
                                " (NFQUEUE needs CAP_NET_ADMIN)");
    }
    s->queue = nfq_create_queue(s->handle, static_cast<uint16_t>(queue), &OnPacket, s);
    if (s->queue == nullptr) {
      return FailedPrecondition("NFQUEUE " + std::to_string(queue) + " cannot be bound (" +
                                std::strerror(errno) + "): another impairer holds it?");
    }
    if (nfq_set_mode(s->queue, NFQNL_COPY_PACKET, 0xffff) < 0) {
      return Internal(std::string("nfq_set_mode: ") + std::strerror(errno));
    }
    // Best effort: older kernels lack these, and the impairer still works without them.
    nfq_set_queue_maxlen(s->queue, kQueueMaxLen);
    nfq_set_queue_flags(s->queue, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
    s->fd = nfq_fd(s->handle);
    ::setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof(kReceiveBuffer));
    const int one = 1;
    // A burst that overruns the socket must not stop the loop with ENOBUFS.
    ::setsockopt(s->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
    ::fcntl(s->fd, F_SETFL, ::fcntl(s->fd, F_GETFL) | O_NONBLOCK);
    s->raw_fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (s->raw_fd < 0)
      return FailedPrecondition(std::string("raw socket: ") + std::strerror(errno));
    const uint32_t mark = kInjectMark;
    if (::setsockopt(s->raw_fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
      return FailedPrecondition(std::string("SO_MARK: ") + std::strerror(errno));
    }
    return Status::Ok();
  };
  Status st = netns.empty() ? open() : WithNetns(netns, open);
  if (st.ok()) {
    p->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->wake_fd_ < 0) st = Internal(std::string("eventfd: ") + std::strerror(errno));
  }
  if (!st.ok()) {
    p->Stop();
    return st.WithContext("userspace impairer in " + (netns.empty() ? "this namespace" : netns));
  }
  p->thread_ = std::thread([raw = p.get()] { raw->Loop(); });
  return p;
}

PacketImpairer::~PacketImpairer() { Stop(); }

void PacketImpairer::Update(const Impairment& impairment) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->pending = impairment;
}

PacketImpairerStats PacketImpairer::stats() const {
  PacketImpairerStats out;
  const State& s = *state_;
  out.queued = s.queued.load();
  out.dropped = s.dropped.load();
  out.duplicated = s.duplicated.load();
  out.corrupted = s.corrupted.load();
  out.reordered = s.reordered.load();
  out.delayed = s.delayed.load();
  out.released = s.released.load();
  out.max_held = s.max_held.load();
  out.verdict_errors = s.verdict_errors.load();
  out.last_error = s.last_errno.load() ? std::strerror(s.last_errno.load()) : "";
  return out;
}

void PacketImpairer::Loop() {
  State& s = *state_;
  std::vector<char> buf(256 * 1024);
  while (!stop_.load(std::memory_order_acquire)) {
    timespec ts{0, 200'000'000};
    timespec* timeout = &ts;
    if (!s.held.empty()) {
      const int64_t wait = std::max<int64_t>(0, s.held.top().release_ns - MonotonicNs());
      ts = {static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    }
    pollfd fds[2] = {{s.fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int r = ::ppoll(fds, 2, timeout, nullptr);
    if (r > 0 && (fds[0].revents & POLLIN)) {
      // Bounded per round so that due releases are never starved by a flood.
      for (int i = 0; i < 256; ++i) {
        const ssize_t n = ::recv(s.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n <= 0) break;
        nfq_handle_packet(s.handle, buf.data(), static_cast<int>(n));
      }
    }
    const int64_t now = MonotonicNs();
    while (!s.held.empty() && s.held.top().release_ns <= now) {
      Held h = s.held.top();
      s.held.pop();
      s.Verdict(h);
    }
  }
  // Healing: what is in flight arrives now rather than never.
  while (!s.held.empty()) {
    Held h = s.held.top();
    s.held.pop();
    s.Verdict(h);
  }
}

void PacketImpairer::Stop() {
  std::call_once(stopped_, [this] {
    stop_.store(true, std::memory_order_release);
    if (wake_fd_ >= 0) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t w = ::write(wake_fd_, &one, sizeof(one));
    }
    if (thread_.joinable()) thread_.join();
    if (state_) {
      if (state_->queue) nfq_destroy_queue(state_->queue);
      if (state_->handle) nfq_close(state_->handle);
      if (state_->raw_fd >= 0) ::close(state_->raw_fd);
      state_->queue = nullptr;
      state_->handle = nullptr;
      state_->raw_fd = -1;
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
    wake_fd_ = -1;
  });
}

}  // namespace drone::faults::network
