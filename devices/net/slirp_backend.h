// User-mode networking: libslirp's NAT, DHCP and DNS forwarder behind a NIC, as QEMU's
// `-netdev user`. The guest's network is 10.0.2.0/24: gateway and host 10.0.2.2, DNS 10.0.2.3,
// DHCP hands out 10.0.2.15 onwards. IPv4 only; slirp's legacy protocol emulation stays off.
//
// libslirp is not thread-safe, so every call into it holds one lock. The backend's own thread
// polls slirp's sockets, an eventfd and slirp's timers. A frame the guest sends goes into slirp
// at once on the vCPU thread that sent it, and what slirp answers (an ACK) goes straight to the
// NIC, as QEMU does under its big lock: no thread wakes between a guest's segment and its ACK.
// Frames the NIC refuses wait in a queue that the thread retries after rx_ready().
// Lock order: slirp_mutex_, then rx_mutex_, then the NIC's.
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
  // Frames queued for the guest before further ones are dropped and counted.
  static constexpr size_t kQueueLimit = 512;

  // Starts slirp and its thread. Throws std::runtime_error when slirp cannot start or a hostfwd
  // rule cannot listen (e.g. the port is in use); the message quotes the rule.
  explicit SlirpBackend(const SlirpOptions& options);
  // Stops and joins the thread, then closes every slirp socket. Detach the NIC first (destroy
  // it, or set_receiver({})) if it goes away before the backend.
  ~SlirpBackend() override;
  SlirpBackend(const SlirpBackend&) = delete;
  SlirpBackend& operator=(const SlirpBackend&) = delete;

  // Runs slirp on the frame right away, on the caller's thread, which may call the receiver.
  void send(std::span<const std::byte> frame) override;
  void set_receiver(Receiver receiver) override;
  void rx_ready() override;

  // Frames for the guest dropped because the queue was full or no NIC was attached.
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
  // Guards slirp_ and everything its callbacks touch.
  std::mutex slirp_mutex_;
  std::list<Timer> timers_;
  std::vector<pollfd> pollfds_;  // filled and read under slirp_mutex_; poll() is the thread's

  // Held while the receiver runs, so set_receiver() waits for a delivery in progress.
  std::mutex rx_mutex_;
  Receiver receiver_;
  std::deque<std::vector<std::byte>> rx_queue_;

  std::atomic<uint64_t> rx_dropped_{0};
  std::atomic<uint64_t> guest_errors_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace devices::net
