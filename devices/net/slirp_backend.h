// User-mode networking: libslirp's NAT, DHCP and DNS forwarder behind a NIC, as QEMU's
// `-netdev user`. The guest's network is 10.0.2.0/24: gateway and host 10.0.2.2, DNS 10.0.2.3,
// DHCP hands out 10.0.2.15 onwards. IPv4 only; slirp's legacy protocol emulation stays off.
//
// libslirp is not thread-safe, so every call into it happens on the backend's own thread, which
// polls slirp's sockets, an eventfd and slirp's timers. Frames the guest sends arrive on vCPU
// threads and are queued for that thread; received frames are delivered on it.
#pragma once

#include <poll.h>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "devices/net/hostfwd.h"
#include "devices/net/net_backend.h"

struct Slirp;

namespace devices::net {

struct SlirpOptions {
  // Isolate the guest (QEMU's restrict=on): no connections out, not even to the host; hostfwd
  // rules still work.
  bool restrict = false;
  std::vector<HostFwd> hostfwd;
};

class SlirpBackend final : public NetBackend {
 public:
  // Frames queued in each direction before further ones are dropped and counted.
  static constexpr size_t kQueueLimit = 512;

  // Starts slirp and its thread. Throws std::runtime_error when slirp cannot start or a hostfwd
  // rule cannot listen (e.g. the port is in use); the message quotes the rule.
  explicit SlirpBackend(const SlirpOptions& options);
  // Stops and joins the thread, then closes every slirp socket. Detach the NIC first (destroy
  // it, or set_receiver({})) if it goes away before the backend.
  ~SlirpBackend() override;
  SlirpBackend(const SlirpBackend&) = delete;
  SlirpBackend& operator=(const SlirpBackend&) = delete;

  void send(std::span<const std::byte> frame) override;
  void set_receiver(Receiver receiver) override;
  void rx_ready() override;

  // Frames dropped because a queue was full (or, for rx, no NIC was attached).
  uint64_t tx_dropped() const { return tx_dropped_; }
  uint64_t rx_dropped() const { return rx_dropped_; }

 private:
  struct Timer {
    int id;  // SlirpTimerId, for slirp_handle_timer
    void* cb_opaque;
    int64_t expire_ms = -1;  // -1: not armed
  };
  struct SlirpDeleter {
    void operator()(Slirp* slirp) const;
  };
  class EventFd {
   public:
    EventFd();
    ~EventFd();
    EventFd(const EventFd&) = delete;
    EventFd& operator=(const EventFd&) = delete;
    int get() const { return fd_; }
    void signal() const;
    void drain() const;

   private:
    int fd_;
  };

  // The libslirp callbacks (defined with libslirp's types in the .cc); `opaque` is the backend.
  struct Callbacks;

  void run();
  void run_due_timers();
  void deliver_pending();
  uint32_t next_timer_ms() const;

  EventFd wake_;
  std::unique_ptr<Slirp, SlirpDeleter> slirp_;
  std::list<Timer> timers_;      // slirp thread only (and the constructor/destructor)
  std::vector<pollfd> pollfds_;  // slirp thread only

  std::mutex tx_mutex_;
  std::deque<std::vector<std::byte>> tx_queue_;

  // Held while the receiver runs, so set_receiver() waits for a delivery in progress.
  std::mutex rx_mutex_;
  Receiver receiver_;
  std::deque<std::vector<std::byte>> rx_queue_;

  std::atomic<uint64_t> tx_dropped_{0};
  std::atomic<uint64_t> rx_dropped_{0};
  std::atomic<uint64_t> guest_errors_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace devices::net
