// The e1000's interrupt moderation (ITR, 8254x SDM 13.4.18, with QEMU's floor of 128 us and the
// absolute delay timers) as a driver sees it: how often INTA# rises under a stream of causes,
// and what ICR holds meanwhile. Time is the fake clock's.
#include <gtest/gtest.h>

#include <chrono>

#include "tests/unit/devices/net/e1000_fixture.h"

namespace e1000_test {
namespace {

using namespace std::chrono_literals;

// Linux's e1000 in bulk mode, 4000 interrupts/s, writes 10^9 / (4000 * 256) = 976.
constexpr uint32_t kItr4k = 976;
constexpr auto kInterval4k = 976 * 256ns;
// At 20000 interrupts/s (its low-latency mode) it writes 195: under the floor.
constexpr uint32_t kItr20k = 195;
constexpr auto kFloor = 500 * 256ns;  // 128 us

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
  // Under a steady stream of frames, one every microsecond for 10 ms, with a driver that
  // acknowledges every interrupt at once: the rate is ITR's (or the floor's), not the frames'.
  int interrupts_in_10ms() {
    int frames = 0;
    for (auto at = 0us; at < 10ms; at += 1us) {
      // Frames are handed back at once so that the ring never fills.
      if (deliver(frame())) ++frames;
      wr(regs::kRdt, (rd(regs::kRdh) + 63) % 64);
      if (irq.level()) acknowledge();
      clock.advance(1us);
    }
    EXPECT_EQ(frames, 10000);
    return irq.assertions();
  }
  // Sends one 60-byte frame from descriptor `index` with command bits `cmd` (EOP and RS added).
  void transmit(uint32_t index, uint8_t cmd) {
    put_descriptor(
        kTxRing, index, kTxBuffers,
        60u | uint32_t{static_cast<uint8_t>(cmd | regs::kTxCmdEop | regs::kTxCmdRs)} << 24, 0);
    wr(regs::kTdt, index + 1);
  }
};

TEST_F(E1000ItrTest, WithoutItrInterruptsAreStill128usApart) {
  const auto first = clock.now();
  ASSERT_TRUE(deliver(frame()));
  EXPECT_TRUE(irq.level()) << "the first interrupt is not delayed";
  EXPECT_TRUE(acknowledge() & regs::kIntRxt0);
  clock.advance(1us);
  ASSERT_TRUE(deliver(frame()));
  EXPECT_FALSE(irq.level());
  EXPECT_EQ(clock.next_deadline(), first + kFloor);
  clock.advance(kFloor);
  EXPECT_TRUE(irq.level());
  acknowledge();
  clock.advance(kFloor);
  ASSERT_TRUE(deliver(frame()));
  EXPECT_TRUE(irq.level()) << "a cause after the interval interrupts at once";
  EXPECT_EQ(irq.assertions(), 3);
}

TEST_F(E1000ItrTest, ACauseInsideTheIntervalWaitsInIcrUntilItEnds) {
  wr(regs::kItr, kItr4k);
  const auto first = clock.now();
  ASSERT_TRUE(deliver(frame()));
  EXPECT_TRUE(irq.level()) << "the first interrupt is not delayed";
  acknowledge();
  clock.advance(10us);
  ASSERT_TRUE(deliver(frame()));
  ASSERT_TRUE(deliver(frame()));
  EXPECT_FALSE(irq.level()) << "within 250 us of the previous interrupt";
  ASSERT_EQ(clock.next_deadline(), first + kInterval4k);
  clock.advance(first + kInterval4k - clock.now() - 1ns);
  EXPECT_FALSE(irq.level());
  clock.advance(1ns);
  EXPECT_TRUE(irq.level()) << "the interval ended with a cause pending";
  EXPECT_EQ(irq.assertions(), 2) << "two frames, one interrupt";
  EXPECT_TRUE(acknowledge() & regs::kIntRxt0);
  EXPECT_EQ(rd(regs::kRdh), 3u) << "the frames themselves were not held back";
}

TEST_F(E1000ItrTest, ACauseAfterTheIntervalInterruptsAtOnce) {
  wr(regs::kItr, kItr4k);
  ASSERT_TRUE(deliver(frame()));
  acknowledge();
  clock.advance(kInterval4k);
  ASSERT_TRUE(deliver(frame()));
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(irq.assertions(), 2);
}

TEST_F(E1000ItrTest, AStreamOfCausesInterruptsAtMostOncePerInterval) {
  wr(regs::kItr, kItr4k);
  // 10 ms / 249.9 us = 40.02: the first interrupt and one per interval after it.
  const int n = interrupts_in_10ms();
  EXPECT_GE(n, 40);
  EXPECT_LE(n, 41);
}

TEST_F(E1000ItrTest, AShorterItrThanTheFloorGetsTheFloor) {
  wr(regs::kItr, kItr20k);
  // 10 ms / 128 us = 78.1, where ITR alone would allow 200.
  const int n = interrupts_in_10ms();
  EXPECT_GE(n, 78);
  EXPECT_LE(n, 79);
}

TEST_F(E1000ItrTest, CausesAcknowledgedOrMaskedMeanwhileRaiseNothingWhenTheIntervalEnds) {
  wr(regs::kItr, kItr4k);
  ASSERT_TRUE(deliver(frame()));
  acknowledge();
  ASSERT_TRUE(deliver(frame()));
  acknowledge();  // a driver polling ICR took it
  ASSERT_TRUE(deliver(frame()));
  wr(regs::kImc, ~0u);  // NAPI masks everything while it polls
  clock.advance(kInterval4k);
  EXPECT_FALSE(irq.level());
  EXPECT_EQ(irq.assertions(), 1);
  // Unmasking after the interval, with the cause still in ICR, interrupts at once.
  wr(regs::kIms, regs::kIntRxt0);
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(irq.assertions(), 2);
}

TEST_F(E1000ItrTest, ClearingItrLetsAWaitingInterruptThroughOnceTheFloorHasPassed) {
  wr(regs::kItr, 0xffff);  // the longest interval: 16.8 ms
  ASSERT_TRUE(deliver(frame()));
  acknowledge();
  clock.advance(200us);
  ASSERT_TRUE(deliver(frame()));
  EXPECT_FALSE(irq.level());
  wr(regs::kItr, 0);
  EXPECT_TRUE(irq.level());
}

// RADV stretches the interval when receive interrupts are delayed (RDTR non-zero), in units of
// 1.024 us; with RDTR zero it is ignored, as the SDM says.
TEST_F(E1000ItrTest, RadvStretchesTheIntervalOnlyWhenRdtrIsSet) {
  wr(regs::kRadv, 250);  // 256 us
  auto first = clock.now();
  ASSERT_TRUE(deliver(frame()));
  acknowledge();
  ASSERT_TRUE(deliver(frame()));
  EXPECT_EQ(clock.next_deadline(), first + kFloor) << "RDTR is 0";
  clock.advance(kFloor);
  acknowledge();
  clock.advance(1ms);

  wr(regs::kRdtr, 1);
  first = clock.now();
  ASSERT_TRUE(deliver(frame()));
  EXPECT_TRUE(irq.level());
  acknowledge();
  ASSERT_TRUE(deliver(frame()));
  EXPECT_EQ(clock.next_deadline(), first + 250 * 1024ns);
}

// TADV stretches the interval after transmits whose descriptors asked for a delayed interrupt
// (IDE), as Linux's do; others interrupt within the floor.
TEST_F(E1000ItrTest, TadvStretchesTheIntervalAfterDelayedTransmits) {
  setup_tx(8);
  wr(regs::kIms, regs::kIntTxdw);
  wr(regs::kTadv, 250);  // 256 us
  auto first = clock.now();
  transmit(0, 0);
  EXPECT_TRUE(irq.level());
  acknowledge();
  transmit(1, 0);
  EXPECT_EQ(clock.next_deadline(), first + kFloor) << "no IDE";
  clock.advance(kFloor);
  acknowledge();
  clock.advance(1ms);

  first = clock.now();
  transmit(2, regs::kTxCmdIde);
  EXPECT_TRUE(irq.level());
  acknowledge();
  transmit(3, regs::kTxCmdIde);
  EXPECT_EQ(clock.next_deadline(), first + 250 * 1024ns);
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
