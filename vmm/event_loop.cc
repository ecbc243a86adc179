#include "vmm/event_loop.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include <spdlog/spdlog.h>

namespace vmm {
namespace {

// A timerfd in the loop. steady_clock is CLOCK_MONOTONIC, the timerfd's clock.
class LoopTimer final : public devices::Timer {
 public:
  LoopTimer(EventLoop& loop, std::function<void()> callback)
      : loop_(loop), fd_(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) {
    if (!fd_.valid()) throw std::system_error(errno, std::generic_category(), "timerfd_create");
    loop_.add(fd_.get(), EPOLLIN, [this, callback = std::move(callback)](uint32_t) {
      uint64_t expirations;
      // Nothing to read: a re-arm after the expiry already reset it.
      if (read(fd_.get(), &expirations, sizeof expirations) == sizeof expirations) callback();
    });
  }
  ~LoopTimer() override { loop_.remove(fd_.get()); }
  LoopTimer(const LoopTimer&) = delete;
  LoopTimer& operator=(const LoopTimer&) = delete;

  Clock::time_point now() const override { return Clock::now(); }
  void arm(Clock::time_point deadline) override {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    itimerspec spec{};
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = ns % 1'000'000'000;
    // An absolute time already past fires at once; only 0 would disarm the timer.
    if (ns <= 0) spec.it_value.tv_nsec = 1;
    // Cannot fail with a valid fd and these values; a device arms it with its lock held on a
    // vCPU thread, where an exception would end the process.
    if (timerfd_settime(fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0)
      spdlog::error("timerfd_settime: {}", std::strerror(errno));
  }

 private:
  EventLoop& loop_;
  Fd fd_;
};

}  // namespace

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

devices::TimerFactory EventLoop::timer_factory() {
  return [this](std::function<void()> callback) -> std::unique_ptr<devices::Timer> {
    return std::make_unique<LoopTimer>(*this, std::move(callback));
  };
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
