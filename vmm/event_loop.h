// The host side of the VM on one thread: epoll over stdin, signals, device event fds, the user
// networks and device timers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "devices/timer.h"
#include "vmm/fd.h"

namespace vmm {

class EventLoop {
 public:
  using Handler = std::function<void(uint32_t events)>;

  EventLoop();
  // Watches `fd` for `events` (EPOLLIN...). False when the fd cannot be polled (a regular file
  // or /dev/null on stdin); the caller decides what that means.
  bool add(int fd, uint32_t events, Handler handler);
  void remove(int fd);
  // Runs handlers until stop(). Before each wait, `next_timeout` may retry pending work (console
  // input the UART had no room for) and returns how long to wait in ms (-1: until an event).
  void run(const std::function<int()>& next_timeout);
  void stop() { running_ = false; }
  // Timers whose callbacks run on this loop, for devices (a timerfd each). Made and destroyed on
  // the loop's thread while it is not running; armed from any thread.
  devices::TimerFactory timer_factory();

 private:
  Fd epoll_;
  std::map<int, Handler> handlers_;
  bool running_ = false;
};

}  // namespace vmm
