// The e1000's interrupt moderation (ITR, 8254x SDM 13.4.18) as a driver sees it: how often INTA#
// rises under a stream of causes, and what ICR holds meanwhile. Time is the fake clock's.
#include <gtest/gtest.h>

#include <chrono>

#include "tests/unit/devices/net/e1000_fixture.h"

namespace e1000_test {
namespace {

using namespace std::chrono_literals;

// Linux's e1000 at 20000 interrupts/s writes 10^9 / (20000 * 256) = 195.
constexpr uint32_t kItr20k = 195;
constexpr auto kInterval20k = 195 * 256ns;

class E1000ItrTest : public E1000Test {
 protected:
  E1000ItrTest() {
    setup_rx(64);
    wr(regs::kIms, regs::kIntRxt0);
  }
  Bytes frame() {
    Bytes f(100);
    for (int i = 0; i < 6; ++i) f[i] = std::byte(kMac[i]);
    put_be16(f, 12, 0x0800);
    return f;
  }
  // The driver's interrupt handler: reading ICR acknowledges every cause.
  uint32_t acknowledge() { return rd(regs::kIcr); }
};

TEST_F(E1000ItrTest, WithoutItrEveryCauseInterruptsAtOnce) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(deliver(frame()));
    EXPECT_TRUE(irq.level()) << "frame " << i;
    EXPECT_TRUE(acknowledge() & regs::kIntRxt0);
    EXPECT_FALSE(irq.level());
    clock.advance(1us);
  }
  EXPECT_EQ(irq.assertions(), 3);
  EXPECT_FALSE(clock.next_deadline()) << "no timer without ITR";
}

TEST_F(E1000ItrTest, ACauseInsideTheIntervalWaitsInIcrUntilItEnds) {
  wr(regs::kItr, kItr20k);
  const auto first = clock.now();
  ASSERT_TRUE(deliver(frame()));
  EXPECT_TRUE(irq.level()) << "the first interrupt is not delayed";
  acknowledge();
  clock.advance(10us);
  ASSERT_TRUE(deliver(frame()));
  ASSERT_TRUE(deliver(frame()));
  EXPECT_FALSE(irq.level()) << "within 50 us of the previous interrupt";
  ASSERT_EQ(clock.next_deadline(), first + kInterval20k);
  clock.advance(first + kInterval20k - clock.now() - 1ns);
  EXPECT_FALSE(irq.level());
  clock.advance(1ns);
  EXPECT_TRUE(irq.level()) << "the interval ended with a cause pending";
  EXPECT_EQ(irq.assertions(), 2) << "two frames, one interrupt";
  EXPECT_TRUE(acknowledge() & regs::kIntRxt0);
  EXPECT_EQ(rd(regs::kRdh), 3u) << "the frames themselves were not held back";
}

TEST_F(E1000ItrTest, ACauseAfterTheIntervalInterruptsAtOnce) {
  wr(regs::kItr, kItr20k);
  ASSERT_TRUE(deliver(frame()));
  acknowledge();
  clock.advance(kInterval20k);
  ASSERT_TRUE(deliver(frame()));
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(irq.assertions(), 2);
}

// Under a steady stream of frames, one every microsecond for 10 ms, with a driver that
// acknowledges every interrupt at once: the rate is ITR's, not the frames'.
TEST_F(E1000ItrTest, AStreamOfCausesInterruptsAtMostOncePerInterval) {
  wr(regs::kItr, kItr20k);
  int frames = 0;
  for (auto t = 0us; t < 10ms; t += 1us) {
    // Frames are handed back at once so that the ring never fills.
    if (deliver(frame())) ++frames;
    wr(regs::kRdt, (rd(regs::kRdh) + 63) % 64);
    if (irq.level()) acknowledge();
    clock.advance(1us);
  }
  EXPECT_EQ(frames, 10000);
  // 10 ms / 49.92 us = 200.3: the first interrupt and one per interval after it.
  EXPECT_GE(irq.assertions(), 200);
  EXPECT_LE(irq.assertions(), 201);
}

TEST_F(E1000ItrTest, CausesAcknowledgedOrMaskedMeanwhileRaiseNothingWhenTheIntervalEnds) {
  wr(regs::kItr, kItr20k);
  ASSERT_TRUE(deliver(frame()));
  acknowledge();
  ASSERT_TRUE(deliver(frame()));
  acknowledge();  // a driver polling ICR took it
  ASSERT_TRUE(deliver(frame()));
  wr(regs::kImc, ~0u);  // NAPI masks everything while it polls
  clock.advance(kInterval20k);
  EXPECT_FALSE(irq.level());
  EXPECT_EQ(irq.assertions(), 1);
  // Unmasking after the interval, with the cause still in ICR, interrupts at once.
  wr(regs::kIms, regs::kIntRxt0);
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(irq.assertions(), 2);
}

TEST_F(E1000ItrTest, ClearingItrLetsAWaitingInterruptThrough) {
  wr(regs::kItr, 0xffff);  // the longest interval: 16.8 ms
  ASSERT_TRUE(deliver(frame()));
  acknowledge();
  ASSERT_TRUE(deliver(frame()));
  EXPECT_FALSE(irq.level());
  wr(regs::kItr, 0);
  EXPECT_TRUE(irq.level());
}

// The guest may write anything: the reserved upper half is ignored, so the longest wait is
// 65535 x 256 ns.
TEST_F(E1000ItrTest, TheIntervalIsSixteenBitsWhateverTheGuestWrites) {
  wr(regs::kItr, 0xffffffff);
  const auto first = clock.now();
  ASSERT_TRUE(deliver(frame()));
  acknowledge();
  ASSERT_TRUE(deliver(frame()));
  EXPECT_EQ(clock.next_deadline(), first + 0xffff * 256ns);
  clock.advance(17ms);
  EXPECT_TRUE(irq.level());
}

}  // namespace
}  // namespace e1000_test
