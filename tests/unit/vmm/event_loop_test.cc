// The event loop's device timers: their callbacks run on the loop's thread, inside run(), at or
// after their deadline, also when armed from another thread.
#include "vmm/event_loop.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace vmm {
namespace {

using namespace std::chrono_literals;
using Clock = devices::Timer::Clock;

TEST(EventLoopTimer, FiresOnceAtItsDeadlineOnTheLoopsThread) {
  EventLoop loop;
  int fired = 0;
  Clock::time_point fired_at;
  std::thread::id fired_on;
  auto timer = loop.timer_factory()([&] {
    ++fired;
    fired_at = Clock::now();
    fired_on = std::this_thread::get_id();
    loop.stop();
  });
  const Clock::time_point deadline = timer->now() + 20ms;
  timer->arm(deadline);
  loop.run([] { return 1000; });
  EXPECT_EQ(fired, 1);
  EXPECT_GE(fired_at, deadline);
  EXPECT_EQ(fired_on, std::this_thread::get_id());
}

TEST(EventLoopTimer, ADeadlineInThePastFiresAtOnce) {
  EventLoop loop;
  int fired = 0;
  auto timer = loop.timer_factory()([&] {
    ++fired;
    loop.stop();
  });
  timer->arm(timer->now() - 1s);
  const auto start = Clock::now();
  loop.run([] { return 1000; });
  EXPECT_EQ(fired, 1);
  EXPECT_LT(Clock::now() - start, 500ms);
}

TEST(EventLoopTimer, ArmingFromAnotherThreadWakesTheLoop) {
  EventLoop loop;
  int fired = 0;
  auto timer = loop.timer_factory()([&] {
    ++fired;
    loop.stop();
  });
  std::thread vcpu([&] {
    std::this_thread::sleep_for(10ms);
    timer->arm(timer->now());
  });
  loop.run([] { return -1; });
  vcpu.join();
  EXPECT_EQ(fired, 1);
}

TEST(EventLoopTimer, ALaterArmingReplacesTheEarlierDeadline) {
  EventLoop loop;
  Clock::time_point fired_at;
  auto timer = loop.timer_factory()([&] {
    fired_at = Clock::now();
    loop.stop();
  });
  timer->arm(timer->now() + 1ms);
  const Clock::time_point later = timer->now() + 30ms;
  timer->arm(later);
  loop.run([] { return 1000; });
  EXPECT_GE(fired_at, later);
}

}  // namespace
}  // namespace vmm
