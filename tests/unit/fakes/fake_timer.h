// Timers on a clock that only the test moves: advance() runs the callbacks that fall due, on the
// test's thread, as the event loop would run them on its own.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "devices/timer.h"

namespace fakes {

class FakeClock {
 public:
  using TimePoint = devices::Timer::Clock::time_point;

  // Timers made here; the clock must outlive them.
  devices::TimerFactory factory() {
    return [this](std::function<void()> callback) {
      auto timer = std::make_unique<Timer>(*this, std::move(callback));
      timers_.push_back(timer.get());
      return timer;
    };
  }
  TimePoint now() const { return now_; }
  // The earliest armed deadline, if any.
  std::optional<TimePoint> next_deadline() const {
    std::optional<TimePoint> next;
    for (const Timer* t : timers_)
      if (t->deadline && (!next || *t->deadline < *next)) next = t->deadline;
    return next;
  }
  // Moves the clock and fires every timer whose deadline it reaches, earliest first.
  void advance(std::chrono::nanoseconds by) {
    const TimePoint end = now_ + by;
    while (auto next = next_deadline()) {
      if (*next > end) break;
      now_ = std::max(now_, *next);
      for (Timer* t : timers_) {
        if (t->deadline == next) {
          t->deadline.reset();
          t->callback();
          break;
        }
      }
    }
    now_ = end;
  }

 private:
  struct Timer : devices::Timer {
    Timer(FakeClock& c, std::function<void()> cb) : clock(c), callback(std::move(cb)) {}
    ~Timer() override { std::erase(clock.timers_, this); }
    Clock::time_point now() const override { return clock.now_; }
    void arm(Clock::time_point at) override { deadline = at; }
    FakeClock& clock;
    std::function<void()> callback;
    std::optional<Clock::time_point> deadline;
  };

  TimePoint now_ = TimePoint(std::chrono::seconds(1000));  // not 0: no "last" event is near it
  std::vector<Timer*> timers_;
};

}  // namespace fakes
