#include "faults/network/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <vector>

#include "core/clock.h"
#include "faults/network/command.h"

namespace drone::faults::network {
namespace {

constexpr size_t kMaxQueued = 256 * 1024;  // per direction, before the source is no longer read
constexpr size_t kReadChunk = 16 * 1024;
constexpr uint64_t kListenerTag = 0, kWakeTag = 1, kTimerTag = 2, kFirstConn = 4;

Result<sockaddr_in> ParseAddress(const std::string& text) {
  const size_t colon = text.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgument("'" + text + "' is not HOST:PORT (numeric IPv4, e.g. 127.0.0.1:9092)");
  }
  const std::string host = text.substr(0, colon), port = text.substr(colon + 1);
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535 ||
      ::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    return InvalidArgument("'" + text + "' is not HOST:PORT (numeric IPv4, e.g. 127.0.0.1:9092)");
  }
  a.sin_port = htons(static_cast<uint16_t>(p));
  return a;
}

// The proxy never drops bytes of a stream: the rate only delays them (back-pressure bounds the
// queue), so the model's queue limit is lifted.
Impairment ForStream(Impairment imp) {
  if (imp.rate) imp.rate->limit_ns = int64_t{3600} * 1'000'000'000;
  return imp;
}

void Abort(int fd) {
  linger l{1, 0};  // close with a reset, not a FIN
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  ::close(fd);
}

struct Chunk {
  int64_t release_ns;
  std::string data;
  size_t off = 0;
};

struct Flow {
  int src = -1, dst = -1;
  std::deque<Chunk> q;
  size_t queued = 0;
  bool src_eof = false, dst_shut = false, src_pending = false;
  int64_t last_release = 0;
  ImpairmentModel model;
  SeededRandom slicer_rng;
  explicit Flow(const Impairment& imp) : model(ForStream(imp)), slicer_rng(imp.seed ^ 0x51ce) {}
};

struct Conn {
  uint64_t id = 0;
  int client = -1, server = -1;
  bool connected = false, dead = false;
  Flow up, down;
  Conn(const Impairment& u, const Impairment& d) : up(u), down(d) {}
};

}  // namespace

struct TcpProxy::Impl {
  int listener = -1, epoll = -1, wake = -1, timer = -1;
  sockaddr_in upstream{};
  std::thread thread;
  std::atomic<bool> stop{false};
  std::once_flag stopped;

  std::mutex mu;
  Impairment up, down;   // guarded by mu
  bool changed = false;  // guarded by mu
  // Set with `changed`, read without the lock: bytes read after an Update() returned must get
  // the new impairment even when they arrive in the same loop turn as the wake-up.
  std::atomic<bool> pending{false};
  uint64_t requested = 0, applied = 0;  // guarded by mu: Update() generations
  std::condition_variable applied_cv;
  bool reset_open = false;  // guarded by mu

  // Owned by the proxy thread.
  Impairment cur_up, cur_down;
  std::map<uint64_t, std::unique_ptr<Conn>> conns;
  uint64_t next_id = kFirstConn;

  std::atomic<uint64_t> n_conns{0}, n_resets{0}, n_up{0}, n_down{0}, n_blackholed{0}, n_open{0};

  void Watch(int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = tag;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev);
  }

  void Kill(Conn& c, bool reset) {
    if (c.dead) return;
    c.dead = true;
    for (int fd : {c.client, c.server}) {
      if (fd < 0) continue;
      ::epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nullptr);
      if (reset)
        Abort(fd);
      else
        ::close(fd);
    }
  }

  void Accept() {
    while (true) {
      const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      n_conns.fetch_add(1);
      // The handshake of this connection completed before accept4 returned, so an Update()
      // that returned before the client connected is already pending: apply it first, or a
      // connection made after a heal would still be reset by the healed fault.
      ApplyUpdate();
      if (cur_up.reset || cur_down.reset) {
        n_resets.fetch_add(1);
        Abort(fd);
        continue;
      }
      const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (s < 0) {
        ::close(fd);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      const int r = ::connect(s, reinterpret_cast<const sockaddr*>(&upstream), sizeof(upstream));
      if (r != 0 && errno != EINPROGRESS) {
        ::close(s);
        ::close(fd);
        continue;
      }
      auto c = std::make_unique<Conn>(cur_up, cur_down);
      c->id = next_id;
      next_id += 2;
      c->client = fd;
      c->server = s;
      c->connected = r == 0;
      c->up.src = fd;
      c->up.dst = s;
      c->down.src = s;
      c->down.dst = fd;
      Watch(fd, c->id);
      Watch(s, c->id + 1);
      conns[c->id] = std::move(c);
    }
  }

  // Reads what the source has, up to the queue bound, and schedules it.
  void Read(Conn& c, Flow& f, const Impairment& imp, std::atomic<uint64_t>& counter) {
    (void)counter;
    if (pending.load(std::memory_order_acquire)) ApplyUpdate();  // `imp` is cur_up or cur_down
    if (f.src_eof || c.dead) return;
    char buf[kReadChunk];
    while (f.queued < kMaxQueued) {
      const ssize_t n = ::recv(f.src, buf, sizeof(buf), 0);
      if (n == 0) {
        f.src_eof = true;
        f.src_pending = false;
        return;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          f.src_pending = false;
          return;
        }
        if (errno == EINTR) continue;
        Kill(c, true);
        return;
      }
      if (imp.blackhole) {
        n_blackholed.fetch_add(static_cast<uint64_t>(n));
        continue;
      }
      const int64_t now = MonotonicNs();
      const PacketVerdict v = f.model.Decide(now, static_cast<size_t>(n));
      // Bytes of a stream keep their order whatever the jitter drew.
      int64_t release = std::max(now + v.delay_ns, f.last_release);
      if (imp.slicer) {
        size_t off = 0;
        while (off < static_cast<size_t>(n)) {
          const int64_t var = imp.slicer->variation_bytes;
          int64_t size = imp.slicer->size_bytes;
          if (var > 0) size += static_cast<int64_t>(f.slicer_rng.Next() % (2 * var + 1)) - var;
          const size_t take = std::min(static_cast<size_t>(std::max<int64_t>(1, size)),
                                       static_cast<size_t>(n) - off);
          f.q.push_back({release, std::string(buf + off, take)});
          off += take;
          release += imp.slicer->delay_ns;
        }
        release -= imp.slicer->delay_ns;
      } else {
        f.q.push_back({release, std::string(buf, static_cast<size_t>(n))});
      }
      f.last_release = release;
      f.queued += static_cast<size_t>(n);
    }
    f.src_pending = true;  // stopped at the bound with data possibly left: read again on drain
  }

  // Writes what is due; then passes an end of stream on.
  void Flush(Conn& c, Flow& f, const Impairment& imp, std::atomic<uint64_t>& counter) {
    if (c.dead || !c.connected) return;
    const int64_t now = MonotonicNs();
    while (!f.q.empty() && f.q.front().release_ns <= now) {
      Chunk& ch = f.q.front();
      const ssize_t n =
          ::send(f.dst, ch.data.data() + ch.off, ch.data.size() - ch.off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        Kill(c, true);
        return;
      }
      ch.off += static_cast<size_t>(n);
      counter.fetch_add(static_cast<uint64_t>(n));
      if (ch.off < ch.data.size()) break;
      f.queued -= ch.data.size();
      f.q.pop_front();
    }
    if (f.src_pending && f.queued < kMaxQueued) Read(c, f, imp, counter);
    if (f.q.empty() && f.src_eof && !f.dst_shut) {
      ::shutdown(f.dst, SHUT_WR);
      f.dst_shut = true;
    }
  }

  void Pump(Conn& c) {
    Read(c, c.up, cur_up, n_up);
    Read(c, c.down, cur_down, n_down);
    Flush(c, c.up, cur_up, n_up);
    Flush(c, c.down, cur_down, n_down);
    if (c.up.dst_shut && c.down.dst_shut) Kill(c, false);
  }

  void ApplyUpdate() {
    std::lock_guard<std::mutex> lock(mu);
    if (!changed) return;
    changed = false;
    pending.store(false, std::memory_order_release);
    if (reset_open) {
      reset_open = false;
      for (auto& [id, c] : conns) {
        n_resets.fetch_add(1);
        Kill(*c, true);
      }
    }
    cur_up = up;
    cur_down = down;
    for (auto& [id, c] : conns) {
      if (cur_up.reset || cur_down.reset) {
        n_resets.fetch_add(1);
        Kill(*c, true);
        continue;
      }
      c->up.model.Update(ForStream(cur_up));
      c->down.model.Update(ForStream(cur_down));
      // A blackhole takes what it holds too, as a dropped link loses the packets in flight.
      for (auto [f, hole] : {std::pair{&c->up, cur_up.blackhole}, {&c->down, cur_down.blackhole}}) {
        if (!hole) continue;
        for (const Chunk& ch : f->q) n_blackholed.fetch_add(ch.data.size() - ch.off);
        f->q.clear();
        f->queued = 0;
      }
    }
    applied = requested;
    applied_cv.notify_all();
  }

  void Loop() {
    epoll_event events[64];
    while (!stop.load(std::memory_order_acquire)) {
      // Arm the timer for the earliest chunk not yet due.
      int64_t next = 0;
      for (auto& [id, c] : conns) {
        for (Flow* f : {&c->up, &c->down}) {
          if (!f->q.empty() && (next == 0 || f->q.front().release_ns < next)) {
            next = f->q.front().release_ns;
          }
        }
      }
      itimerspec its{};
      if (next != 0) {
        // MonotonicNs is CLOCK_MONOTONIC, so an absolute timerfd deadline matches it.
        next = std::max<int64_t>(next, 1);
        its.it_value = {static_cast<time_t>(next / 1'000'000'000),
                        static_cast<long>(next % 1'000'000'000)};
      }
      ::timerfd_settime(timer, TFD_TIMER_ABSTIME, &its, nullptr);
      const int n = ::epoll_wait(epoll, events, 64, 1000);
      // An Update() that returned before these events happened must govern them, whatever order
      // epoll reports the wake-up in among them.
      ApplyUpdate();
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[i].data.u64;
        if (tag == kListenerTag) {
          Accept();
        } else if (tag == kWakeTag) {
          uint64_t v;
          [[maybe_unused]] ssize_t r = ::read(wake, &v, sizeof(v));
          ApplyUpdate();
        } else if (tag == kTimerTag) {
          uint64_t v;
          [[maybe_unused]] ssize_t r = ::read(timer, &v, sizeof(v));
        } else {
          auto it = conns.find(tag & ~uint64_t{1});
          if (it == conns.end()) continue;
          Conn& c = *it->second;
          if ((tag & 1) && !c.connected && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            int err = 0;
            socklen_t len = sizeof(err);
            ::getsockopt(c.server, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
              Kill(c, true);  // upstream refused: the client sees a reset, as from the server
              continue;
            }
            c.connected = true;
          }
        }
      }
      for (auto it = conns.begin(); it != conns.end();) {
        Pump(*it->second);
        it = it->second->dead ? conns.erase(it) : std::next(it);
      }
      n_open.store(conns.size());
    }
    for (auto& [id, c] : conns) Kill(*c, false);
    conns.clear();
    n_open.store(0);
  }
};

nlohmann::json TcpProxyStats::ToJson() const {
  return {{"connections", connections},
          {"resets", resets},
          {"bytes_up", bytes_up},
          {"bytes_down", bytes_down},
          {"bytes_blackholed", bytes_blackholed},
          {"open", open}};
}

std::string ProxyUnsupportedFields(const Impairment& imp) {
  std::string out;
  auto add = [&](bool present, const char* name) {
    if (present) out += (out.empty() ? "" : ", ") + std::string(name);
  };
  add(imp.loss.has_value(), "loss");
  add(imp.duplicate.has_value(), "duplicate");
  add(imp.corrupt.has_value(), "corrupt");
  add(imp.reorder.has_value(), "reorder");
  return out;
}

Result<std::unique_ptr<TcpProxy>> TcpProxy::Start(const std::string& listen,
                                                  const std::string& upstream, const Impairment& up,
                                                  const Impairment& down,
                                                  const std::string& listen_netns) {
  for (const Impairment* imp : {&up, &down}) {
    const std::string bad = ProxyUnsupportedFields(*imp);
    if (!bad.empty()) {
      return FailedPrecondition(bad +
                                ": packet faults cannot happen inside a TCP stream; the TCP "
                                "proxy carries delay, rate, reset, blackhole and slicer");
    }
  }
  ASSIGN_OR_RETURN(sockaddr_in at, ParseAddress(listen));
  ASSIGN_OR_RETURN(sockaddr_in to, ParseAddress(upstream));
  std::unique_ptr<TcpProxy> p(new TcpProxy());
  p->impl_ = std::make_unique<Impl>();
  Impl& m = *p->impl_;
  m.upstream = to;
  m.up = m.cur_up = up;
  m.down = m.cur_down = down;
  if (listen_netns.empty()) {
    m.listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  } else {
    Result<int> s =
        SocketInNetns(listen_netns, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!s.ok()) {
      p->Stop();
      return s.status().WithContext("TCP proxy on " + listen);
    }
    m.listener = *s;
  }
  const int one = 1;
  ::setsockopt(m.listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (m.listener < 0 || ::bind(m.listener, reinterpret_cast<sockaddr*>(&at), sizeof(at)) != 0 ||
      ::listen(m.listener, 128) != 0) {
    const std::string err = std::strerror(errno);
    p->Stop();
    return FailedPrecondition("TCP proxy cannot listen on " + listen + ": " + err);
  }
  socklen_t len = sizeof(at);
  ::getsockname(m.listener, reinterpret_cast<sockaddr*>(&at), &len);
  p->port_ = ntohs(at.sin_port);
  char host[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &at.sin_addr, host, sizeof(host));
  p->host_ = host;
  m.epoll = ::epoll_create1(EPOLL_CLOEXEC);
  m.wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  m.timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (m.epoll < 0 || m.wake < 0 || m.timer < 0) {
    const std::string err = std::strerror(errno);
    p->Stop();
    return Internal("TCP proxy: " + err);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerTag;
  ::epoll_ctl(m.epoll, EPOLL_CTL_ADD, m.listener, &ev);
  ev.data.u64 = kWakeTag;
  ::epoll_ctl(m.epoll, EPOLL_CTL_ADD, m.wake, &ev);
  ev.data.u64 = kTimerTag;
  ::epoll_ctl(m.epoll, EPOLL_CTL_ADD, m.timer, &ev);
  m.thread = std::thread([&m] { m.Loop(); });
  return p;
}

TcpProxy::~TcpProxy() { Stop(); }

std::string TcpProxy::address() const { return host_ + ":" + std::to_string(port_); }

Status TcpProxy::Update(const Impairment& up, const Impairment& down) {
  for (const Impairment* imp : {&up, &down}) {
    const std::string bad = ProxyUnsupportedFields(*imp);
    if (!bad.empty()) return FailedPrecondition(bad + ": the TCP proxy cannot carry packet faults");
  }
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->up = up;
    impl_->down = down;
    impl_->changed = true;
    impl_->pending.store(true, std::memory_order_release);
    generation = ++impl_->requested;
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t w = ::write(impl_->wake, &one, sizeof(one));
  // Returns once the proxy thread has taken it, so that counters read afterwards belong to the
  // new impairment; bounded, in case the thread is gone (stopped).
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->applied_cv.wait_for(lock, std::chrono::seconds(2), [&] {
    return impl_->applied >= generation || impl_->stop.load();
  });
  return Status::Ok();
}

TcpProxyStats TcpProxy::stats() const {
  TcpProxyStats s;
  s.connections = impl_->n_conns.load();
  s.resets = impl_->n_resets.load();
  s.bytes_up = impl_->n_up.load();
  s.bytes_down = impl_->n_down.load();
  s.bytes_blackholed = impl_->n_blackholed.load();
  s.open = impl_->n_open.load();
  return s;
}

void TcpProxy::ResetOpen() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->reset_open = true;
    impl_->changed = true;
    impl_->pending.store(true, std::memory_order_release);
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t w = ::write(impl_->wake, &one, sizeof(one));
}

void TcpProxy::Stop() {
  if (!impl_) return;
  Impl& m = *impl_;
  std::call_once(m.stopped, [&m] {
    m.stop.store(true, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(m.mu);  // an Update() waiting for the thread gives up
      m.applied_cv.notify_all();
    }
    if (m.wake >= 0) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t w = ::write(m.wake, &one, sizeof(one));
    }
    if (m.thread.joinable()) m.thread.join();
    for (int* fd : {&m.listener, &m.epoll, &m.wake, &m.timer}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  });
}

}  // namespace drone::faults::network
