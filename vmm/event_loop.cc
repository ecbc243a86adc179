#include "vmm/event_loop.h"

#include <sys/epoll.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace vmm {

EventLoop::EventLoop() : epoll_(epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_.valid()) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

bool EventLoop::add(int fd, uint32_t events, Handler handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    if (errno == EPERM) return false;
    throw std::system_error(errno, std::generic_category(), "epoll_ctl add");
  }
  handlers_[fd] = std::move(handler);
  return true;
}

void EventLoop::remove(int fd) {
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

void EventLoop::run(const std::function<int()>& next_timeout) {
  running_ = true;
  std::array<epoll_event, 16> events;
  while (running_) {
    int n = epoll_wait(epoll_.get(), events.data(), events.size(), next_timeout());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "epoll_wait");
    }
    for (int i = 0; i < n && running_; ++i) {
      auto it = handlers_.find(events[i].data.fd);
      // A handler may remove fds, including ones later in this batch.
      if (it != handlers_.end()) {
        Handler handler = it->second;
        handler(events[i].events);
      }
    }
  }
}

}  // namespace vmm
