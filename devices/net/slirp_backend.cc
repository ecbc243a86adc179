#include "devices/net/slirp_backend.h"

#include <arpa/inet.h>
#include <libslirp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace devices::net {
namespace {

// The addresses QEMU's user networking uses, which guides and users expect.
constexpr char kNetwork[] = "10.0.2.0";
constexpr char kNetmask[] = "255.255.255.0";
constexpr char kHost[] = "10.0.2.2";
constexpr char kDhcpStart[] = "10.0.2.15";
constexpr char kNameserver[] = "10.0.2.3";
constexpr uint64_t kGuestErrorLogLimit = 10;

in_addr ipv4(const char* text) {
  in_addr addr{};
  if (inet_pton(AF_INET, text, &addr) != 1) {
    throw std::invalid_argument(std::string("not an IPv4 address: ") + text);
  }
  return addr;
}

// CLOCK_MONOTONIC, which the timerfd counts in too.
int64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1'000'000'000 + t.tv_nsec;
}

void drain(int fd) {
  uint64_t count;
  [[maybe_unused]] const ssize_t n = read(fd, &count, sizeof count);
}

uint32_t epoll_events(short poll_events) {
  uint32_t events = 0;
  if (poll_events & POLLIN) events |= EPOLLIN;
  if (poll_events & POLLOUT) events |= EPOLLOUT;
  if (poll_events & POLLPRI) events |= EPOLLPRI;
  return events;
}

short poll_revents(uint32_t events) {
  short revents = 0;
  if (events & EPOLLIN) revents |= POLLIN;
  if (events & EPOLLOUT) revents |= POLLOUT;
  if (events & EPOLLPRI) revents |= POLLPRI;
  if (events & EPOLLERR) revents |= POLLERR;
  if (events & EPOLLHUP) revents |= POLLHUP;
  return revents;
}

std::string rule_text(const HostFwd& f) {
  return std::string(f.udp ? "udp" : "tcp") + ":" + f.host_addr + ":" +
         std::to_string(f.host_port) + "-" + f.guest_addr + ":" + std::to_string(f.guest_port);
}

}  // namespace

struct SlirpBackend::Callbacks {
  static SlirpBackend& self(void* opaque) { return *static_cast<SlirpBackend*>(opaque); }

  // A frame for the guest, under slirp_mutex_ (in poll() on the event loop, or in send()). Frames
  // wait behind earlier refused ones so that they reach the guest in order.
  static ssize_t send_packet(const void* buf, size_t len, void* opaque) {
    SlirpBackend& b = self(opaque);
    const std::span frame(static_cast<const std::byte*>(buf), len);
    std::lock_guard lock(b.rx_mutex_);
    if (!b.receiver_) {
      ++b.rx_dropped_;
    } else if (b.rx_queue_.empty() && b.receiver_(frame)) {
      // delivered
    } else if (b.rx_queue_.size() >= kQueueLimit) {
      ++b.rx_dropped_;
    } else {
      b.rx_queue_.emplace_back(frame.begin(), frame.end());
    }
    return static_cast<ssize_t>(len);
  }

  static void guest_error(const char* msg, void* opaque) {
    if (self(opaque).guest_errors_++ < kGuestErrorLogLimit) spdlog::warn("slirp: {}", msg);
  }

  static int64_t clock_get_ns(void*) { return now_ns(); }

  static void* timer_new_opaque(SlirpTimerId id, void* cb_opaque, void* opaque) {
    auto& timers = self(opaque).timers_;
    timers.push_back(Timer{static_cast<int>(id), cb_opaque});
    return &timers.back();
  }

  static void timer_free(void* timer, void* opaque) {
    self(opaque).timers_.remove_if([timer](const Timer& t) { return &t == timer; });
  }

  static void timer_mod(void* timer, int64_t expire_ms, void*) {
    static_cast<Timer*>(timer)->expire_ms = expire_ms;
  }

  // A socket slirp created: whatever was watched under its number belonged to a closed one.
  static void register_poll_fd(int fd, void* opaque) { self(opaque).watched_.erase(fd); }

  // A socket slirp is about to close: out of the epoll set while its number is still its own.
  static void unregister_poll_fd(int fd, void* opaque) { self(opaque).unwatch(fd); }

  // "slirp has new work": it only ever has it inside a call of ours (slirp_input, a timer, a
  // poll), and every such call updates the poll set when it ends.
  static void notify(void*) {}

  static int add_poll(int fd, int events, void* opaque) {
    auto& fds = self(opaque).pollfds_;
    short mask = 0;
    if (events & SLIRP_POLL_IN) mask |= POLLIN;
    if (events & SLIRP_POLL_OUT) mask |= POLLOUT;
    if (events & SLIRP_POLL_PRI) mask |= POLLPRI;
    fds.push_back(pollfd{fd, mask, 0});
    self(opaque).index_of_[fd] = fds.size() - 1;
    return static_cast<int>(fds.size() - 1);
  }

  static int get_revents(int index, void* opaque) {
    const auto& fds = self(opaque).pollfds_;
    if (index < 0 || static_cast<size_t>(index) >= fds.size()) return 0;
    const short r = fds[static_cast<size_t>(index)].revents;
    int events = 0;
    if (r & POLLIN) events |= SLIRP_POLL_IN;
    if (r & POLLOUT) events |= SLIRP_POLL_OUT;
    if (r & POLLPRI) events |= SLIRP_POLL_PRI;
    if (r & POLLERR) events |= SLIRP_POLL_ERR;
    if (r & POLLHUP) events |= SLIRP_POLL_HUP;
    return events;
  }

  static constexpr SlirpCb kTable = {
      .send_packet = send_packet,
      .guest_error = guest_error,
      .clock_get_ns = clock_get_ns,
      .timer_new = nullptr,
      .timer_free = timer_free,
      .timer_mod = timer_mod,
      .register_poll_fd = register_poll_fd,
      .unregister_poll_fd = unregister_poll_fd,
      .notify = notify,
      .init_completed = nullptr,
      .timer_new_opaque = timer_new_opaque,
  };
};

void SlirpBackend::SlirpDeleter::operator()(Slirp* slirp) const { slirp_cleanup(slirp); }

SlirpBackend::OwnedFd::OwnedFd(int fd, const char* what) : fd_(fd) {
  if (fd_ < 0)
    throw std::system_error(errno, std::generic_category(), std::string("slirp: ") + what);
}
SlirpBackend::OwnedFd::~OwnedFd() { close(fd_); }

SlirpBackend::SlirpBackend(const SlirpOptions& options)
    : epoll_(epoll_create1(EPOLL_CLOEXEC), "epoll_create1"),
      timer_(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), "timerfd_create") {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = timer_.get();
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timer_.get(), &ev) != 0)
    throw std::system_error(errno, std::generic_category(), "slirp: epoll_ctl");
  SlirpConfig cfg{};
  cfg.version = 4;
  cfg.restricted = options.restrict ? 1 : 0;
  cfg.in_enabled = true;
  cfg.vnetwork = ipv4(kNetwork);
  cfg.vnetmask = ipv4(kNetmask);
  cfg.vhost = ipv4(kHost);
  cfg.in6_enabled = false;
  cfg.vdhcp_start = ipv4(kDhcpStart);
  cfg.vnameserver = ipv4(kNameserver);
  cfg.disable_host_loopback = false;  // the guest reaches the host's 127.0.0.1 via 10.0.2.2
  cfg.enable_emu = false;             // the FTP/IRC/... emulation is unsafe (libslirp.h)
  slirp_.reset(slirp_new(&cfg, &Callbacks::kTable, this));
  if (!slirp_) throw std::runtime_error("slirp: cannot start user-mode networking");

  for (const HostFwd& f : options.hostfwd) {
    errno = 0;
    if (slirp_add_hostfwd(slirp_.get(), f.udp ? 1 : 0, ipv4(f.host_addr.c_str()), f.host_port,
                          ipv4(f.guest_addr.c_str()), f.guest_port) < 0) {
      // libslirp keeps the errno of the bind or listen that failed.
      std::string why = "port " + std::to_string(f.host_port) + " in use";
      if (errno != EADDRINUSE) {
        why = "cannot listen on " + f.host_addr + ":" + std::to_string(f.host_port);
        if (errno != 0) why += std::string(": ") + std::strerror(errno);
      }
      throw std::runtime_error("hostfwd " + rule_text(f) + ": " + why);
    }
  }
  std::lock_guard lock(slirp_mutex_);
  update_poll_set_locked();
}

SlirpBackend::~SlirpBackend() = default;

void SlirpBackend::send(std::span<const std::byte> frame) {
  std::lock_guard lock(slirp_mutex_);
  slirp_input(slirp_.get(), reinterpret_cast<const uint8_t*>(frame.data()),
              static_cast<int>(frame.size()));
  // The frame may have opened a socket, or given one data to write or room to read (a guest's
  // ACK opens its window): watch for that from now on, without waking the event loop.
  update_poll_set_locked();
}

void SlirpBackend::set_receiver(Receiver receiver) {
  std::lock_guard lock(rx_mutex_);
  receiver_ = std::move(receiver);
  if (!receiver_) {
    rx_dropped_ += rx_queue_.size();
    rx_queue_.clear();
  }
}

void SlirpBackend::rx_ready() { deliver_pending(); }

void SlirpBackend::deliver_pending() {
  std::lock_guard lock(rx_mutex_);
  while (!rx_queue_.empty() && receiver_ && receiver_(rx_queue_.front())) rx_queue_.pop_front();
}

void SlirpBackend::watch(int fd, uint32_t events) {
  auto it = watched_.find(fd);
  if (it != watched_.end() && it->second == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  // ADD or MOD as epoll sees it: a closed socket left the set on its own.
  const bool known = it != watched_.end();
  if (epoll_ctl(epoll_.get(), known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0 &&
      epoll_ctl(epoll_.get(), known ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) != 0) {
    spdlog::warn("slirp: cannot poll socket {}: {}", fd, std::strerror(errno));
    return;
  }
  watched_[fd] = events;
}

void SlirpBackend::unwatch(int fd) {
  if (watched_.erase(fd) == 0) return;
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

int64_t SlirpBackend::next_timer_ms_locked() const {
  int64_t next = -1;
  for (const Timer& t : timers_) {
    if (t.expire_ms >= 0 && (next < 0 || t.expire_ms < next)) next = t.expire_ms;
  }
  return next;
}

void SlirpBackend::update_poll_set_locked() {
  const int64_t now_ms = now_ns() / 1'000'000;
  const int64_t timer_ms = next_timer_ms_locked();
  uint32_t timeout =
      timer_ms < 0 ? UINT32_MAX : static_cast<uint32_t>(std::max<int64_t>(timer_ms - now_ms, 0));
  pollfds_.clear();
  index_of_.clear();
  slirp_pollfds_fill(slirp_.get(), &timeout, Callbacks::add_poll, this);

  // Sockets slirp no longer wants polled leave the set; the others are watched as it asks.
  for (auto it = watched_.begin(); it != watched_.end();) {
    if (index_of_.contains(it->first)) {
      ++it;
    } else {
      epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
      it = watched_.erase(it);
    }
  }
  for (const pollfd& p : pollfds_) watch(p.fd, epoll_events(p.events));

  // Slirp asks for a call within `timeout` ms (2 ms while it delays an ACK, up to 1 s when idle;
  // UINT32_MAX: never). An earlier deadline already armed stays: waking early is harmless.
  if (timeout == UINT32_MAX) return;
  const int64_t deadline = now_ms + timeout;
  if (timer_deadline_ms_ >= 0 && timer_deadline_ms_ <= deadline) return;
  itimerspec spec{};
  spec.it_value.tv_sec = deadline / 1000;
  spec.it_value.tv_nsec = deadline % 1000 * 1'000'000;
  if (timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    spdlog::warn("slirp: timerfd_settime: {}", std::strerror(errno));
    return;
  }
  timer_deadline_ms_ = deadline;
}

void SlirpBackend::run_due_timers_locked() {
  const int64_t now_ms = now_ns() / 1'000'000;
  // Collect first: a handler may re-arm or free timers.
  std::vector<Timer> due;
  for (Timer& t : timers_) {
    if (t.expire_ms >= 0 && t.expire_ms <= now_ms) {
      due.push_back(t);
      t.expire_ms = -1;
    }
  }
  for (const Timer& t : due) {
    slirp_handle_timer(slirp_.get(), static_cast<SlirpTimerId>(t.id), t.cb_opaque);
  }
}

void SlirpBackend::poll() {
  {
    std::lock_guard lock(slirp_mutex_);
    // Ready sockets in batches; one that is still ready after this round shows up in the next.
    std::array<epoll_event, 64> events;
    const int n = epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 0);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<size_t>(i)].data.fd;
      if (fd == timer_.get()) {
        drain(fd);
        timer_deadline_ms_ = -1;
      } else if (auto it = index_of_.find(fd); it != index_of_.end()) {
        pollfds_[it->second].revents = poll_revents(events[static_cast<size_t>(i)].events);
      }
    }
    slirp_pollfds_poll(slirp_.get(), 0, Callbacks::get_revents, this);
    run_due_timers_locked();
    update_poll_set_locked();
  }
  deliver_pending();
}

}  // namespace devices::net
