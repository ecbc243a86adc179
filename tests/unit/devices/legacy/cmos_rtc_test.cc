#include "devices/legacy/cmos_rtc.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <thread>

#include "devices/bus/bus.h"
#include "tests/unit/fakes/fake_interrupt_line.h"

namespace {

using devices::Bus;
using devices::legacy::CmosRtc;
using std::chrono::system_clock;
using namespace std::chrono_literals;

constexpr uint8_t kSeconds = 0x00, kSecondsAlarm = 0x01, kMinutes = 0x02, kMinutesAlarm = 0x03,
                  kHours = 0x04, kHoursAlarm = 0x05, kDayOfWeek = 0x06, kDay = 0x07, kMonth = 0x08,
                  kYear = 0x09, kRegA = 0x0A, kRegB = 0x0B, kRegC = 0x0C, kRegD = 0x0D,
                  kCentury = 0x32;
// Register C without PF, which the default 1024 Hz rate sets whether or not PIE asks for it.
constexpr uint8_t kUpdateAlarmFlags = 0xB0;
constexpr uint8_t kRegBSet = 0x80, kRegBPie = 0x40, kRegBAie = 0x20, kRegBUie = 0x10,
                  kRegBBinary = 0x04, kRegB24h = 0x02;

// A host clock the test moves by hand; the RTC's timer thread reads it too.
class SteppedClock {
 public:
  explicit SteppedClock(system_clock::time_point t) { set(t); }
  system_clock::time_point now() const {
    return system_clock::time_point(system_clock::duration(ticks_.load()));
  }
  void set(system_clock::time_point t) { ticks_ = t.time_since_epoch().count(); }
  void advance(system_clock::duration d) { ticks_ += d.count(); }

 private:
  std::atomic<system_clock::rep> ticks_;
};

system_clock::time_point utc(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return system_clock::from_time_t(timegm(&tm));
}

uint8_t bcd(int v) { return static_cast<uint8_t>(((v / 10) << 4) | (v % 10)); }

class CmosRtcTest : public ::testing::Test {
 protected:
  // Thursday 29 February 2024, 13:45:56 UTC.
  CmosRtcTest() : clock_(std::make_shared<SteppedClock>(utc(2024, 2, 29, 13, 45, 56))) {
    rtc_ = std::make_shared<CmosRtc>(irq_, [clock = clock_] { return clock->now(); });
    bus_.insert(rtc_, CmosRtc::kIoBase, CmosRtc::kPortCount);
  }

  uint8_t cmos(uint8_t index) {
    std::array<std::byte, 1> b{std::byte{index}};
    EXPECT_TRUE(bus_.write(0x70, b));
    EXPECT_TRUE(bus_.read(0x71, b));
    return std::to_integer<uint8_t>(b[0]);
  }
  void set_cmos(uint8_t index, uint8_t value) {
    std::array<std::byte, 1> b{std::byte{index}};
    EXPECT_TRUE(bus_.write(0x70, b));
    b[0] = std::byte{value};
    EXPECT_TRUE(bus_.write(0x71, b));
  }

  // The order Linux's mc146818_set_time() writes in (BCD, 24-hour), under SET.
  void set_time_like_linux(int year, int month, int day, int hour, int minute, int second) {
    uint8_t control = cmos(kRegB);
    set_cmos(kRegB, control | kRegBSet);
    set_cmos(kYear, bcd(year % 100));
    set_cmos(kMonth, bcd(month));
    set_cmos(kDay, bcd(day));
    set_cmos(kHours, bcd(hour));
    set_cmos(kMinutes, bcd(minute));
    set_cmos(kSeconds, bcd(second));
    set_cmos(kCentury, bcd(year / 100));
    set_cmos(kRegB, control);
  }

  fakes::FakeInterruptLine irq_;
  std::shared_ptr<SteppedClock> clock_;
  Bus bus_;
  std::shared_ptr<CmosRtc> rtc_;
};

TEST_F(CmosRtcTest, PowerOnRegisters) {
  EXPECT_EQ(cmos(kRegA), 0x26);  // 32.768 kHz, UIP clear
  EXPECT_EQ(cmos(kRegB), kRegB24h);
  EXPECT_EQ(cmos(kRegC), 0x00);
  EXPECT_EQ(cmos(kRegD), 0x80);
  EXPECT_FALSE(irq_.level());
}

TEST_F(CmosRtcTest, ReadsHostUtcInBcd) {
  EXPECT_EQ(cmos(kSeconds), 0x56);
  EXPECT_EQ(cmos(kMinutes), 0x45);
  EXPECT_EQ(cmos(kHours), 0x13);
  EXPECT_EQ(cmos(kDayOfWeek), 5);  // Thursday, Sunday being 1
  EXPECT_EQ(cmos(kDay), 0x29);
  EXPECT_EQ(cmos(kMonth), 0x02);
  EXPECT_EQ(cmos(kYear), 0x24);
  EXPECT_EQ(cmos(kCentury), 0x20);
  clock_->advance(3s);
  EXPECT_EQ(cmos(kSeconds), 0x59);
}

TEST_F(CmosRtcTest, ReadsBinaryWhenDmIsSet) {
  set_cmos(kRegB, kRegB24h | kRegBBinary);
  EXPECT_EQ(cmos(kSeconds), 56);
  EXPECT_EQ(cmos(kMinutes), 45);
  EXPECT_EQ(cmos(kHours), 13);
  EXPECT_EQ(cmos(kDay), 29);
  EXPECT_EQ(cmos(kMonth), 2);
  EXPECT_EQ(cmos(kYear), 24);
  EXPECT_EQ(cmos(kCentury), 20);
}

TEST_F(CmosRtcTest, TwelveHourModeMarksPmInBit7) {
  set_cmos(kRegB, 0);             // BCD, 12-hour
  EXPECT_EQ(cmos(kHours), 0x81);  // 1 PM
  clock_->set(utc(2024, 2, 29, 0, 10, 0));
  EXPECT_EQ(cmos(kHours), 0x12);  // 12 AM
  clock_->set(utc(2024, 2, 29, 12, 0, 0));
  EXPECT_EQ(cmos(kHours), 0x92);  // 12 PM
  set_cmos(kRegB, kRegBBinary);
  clock_->set(utc(2024, 2, 29, 23, 0, 0));
  EXPECT_EQ(cmos(kHours), 0x80 | 11);
}

TEST_F(CmosRtcTest, TimeWrittenUnderSetReadsBackAndKeepsRunning) {
  set_time_like_linux(2031, 7, 4, 8, 9, 10);
  EXPECT_EQ(cmos(kSeconds), 0x10);
  clock_->advance(5s);
  EXPECT_EQ(cmos(kSeconds), 0x15);
  EXPECT_EQ(cmos(kMinutes), 0x09);
  EXPECT_EQ(cmos(kHours), 0x08);
  EXPECT_EQ(cmos(kDay), 0x04);
  EXPECT_EQ(cmos(kMonth), 0x07);
  EXPECT_EQ(cmos(kYear), 0x31);
  EXPECT_EQ(cmos(kCentury), 0x20);
  EXPECT_EQ(cmos(kDayOfWeek), 6);  // Friday
}

TEST_F(CmosRtcTest, SetFreezesTheRegistersWhileTheGuestWritesThem) {
  set_cmos(kRegB, kRegB24h | kRegBSet | kRegBUie);
  EXPECT_EQ(cmos(kRegB), kRegB24h | kRegBSet);  // SET clears UIE
  clock_->advance(3s);
  EXPECT_EQ(cmos(kSeconds), 0x56);
  // Partial dates are not normalized while SET holds: 31 February is only transient.
  set_cmos(kDay, 0x31);
  set_cmos(kMonth, 0x03);
  set_cmos(kRegB, kRegB24h);
  EXPECT_EQ(cmos(kDay), 0x31);
  EXPECT_EQ(cmos(kMonth), 0x03);
  EXPECT_EQ(cmos(kSeconds), 0x56);
}

TEST_F(CmosRtcTest, SingleFieldWriteMovesARunningClock) {
  set_cmos(kMinutes, 0x30);
  EXPECT_EQ(cmos(kMinutes), 0x30);
  EXPECT_EQ(cmos(kHours), 0x13);
  clock_->advance(10s);
  EXPECT_EQ(cmos(kSeconds), 0x06);
  EXPECT_EQ(cmos(kMinutes), 0x31);
}

TEST_F(CmosRtcTest, DividerResetStopsTheClock) {
  set_cmos(kRegA, 0x76);
  clock_->advance(3s);
  EXPECT_EQ(cmos(kSeconds), 0x56);
  set_cmos(kSeconds, 0x00);
  set_cmos(kRegA, 0x26);
  clock_->advance(2s);
  EXPECT_EQ(cmos(kSeconds), 0x02);
  EXPECT_EQ(cmos(kMinutes), 0x45);
}

TEST_F(CmosRtcTest, CenturyRollsOver) {
  set_time_like_linux(2099, 12, 31, 23, 59, 59);
  EXPECT_EQ(cmos(kCentury), 0x20);
  clock_->advance(1s);
  EXPECT_EQ(cmos(kCentury), 0x21);
  EXPECT_EQ(cmos(kYear), 0x00);
  EXPECT_EQ(cmos(kMonth), 0x01);
  EXPECT_EQ(cmos(kDay), 0x01);
  EXPECT_EQ(cmos(kHours), 0x00);
  EXPECT_EQ(cmos(kDayOfWeek), 6);  // 1 January 2100 is a Friday
}

TEST_F(CmosRtcTest, UpdateInterruptAndRegisterCClearOnRead) {
  set_cmos(kRegB, kRegB24h | kRegBUie);
  EXPECT_FALSE(irq_.level());
  clock_->advance(1s);
  cmos(kRegA);  // any access brings the chip up to date
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(cmos(kRegC) & kUpdateAlarmFlags, 0x90);  // IRQF | UF
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(cmos(kRegC) & kUpdateAlarmFlags, 0x00);
}

TEST_F(CmosRtcTest, FlagsWithoutTheirEnableDoNotInterrupt) {
  clock_->advance(1s);
  // UF, and PF at the default rate, but no IRQF.
  EXPECT_EQ(cmos(kRegC), 0x50);
  EXPECT_EQ(irq_.assertions(), 0);
}

TEST_F(CmosRtcTest, AlarmInterruptFiresOnMatch) {
  set_cmos(kSecondsAlarm, 0x58);
  set_cmos(kMinutesAlarm, 0x45);
  set_cmos(kHoursAlarm, 0x13);
  set_cmos(kRegB, kRegB24h | kRegBAie);
  clock_->advance(1s);
  EXPECT_EQ(cmos(kRegC) & kUpdateAlarmFlags, 0x10);
  EXPECT_FALSE(irq_.level());
  clock_->advance(1s);
  cmos(kRegA);
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(cmos(kRegC) & kUpdateAlarmFlags, 0xB0);  // IRQF | AF | UF
  EXPECT_FALSE(irq_.level());
}

TEST_F(CmosRtcTest, AlarmSecondSkippedOverStillCounts) {
  set_cmos(kSecondsAlarm, 0x58);
  set_cmos(kMinutesAlarm, 0x45);
  set_cmos(kHoursAlarm, 0x13);
  set_cmos(kRegB, kRegB24h | kRegBAie);
  clock_->advance(5s);
  EXPECT_EQ(cmos(kRegC) & kUpdateAlarmFlags, 0xB0);
}

TEST_F(CmosRtcTest, AlarmDontCareBytesMatchAnyValue) {
  set_cmos(kSecondsAlarm, 0xC0);
  set_cmos(kMinutesAlarm, 0xFF);
  set_cmos(kHoursAlarm, 0x14);  // 14:xx:xx is not yet
  set_cmos(kRegB, kRegB24h | kRegBAie);
  clock_->advance(1s);
  EXPECT_EQ(cmos(kRegC) & 0x20, 0);
  set_cmos(kHoursAlarm, 0x13);
  clock_->advance(1s);
  EXPECT_EQ(cmos(kRegC) & 0xA0, 0xA0);
}

TEST_F(CmosRtcTest, PeriodicFlagFollowsTheRate) {
  set_cmos(kRegB, kRegB24h | kRegBPie);
  clock_->advance(2ms);  // the default rate is 1024 Hz
  cmos(kRegA);
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(cmos(kRegC) & 0xC0, 0xC0);  // IRQF | PF
  set_cmos(kRegA, 0x20);                // rate 0: periodic off
  clock_->advance(10ms);
  EXPECT_EQ(cmos(kRegC) & 0x40, 0);
  EXPECT_FALSE(irq_.level());
}

TEST_F(CmosRtcTest, IndexPortIgnoresNmiBitAndStaysInRange) {
  std::array<std::byte, 1> b{std::byte{0x80 | kRegA}};
  ASSERT_TRUE(bus_.write(0x70, b));
  ASSERT_TRUE(bus_.read(0x71, b));
  EXPECT_EQ(b[0], std::byte{0x26});
  set_cmos(0xFF, 0x5A);  // index 0xFF selects the last byte, 0x7F
  EXPECT_EQ(cmos(0x7F), 0x5A);
  ASSERT_TRUE(bus_.read(0x70, b));
  EXPECT_EQ(b[0], std::byte{0xFF});  // the index port is write-only
  // A 16-bit access writes the index, then the data.
  std::array<std::byte, 2> w{std::byte{0x40}, std::byte{0x77}};
  ASSERT_TRUE(bus_.write(0x70, w));
  EXPECT_EQ(cmos(0x40), 0x77);
}

TEST_F(CmosRtcTest, ReadOnlyBitsAndRegisters) {
  set_cmos(kRegA, 0xA6);
  EXPECT_EQ(cmos(kRegA), 0x26);  // UIP is never set
  set_cmos(kRegD, 0x00);
  EXPECT_EQ(cmos(kRegD), 0x80);
  set_cmos(kRegC, 0xF0);
  EXPECT_EQ(cmos(kRegC), 0x00);
}

TEST_F(CmosRtcTest, MemorySizeBytes) {
  constexpr uint64_t kMiB = 1 << 20, kGiB = 1 << 30;
  auto word = [this](uint8_t index) { return cmos(index) | cmos(index + 1) << 8; };
  auto triple = [this](uint8_t index) {
    return cmos(index) | cmos(index + 1) << 8 | cmos(index + 2) << 16;
  };
  rtc_->set_memory_size(32 * kMiB, 0);
  EXPECT_EQ(word(0x30), (32 - 1) * 1024);
  EXPECT_EQ(word(0x34), (32 - 16) * 16);
  EXPECT_EQ(triple(0x5B), 0);
  rtc_->set_memory_size(3 * kGiB, 5 * kGiB);
  EXPECT_EQ(word(0x30), 0xFFFF);
  EXPECT_EQ(word(0x34), (3 * 1024 - 16) * 16);
  EXPECT_EQ(triple(0x5B), 5 * 1024 * 16);
}

TEST_F(CmosRtcTest, GarbageInEveryRegisterIsSurvived) {
  for (uint8_t value : {0x00, 0x7F, 0x80, 0x99, 0xAA, 0xFF}) {
    for (int index = 0; index < 128; ++index) set_cmos(static_cast<uint8_t>(index), value);
    clock_->advance(1s);
    for (int index = 0; index < 128; ++index) cmos(static_cast<uint8_t>(index));
  }
  // Back to sane settings, the clock works again.
  set_cmos(kRegA, 0x26);
  set_cmos(kRegB, kRegB24h);
  set_time_like_linux(2024, 1, 2, 3, 4, 5);
  clock_->advance(1s);
  EXPECT_EQ(cmos(kSeconds), 0x06);
  EXPECT_EQ(cmos(kDay), 0x02);
}

TEST(CmosRtcRealTime, TimerThreadRaisesTheAlarmWithoutGuestAccess) {
  fakes::FakeInterruptLine irq;
  Bus bus;
  bus.insert(std::make_shared<CmosRtc>(irq), CmosRtc::kIoBase, CmosRtc::kPortCount);
  auto set = [&](uint8_t index, uint8_t value) {
    std::array<std::byte, 1> b{std::byte{index}};
    bus.write(0x70, b);
    b[0] = std::byte{value};
    bus.write(0x71, b);
  };
  set(kSecondsAlarm, 0xC0);  // every second
  set(kMinutesAlarm, 0xC0);
  set(kHoursAlarm, 0xC0);
  set(kRegB, kRegB24h | kRegBAie);
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!irq.level() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(irq.level());
}

}  // namespace
