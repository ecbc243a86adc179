#include "devices/legacy/cmos_rtc.h"

#include <algorithm>
#include <utility>

namespace devices::legacy {

namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

// MC146818A register map; 0x32 is the century byte by IBM PC convention (ACPI FADT CENTURY).
constexpr uint8_t kSeconds = 0x00;
constexpr uint8_t kSecondsAlarm = 0x01;
constexpr uint8_t kMinutes = 0x02;
constexpr uint8_t kMinutesAlarm = 0x03;
constexpr uint8_t kHours = 0x04;
constexpr uint8_t kHoursAlarm = 0x05;
constexpr uint8_t kDayOfWeek = 0x06;
constexpr uint8_t kDayOfMonth = 0x07;
constexpr uint8_t kMonth = 0x08;
constexpr uint8_t kYear = 0x09;
constexpr uint8_t kRegA = 0x0A;
constexpr uint8_t kRegB = 0x0B;
constexpr uint8_t kRegC = 0x0C;
constexpr uint8_t kRegD = 0x0D;
constexpr uint8_t kCentury = 0x32;

constexpr uint8_t kIndexMask = 0x7F;  // bit 7 of the index port is the NMI mask

// Register A: UIP, divider (DV2-0) and rate (RS3-0).
constexpr uint8_t kRegAUip = 0x80;
constexpr uint8_t kRegADividerReset = 0x60;  // DV2 and DV1 both set hold the divider in reset
constexpr uint8_t kRegARate = 0x0F;
constexpr uint8_t kRegADefault = 0x26;  // 32.768 kHz time base, 1024 Hz periodic rate

// Register B.
constexpr uint8_t kRegBSet = 0x80;
constexpr uint8_t kRegBUie = 0x10;
constexpr uint8_t kRegBBinary = 0x04;
constexpr uint8_t kRegB24Hour = 0x02;
constexpr uint8_t kRegBDefault = kRegB24Hour;  // BCD, 24-hour
constexpr uint8_t kRegBPie = 0x40;
constexpr uint8_t kRegBAie = 0x20;

// Register C flags sit at the same bit positions as their register B enables.
constexpr uint8_t kRegCIrqf = 0x80;
constexpr uint8_t kRegCPf = 0x40;
constexpr uint8_t kRegCAf = 0x20;
constexpr uint8_t kRegCUf = 0x10;
constexpr uint8_t kRegCFlags = kRegCPf | kRegCAf | kRegCUf;

constexpr uint8_t kRegDVrt = 0x80;

// Alarm bytes 0xC0-0xFF match any value.
constexpr uint8_t kAlarmDontCare = 0xC0;
// When the update cycle runs late (nobody asked for interrupts), the alarm is checked against
// at most this many of the seconds that went by.
constexpr std::time_t kAlarmLookback = 8;

bool is_time_register(uint8_t index) {
  switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury:
      return true;
    default:
      return false;
  }
}

struct ClockRegisters {
  uint8_t seconds, minutes, hours, day_of_week, day_of_month, month, year, century;
};

// The time registers for `t` in register B's format (datasheet Table 3).
ClockRegisters encode(std::time_t t, uint8_t reg_b) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  bool binary = reg_b & kRegBBinary;
  auto field = [binary](int v) {
    return static_cast<uint8_t>(binary ? v : ((v / 10) << 4) | (v % 10));
  };
  uint8_t hours = field(tm.tm_hour);
  if (!(reg_b & kRegB24Hour)) {
    // 12-hour form: 12, 1..11 with bit 7 set for PM.
    int h12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
    hours = static_cast<uint8_t>(field(h12) | (tm.tm_hour >= 12 ? 0x80 : 0));
  }
  int year = std::clamp(tm.tm_year + 1900, 0, 9999);
  return {field(tm.tm_sec),      field(tm.tm_min),     hours,
          field(tm.tm_wday + 1),  // 1 = Sunday
          field(tm.tm_mday),     field(tm.tm_mon + 1), field(year % 100),
          field(year / 100)};
}

// The time the registers hold, read in register B's format. Out-of-range values (the guest
// may write anything) are normalized by timegm rather than rejected.
std::time_t decode(const std::array<uint8_t, 128>& cmos) {
  bool binary = cmos[kRegB] & kRegBBinary;
  auto field = [binary](uint8_t v) { return binary ? int{v} : (v >> 4) * 10 + (v & 0x0F); };
  std::tm tm{};
  tm.tm_sec = field(cmos[kSeconds]);
  tm.tm_min = field(cmos[kMinutes]);
  uint8_t hours = cmos[kHours];
  if (cmos[kRegB] & kRegB24Hour)
    tm.tm_hour = field(hours);
  else
    tm.tm_hour = field(hours & 0x7F) % 12 + ((hours & 0x80) ? 12 : 0);
  tm.tm_mday = field(cmos[kDayOfMonth]);
  tm.tm_mon = field(cmos[kMonth]) - 1;
  tm.tm_year = field(cmos[kCentury]) * 100 + field(cmos[kYear]) - 1900;
  return timegm(&tm);
}

}  // namespace

CmosRtc::CmosRtc(InterruptLine& irq, Clock clock) : irq_(irq), clock_(std::move(clock)) {
  cmos_[kRegA] = kRegADefault;
  cmos_[kRegB] = kRegBDefault;
  TimePoint now = clock_();
  last_update_ = guest_seconds(now);
  last_periodic_tick_ = periodic_tick(now);
  latch_time(last_update_);
  timer_ = std::jthread([this](std::stop_token stop) { run_timer(stop); });
}

void CmosRtc::read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  TimePoint now = clock_();
  advance(now);
  for (size_t i = 0; i < data.size(); ++i) {
    // The index port is write-only; a read floats high.
    uint8_t value = offset + i == 1 ? read_register(index_, now) : 0xFF;
    data[i] = std::byte{value};
  }
}

void CmosRtc::write(uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard lock(mutex_);
  TimePoint now = clock_();
  advance(now);
  for (size_t i = 0; i < data.size(); ++i) {
    uint8_t value = std::to_integer<uint8_t>(data[i]);
    if (offset + i == 0)
      index_ = value & kIndexMask;
    else if (offset + i == 1)
      write_register(index_, value, now);
  }
  rearm_timer();
}

void CmosRtc::set_memory_size(uint64_t ram_below_4g, uint64_t ram_above_4g) {
  constexpr uint64_t kKiB = 1024;
  constexpr uint64_t kMiB = 1024 * kKiB;
  constexpr uint64_t k64KiB = 64 * kKiB;
  auto put = [this](uint8_t index, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) cmos_[index + i] = static_cast<uint8_t>(value >> (8 * i));
  };
  uint64_t extended_kib = ram_below_4g > kMiB ? (ram_below_4g - kMiB) / kKiB : 0;
  uint64_t above_16m = ram_below_4g > 16 * kMiB ? (ram_below_4g - 16 * kMiB) / k64KiB : 0;
  std::lock_guard lock(mutex_);
  put(0x30, std::min<uint64_t>(extended_kib, 0xFFFF), 2);
  put(0x34, std::min<uint64_t>(above_16m, 0xFFFF), 2);
  put(0x5B, std::min<uint64_t>(ram_above_4g / k64KiB, 0xFFFFFF), 3);
}

uint8_t CmosRtc::read_register(uint8_t index, TimePoint now) {
  switch (index) {
    case kRegC: {
      uint8_t value = flags_;
      if (flags_ & cmos_[kRegB] & kRegCFlags) value |= kRegCIrqf;
      flags_ = 0;
      update_irq();
      rearm_timer();
      return value;
    }
    case kRegD:
      return kRegDVrt;
    default:
      if (is_time_register(index) && updating()) latch_time(guest_seconds(now));
      return cmos_[index];
  }
}

void CmosRtc::write_register(uint8_t index, uint8_t value, TimePoint now) {
  bool was_updating = updating();
  switch (index) {
    case kRegA:
      cmos_[kRegA] = value & ~kRegAUip;
      last_periodic_tick_ = periodic_tick(now);
      break;
    case kRegB:
      // Setting SET clears UIE (datasheet, register B bit 4).
      cmos_[kRegB] = (value & kRegBSet) ? (value & ~kRegBUie) : value;
      break;
    case kRegC:
    case kRegD:
      return;  // read-only
    default:
      if (is_time_register(index) && updating()) {
        // A running clock takes a single field at once: the others keep their current value.
        latch_time(guest_seconds(now));
        cmos_[index] = value;
        commit_time(now);
      } else {
        cmos_[index] = value;
      }
      return;
  }
  // Stopping the clock (SET, divider reset) freezes the registers for the guest to rewrite;
  // starting it again restarts time from what they hold.
  if (was_updating && !updating()) latch_time(guest_seconds(now));
  if (!was_updating && updating()) commit_time(now);
  update_irq();
}

bool CmosRtc::divider_running() const {
  return (cmos_[kRegA] & kRegADividerReset) != kRegADividerReset;
}

bool CmosRtc::updating() const { return divider_running() && !(cmos_[kRegB] & kRegBSet); }

nanoseconds CmosRtc::shifted_host_time(TimePoint now) const {
  return std::chrono::duration_cast<nanoseconds>(now.time_since_epoch()) + phase_;
}

std::time_t CmosRtc::guest_seconds(TimePoint now) const {
  return std::chrono::floor<seconds>(shifted_host_time(now)).count() + offset_seconds_;
}

std::chrono::nanoseconds CmosRtc::periodic_period() const {
  // Datasheet Table 5 for the 32.768 kHz time base: rates 1 and 2 repeat rates 8 and 9, rate
  // n >= 3 has a period of 2^(n-1) / 32768 s, rate 0 is off.
  int rate = cmos_[kRegA] & kRegARate;
  if (rate == 0) return nanoseconds{0};
  if (rate < 3) rate += 7;
  return nanoseconds{(int64_t{1'000'000'000} << (rate - 1)) / 32768};
}

int64_t CmosRtc::periodic_tick(TimePoint now) const {
  nanoseconds period = periodic_period();
  if (period.count() == 0) return 0;
  return std::chrono::duration_cast<nanoseconds>(now.time_since_epoch()) / period;
}

void CmosRtc::latch_time(std::time_t t) {
  ClockRegisters regs = encode(t, cmos_[kRegB]);
  cmos_[kSeconds] = regs.seconds;
  cmos_[kMinutes] = regs.minutes;
  cmos_[kHours] = regs.hours;
  cmos_[kDayOfWeek] = regs.day_of_week;
  cmos_[kDayOfMonth] = regs.day_of_month;
  cmos_[kMonth] = regs.month;
  cmos_[kYear] = regs.year;
  cmos_[kCentury] = regs.century;
}

void CmosRtc::commit_time(TimePoint now) {
  std::time_t t = decode(cmos_);
  auto host = std::chrono::duration_cast<nanoseconds>(now.time_since_epoch());
  auto next_host_second = std::chrono::ceil<seconds>(host);
  phase_ = next_host_second - host;
  offset_seconds_ = t - next_host_second.count();
  last_update_ = t;
}

bool CmosRtc::alarm_matches(std::time_t t) const {
  ClockRegisters regs = encode(t, cmos_[kRegB]);
  auto match = [](uint8_t alarm, uint8_t value) {
    return (alarm & kAlarmDontCare) == kAlarmDontCare || alarm == value;
  };
  return match(cmos_[kSecondsAlarm], regs.seconds) && match(cmos_[kMinutesAlarm], regs.minutes) &&
         match(cmos_[kHoursAlarm], regs.hours);
}

void CmosRtc::advance(TimePoint now) {
  if (updating()) {
    std::time_t second = guest_seconds(now);
    if (second > last_update_) {
      flags_ |= kRegCUf;
      for (std::time_t s = std::max(last_update_ + 1, second - kAlarmLookback + 1); s <= second;
           ++s) {
        if (alarm_matches(s)) flags_ |= kRegCAf;
      }
    }
    last_update_ = second;  // also resynchronizes after the host clock stepped back
  }
  if (divider_running() && periodic_period().count() > 0) {
    int64_t tick = periodic_tick(now);
    if (tick > last_periodic_tick_) flags_ |= kRegCPf;
    last_periodic_tick_ = tick;
  }
  update_irq();
}

void CmosRtc::update_irq() {
  // IRQF = PF.PIE + AF.AIE + UF.UIE, and the IRQ pin follows IRQF.
  bool level = flags_ & cmos_[kRegB] & kRegCFlags;
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_.set_level(level);
}

std::optional<nanoseconds> CmosRtc::next_wakeup(TimePoint now) const {
  std::optional<nanoseconds> wait;
  uint8_t enables = cmos_[kRegB];
  // Wake only for an enabled flag that is not already pending: once it is, nothing changes
  // for the guest until it reads register C (which rearms the timer).
  bool update_due = ((enables & kRegBUie) && !(flags_ & kRegCUf)) ||
                    ((enables & kRegBAie) && !(flags_ & kRegCAf));
  if (updating() && update_due) {
    nanoseconds shifted = shifted_host_time(now);
    wait = std::chrono::floor<seconds>(shifted) + seconds{1} - shifted;
  }
  nanoseconds period = periodic_period();
  if (divider_running() && (enables & kRegBPie) && !(flags_ & kRegCPf) && period.count() > 0) {
    auto since_epoch = std::chrono::duration_cast<nanoseconds>(now.time_since_epoch());
    nanoseconds until_tick = (since_epoch / period + 1) * period - since_epoch;
    wait = wait ? std::min(*wait, until_tick) : until_tick;
  }
  return wait;
}

void CmosRtc::run_timer(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    std::optional<nanoseconds> wait = next_wakeup(clock_());
    auto rearmed = [this] { return timer_rearm_; };
    if (wait)
      timer_wake_.wait_for(lock, stop, *wait, rearmed);
    else
      timer_wake_.wait(lock, stop, rearmed);
    timer_rearm_ = false;
    advance(clock_());
  }
}

void CmosRtc::rearm_timer() {
  timer_rearm_ = true;
  timer_wake_.notify_one();
}

}  // namespace devices::legacy
