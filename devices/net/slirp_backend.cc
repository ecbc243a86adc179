#include "devices/net/slirp_backend.h"

#include <arpa/inet.h>
#include <libslirp.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
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
constexpr uint32_t kIdlePollMs = 1000;

in_addr ipv4(const char* text) {
  in_addr addr{};
  if (inet_pton(AF_INET, text, &addr) != 1) {
    throw std::invalid_argument(std::string("not an IPv4 address: ") + text);
  }
  return addr;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string rule_text(const HostFwd& f) {
  return std::string(f.udp ? "udp" : "tcp") + ":" + f.host_addr + ":" +
         std::to_string(f.host_port) + "-" + f.guest_addr + ":" + std::to_string(f.guest_port);
}

}  // namespace

struct SlirpBackend::Callbacks {
  static SlirpBackend& self(void* opaque) { return *static_cast<SlirpBackend*>(opaque); }

  // A frame for the guest, under slirp_mutex_ (on the backend's thread or in send()). Frames
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

  // Only needed on Windows, where sockets must be registered with the event loop.
  static void register_poll_fd(int, void*) {}

  // slirp has new work (e.g. a socket became writable): make the thread poll again.
  static void notify(void* opaque) { self(opaque).wake_.signal(); }

  static int add_poll(int fd, int events, void* opaque) {
    auto& fds = self(opaque).pollfds_;
    short mask = 0;
    if (events & SLIRP_POLL_IN) mask |= POLLIN;
    if (events & SLIRP_POLL_OUT) mask |= POLLOUT;
    if (events & SLIRP_POLL_PRI) mask |= POLLPRI;
    fds.push_back(pollfd{fd, mask, 0});
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
      .unregister_poll_fd = register_poll_fd,
      .notify = notify,
      .init_completed = nullptr,
      .timer_new_opaque = timer_new_opaque,
  };
};

void SlirpBackend::SlirpDeleter::operator()(Slirp* slirp) const { slirp_cleanup(slirp); }

SlirpBackend::EventFd::EventFd() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "slirp: eventfd");
}
SlirpBackend::EventFd::~EventFd() { close(fd_); }
void SlirpBackend::EventFd::signal() const {
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the thread wakes anyway.
  [[maybe_unused]] const ssize_t n = write(fd_, &one, sizeof one);
}
void SlirpBackend::EventFd::drain() const {
  uint64_t value;
  [[maybe_unused]] const ssize_t n = read(fd_, &value, sizeof value);
}

SlirpBackend::SlirpBackend(const SlirpOptions& options) {
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
    if (slirp_add_hostfwd(slirp_.get(), f.udp ? 1 : 0, ipv4(f.host_addr.c_str()), f.host_port,
                          ipv4(f.guest_addr.c_str()), f.guest_port) < 0) {
      throw std::runtime_error("hostfwd rule '" + rule_text(f) + "': cannot listen on " +
                               f.host_addr + ":" + std::to_string(f.host_port) +
                               " (port in use or address not available)");
    }
  }
  thread_ = std::thread([this] { run(); });
}

SlirpBackend::~SlirpBackend() {
  stop_ = true;
  wake_.signal();
  thread_.join();
  // slirp_ is cleaned up after this body, on this thread, with the loop gone.
}

void SlirpBackend::send(std::span<const std::byte> frame) {
  {
    std::lock_guard lock(slirp_mutex_);
    slirp_input(slirp_.get(), reinterpret_cast<const uint8_t*>(frame.data()),
                static_cast<int>(frame.size()));
  }
  // The thread polls the sockets the frame may have opened, or now wants to read from (a
  // guest's ACK opens its window).
  wake_.signal();
}

void SlirpBackend::set_receiver(Receiver receiver) {
  std::lock_guard lock(rx_mutex_);
  receiver_ = std::move(receiver);
  if (!receiver_) {
    rx_dropped_ += rx_queue_.size();
    rx_queue_.clear();
  }
}

void SlirpBackend::rx_ready() { wake_.signal(); }

void SlirpBackend::deliver_pending() {
  std::lock_guard lock(rx_mutex_);
  while (!rx_queue_.empty() && receiver_ && receiver_(rx_queue_.front())) rx_queue_.pop_front();
}

uint32_t SlirpBackend::next_timer_ms() const {
  int64_t wait = kIdlePollMs;
  const int64_t now_ms = now_ns() / 1'000'000;
  for (const Timer& t : timers_) {
    if (t.expire_ms >= 0) wait = std::min(wait, std::max<int64_t>(t.expire_ms - now_ms, 0));
  }
  return static_cast<uint32_t>(wait);
}

void SlirpBackend::run_due_timers() {
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

void SlirpBackend::run() {
  while (!stop_) {
    uint32_t timeout;
    {
      std::lock_guard lock(slirp_mutex_);
      timeout = next_timer_ms();
      pollfds_.clear();
      pollfds_.push_back(pollfd{wake_.get(), POLLIN, 0});
      slirp_pollfds_fill(slirp_.get(), &timeout, Callbacks::add_poll, this);
    }
    // Unlocked: send() may run slirp meanwhile (QEMU's main loop polls the same way). A socket
    // it opens is polled from the next round on, which its wakeup starts at once.
    const int ready = poll(pollfds_.data(), pollfds_.size(),
                           static_cast<int>(std::min<uint32_t>(timeout, INT_MAX)));
    if (ready < 0 && errno != EINTR) spdlog::warn("slirp: poll: {}", std::strerror(errno));
    if (pollfds_[0].revents & POLLIN) wake_.drain();
    {
      std::lock_guard lock(slirp_mutex_);
      slirp_pollfds_poll(slirp_.get(), ready < 0 ? 1 : 0, Callbacks::get_revents, this);
      run_due_timers();
    }
    deliver_pending();
  }
}

}  // namespace devices::net
