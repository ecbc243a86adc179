// A one-shot timer for device models that must act at a time rather than on a guest access (the
// e1000's interrupt moderation). Implemented over a timerfd on the event loop in vmm/, and by a
// fake with a hand-moved clock in unit tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace devices {

class Timer {
 public:
  using Clock = std::chrono::steady_clock;

  virtual ~Timer() = default;
  // The time deadlines are measured against.
  virtual Clock::time_point now() const = 0;
  // Runs the callback once, on the host side's thread, at `deadline` or soon after (at once when
  // it has passed); replaces an earlier deadline. Thread-safe, and never calls the callback from
  // inside, so a device may arm it with its lock held and take that lock in the callback.
  virtual void arm(Clock::time_point deadline) = 0;
};

// Makes a timer that runs `callback`. The timer is destroyed before whatever the callback uses.
using TimerFactory = std::function<std::unique_ptr<Timer>(std::function<void()> callback)>;

}  // namespace devices
