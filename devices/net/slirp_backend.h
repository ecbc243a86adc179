// User-mode networking: libslirp's NAT, DHCP and DNS forwarder behind a NIC, as QEMU's
// `-netdev user`. The guest's network is 10.0.2.0/24: gateway and host 10.0.2.2, DNS 10.0.2.3,
// DHCP hands out 10.0.2.15 onwards. IPv4 only; slirp's legacy protocol emulation stays off.
//
// libslirp is not thread-safe, so every call into it holds one lock. The backend has no thread
// of its own: the VMM's event loop polls fd() and calls poll(), as QEMU's main loop serves its
// slirp. A frame the guest sends goes into slirp at once on the vCPU thread that sent it, and
// what slirp answers (an ACK) goes straight to the NIC, as QEMU does under its big lock: no
// thread wakes between a guest's segment and its ACK. The sender then brings the poll set up to
// date itself (slirp's sockets in an epoll set of the backend's, its next deadline in a timerfd
// there), so the event loop wakes only when a socket or timer is ready, never just because the
// guest sent a frame.
// Frames the NIC refuses wait in a queue that rx_ready() retries at once on the NIC's thread (as
// QEMU flushes its queue when the guest writes RDT), and poll() too.
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
#include <unordered_map>
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

  // Starts slirp and binds the hostfwd rules' host ports. Throws std::runtime_error when slirp
  // cannot start or a rule cannot listen; the message quotes the rule and says why (e.g. "port
  // 5555 in use").
  explicit SlirpBackend(const SlirpOptions& options);
  // Closes every slirp socket. Detach the NIC first (destroy it, or set_receiver({})) if it goes
  // away before the backend.
  ~SlirpBackend() override;
  SlirpBackend(const SlirpBackend&) = delete;
  SlirpBackend& operator=(const SlirpBackend&) = delete;

  // Runs slirp on the frame right away, on the caller's thread, which may call the receiver.
  void send(std::span<const std::byte> frame) override;
  void set_receiver(Receiver receiver) override;
  // Delivers the refused frames the NIC now has room for, on the caller's thread.
  void rx_ready() override;

  // Readable (EPOLLIN) while slirp has work: a socket is ready or a timer is due. Valid for the
  // backend's lifetime.
  int fd() const { return epoll_.get(); }
  // Does that work without blocking: the event loop's handler for fd(). One thread at a time.
  void poll();

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
  class OwnedFd {
   public:
    explicit OwnedFd(int fd, const char* what);
    ~OwnedFd();
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    int get() const { return fd_; }

   private:
    int fd_;
  };

  // The libslirp callbacks (defined with libslirp's types in the .cc); `opaque` is the backend.
  struct Callbacks;

  // Asks slirp which sockets it wants polled and when it next needs time, and makes the epoll
  // set and the timerfd say so.
  void update_poll_set_locked();
  void watch(int fd, uint32_t events);
  void unwatch(int fd);
  void run_due_timers_locked();
  void deliver_pending();
  int64_t next_timer_ms_locked() const;

  OwnedFd epoll_;
  OwnedFd timer_;  // a timerfd at slirp's next deadline

  // Guards slirp_ and everything its callbacks touch, and the poll set below.
  std::mutex slirp_mutex_;
  std::list<Timer> timers_;
  std::vector<pollfd> pollfds_;               // slirp's sockets from the last slirp_pollfds_fill
  std::unordered_map<int, size_t> index_of_;  // fd -> its index in pollfds_
  // Sockets in epoll_ with the events they are watched for. Slirp reports every socket it
  // creates and closes (register/unregister_poll_fd); a new socket forgets what was watched
  // under its number, which a closed one may have had.
  std::unordered_map<int, uint32_t> watched_;
  int64_t timer_deadline_ms_ = -1;  // what timer_ is armed for; -1: not armed

  // Held while the receiver runs, so set_receiver() waits for a delivery in progress.
  std::mutex rx_mutex_;
  Receiver receiver_;
  std::deque<std::vector<std::byte>> rx_queue_;

  std::atomic<uint64_t> rx_dropped_{0};
  std::atomic<uint64_t> guest_errors_{0};
  // Last: slirp_cleanup calls back into the members above (timer_free, unregister_poll_fd), also
  // when the constructor throws after slirp_new.
  std::unique_ptr<Slirp, SlirpDeleter> slirp_;
};

}  // namespace devices::net
