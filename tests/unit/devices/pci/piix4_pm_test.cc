// The ACPI registers of the PIIX4 PM function, driven as a guest drives them: port I/O at the
// addresses the FADT will publish.
#include "devices/pci/piix4_pm.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "tests/unit/devices/pci/port_io.h"
#include "tests/unit/fakes/fake_interrupt_line.h"

namespace {

using devices::Bus;
using devices::pci::AcpiPmRegisters;
using devices::pci::Piix4Pm;
using pci_test::in;
using pci_test::out;

constexpr uint64_t kPm1Sts = Piix4Pm::kPmBase + AcpiPmRegisters::kPm1Status;
constexpr uint64_t kPm1En = Piix4Pm::kPmBase + AcpiPmRegisters::kPm1Enable;
constexpr uint64_t kPm1Cnt = Piix4Pm::kPmBase + AcpiPmRegisters::kPm1Control;
constexpr uint64_t kPmTmr = Piix4Pm::kPmBase + AcpiPmRegisters::kPmTimer;
constexpr uint64_t kGpeSts = Piix4Pm::kGpe0Base + AcpiPmRegisters::kGpe0Status;
constexpr uint64_t kGpeEn = Piix4Pm::kGpe0Base + AcpiPmRegisters::kGpe0Enable;
constexpr uint16_t kPwrBtn = AcpiPmRegisters::kPowerButtonStatus;
constexpr uint16_t kTmr = AcpiPmRegisters::kTimerStatus;
constexpr uint16_t kSlpEn = AcpiPmRegisters::kSleepEnable;

// The first instant (ns after the clock's start) at which the PM timer has counted `ticks`.
uint64_t ns_for_ticks(uint64_t ticks) {
  return (ticks * 1'000'000'000 + AcpiPmRegisters::kTimerHz - 1) / AcpiPmRegisters::kTimerHz;
}

class Piix4PmTest : public testing::Test {
 protected:
  Piix4PmTest()
      : pm(std::make_shared<Piix4Pm>(
            sci, [this] { ++power_offs; }, [this] { return kStart + now.load(); })) {
    pio.insert(pm->pm_io(), Piix4Pm::kPmBase, Piix4Pm::kPmLength);
    pio.insert(pm->gpe0(), Piix4Pm::kGpe0Base, Piix4Pm::kGpe0Length);
  }
  void at_ticks(uint64_t ticks) { now = ns_for_ticks(ticks); }

  static constexpr uint64_t kStart = 123'456'789'000;  // the clock does not start at 0
  std::atomic<uint64_t> now{0};
  std::atomic<int> power_offs{0};
  std::shared_ptr<fakes::FakeInterruptLine> sci = std::make_shared<fakes::FakeInterruptLine>();
  std::shared_ptr<Piix4Pm> pm;
  Bus pio;
};

TEST_F(Piix4PmTest, Pm1StatusIsWriteOneToClear) {
  pm->power_button();
  EXPECT_EQ(in(pio, kPm1Sts, 2) & kPwrBtn, kPwrBtn);
  out(pio, kPm1Sts, 2, 0);  // 0 clears nothing
  EXPECT_EQ(in(pio, kPm1Sts, 2) & kPwrBtn, kPwrBtn);
  out(pio, kPm1Sts, 2, kTmr);  // another bit: this one stays
  EXPECT_EQ(in(pio, kPm1Sts, 2) & kPwrBtn, kPwrBtn);
  out(pio, kPm1Sts + 1, 1, kPwrBtn >> 8);  // a byte write to the high half clears it
  EXPECT_EQ(in(pio, kPm1Sts, 2) & kPwrBtn, 0u);
  // A dword write at PM1a_EVT reaches status and enable together.
  pm->power_button();
  out(pio, kPm1Sts, 4, uint32_t{kPwrBtn} << 16 | kPwrBtn);
  EXPECT_EQ(in(pio, kPm1Sts, 4), uint32_t{kPwrBtn} << 16);
}

TEST_F(Piix4PmTest, SciFollowsEnabledStatus) {
  pm->power_button();
  EXPECT_FALSE(sci->level()) << "PWRBTN_EN is clear";
  out(pio, kPm1En, 2, kPwrBtn);
  EXPECT_TRUE(sci->level());
  EXPECT_EQ(in(pio, kPm1En, 2), kPwrBtn);
  out(pio, kPm1Sts, 2, kPwrBtn);
  EXPECT_FALSE(sci->level());
  pm->power_button();
  EXPECT_TRUE(sci->level());
  out(pio, kPm1En, 2, 0);
  EXPECT_FALSE(sci->level());

  pm->raise_gpe(3);
  EXPECT_FALSE(sci->level());
  EXPECT_EQ(in(pio, kGpeSts, 2), 1u << 3);
  out(pio, kGpeEn, 2, 1u << 3);
  EXPECT_TRUE(sci->level());
  out(pio, kGpeSts, 1, 0x04);  // another bit: no change
  EXPECT_TRUE(sci->level());
  out(pio, kGpeSts, 1, 0x08);
  EXPECT_FALSE(sci->level());
  EXPECT_EQ(in(pio, kGpeSts, 4), uint32_t{1u << 3} << 16) << "status clear, enable kept";
  EXPECT_EQ(sci->assertions(), 3);
  EXPECT_THROW(pm->raise_gpe(16), std::invalid_argument);
}

TEST_F(Piix4PmTest, SleepEnableWithS5PowersOff) {
  EXPECT_EQ(in(pio, kPm1Cnt, 2) & AcpiPmRegisters::kSciEnable, AcpiPmRegisters::kSciEnable);
  out(pio, kPm1Cnt, 2, 0);  // SCI_EN is fixed on
  EXPECT_EQ(in(pio, kPm1Cnt, 2), AcpiPmRegisters::kSciEnable);

  out(pio, kPm1Cnt, 2, 5u << AcpiPmRegisters::kSleepTypeShift);  // SLP_TYP alone
  EXPECT_EQ(power_offs, 0);
  EXPECT_EQ(in(pio, kPm1Cnt, 2) >> AcpiPmRegisters::kSleepTypeShift & 7u, 5u);
  out(pio, kPm1Cnt, 2, 5u << AcpiPmRegisters::kSleepTypeShift | kSlpEn);  // S3-like: ignored
  EXPECT_EQ(power_offs, 0);

  out(pio, kPm1Cnt, 2, kSlpEn);  // SLP_TYP 0 (\_S5) with SLP_EN
  EXPECT_EQ(power_offs, 1);
  EXPECT_EQ(in(pio, kPm1Cnt, 2) & kSlpEn, 0u) << "SLP_EN is write-only";
  out(pio, kPm1Cnt + 1, 1, kSlpEn >> 8);  // the same through the high byte
  EXPECT_EQ(power_offs, 2);
}

TEST_F(Piix4PmTest, TimerCountsAt3579545HzAndWrapsAt24Bits) {
  EXPECT_EQ(in(pio, kPmTmr, 4), 0u);
  uint32_t last = 0;
  for (uint64_t ticks : {1ull, 2ull, 1000ull, 3579545ull, 0x7fffffull, 0xfffffeull, 0xffffffull}) {
    at_ticks(ticks);
    const uint32_t value = in(pio, kPmTmr, 4);
    EXPECT_EQ(value, ticks);
    EXPECT_GT(value, last);
    last = value;
  }
  at_ticks(0x1000000);
  EXPECT_EQ(in(pio, kPmTmr, 4), 0u) << "24-bit wrap";
  at_ticks(0x1000000 + 0x123456);
  EXPECT_EQ(in(pio, kPmTmr, 4), 0x123456u);
  EXPECT_EQ(in(pio, kPmTmr + 3, 1), 0u) << "bits 31:24 read 0";
  EXPECT_EQ(in(pio, kPmTmr + 1, 2), 0x1234u);
  // One second of clock is kTimerHz ticks.
  now = 1'000'000'000;
  EXPECT_EQ(in(pio, kPmTmr, 4), AcpiPmRegisters::kTimerHz);
}

TEST_F(Piix4PmTest, TimerStatusOnEveryChangeOfBit23) {
  at_ticks(0x7fffff);
  EXPECT_EQ(in(pio, kPm1Sts, 2) & kTmr, 0u);
  at_ticks(0x800000);
  EXPECT_EQ(in(pio, kPm1Sts, 2) & kTmr, kTmr);
  out(pio, kPm1Sts, 2, kTmr);
  EXPECT_EQ(in(pio, kPm1Sts, 2) & kTmr, 0u);
  out(pio, kPm1En, 2, kTmr);
  EXPECT_FALSE(sci->level());
  at_ticks(0x1000000);  // bit 23 falls as the counter wraps
  EXPECT_EQ(in(pio, kPm1Sts, 2) & kTmr, kTmr);
  EXPECT_TRUE(sci->level()) << "TMR_EN set: the SCI rises when the guest next looks";
}

TEST(Piix4PmRealClockTest, TimerAdvancesWithCLOCK_MONOTONIC) {
  auto pm = std::make_shared<Piix4Pm>(std::make_shared<fakes::FakeInterruptLine>(), [] {});
  Bus pio;
  pio.insert(pm->pm_io(), Piix4Pm::kPmBase, Piix4Pm::kPmLength);
  const uint32_t a = in(pio, kPmTmr, 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const uint32_t b = in(pio, kPmTmr, 4);
  const uint32_t elapsed = (b - a) & 0xffffff;
  // 20 ms is about 71591 ticks; allow a loaded machine to oversleep up to a second.
  EXPECT_GE(elapsed, AcpiPmRegisters::kTimerHz / 50);
  EXPECT_LT(elapsed, AcpiPmRegisters::kTimerHz * 2);
}

}  // namespace
