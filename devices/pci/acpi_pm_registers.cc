#include "devices/pci/acpi_pm_registers.h"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <utility>

namespace devices::pci {
namespace {

// PM1 status bits the guest clears by writing 1: TMR, BM, GBL, PWRBTN, SLPBTN, RTC and WAK_STS.
constexpr uint16_t kPm1StatusWrite1ToClear = 0x8731;
// PM1 enable bits that exist: TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN.
constexpr uint16_t kPm1EnableWritable = 0x0721;
// PM1 control bits kept: BM_RLD and SLP_TYP. GBL_RLS and SLP_EN are write-only and read 0.
constexpr uint16_t kPm1ControlWritable = 0x1c02;
constexpr uint16_t kSleepTypeMask = 0x7;
// The SLP_TYP value the DSDT's \_S5 package gives for soft-off.
constexpr uint16_t kSleepTypeSoftOff = 0;

constexpr uint32_t kTimerMask = 0xffffff;  // a 24-bit timer (FADT flag TMR_VAL_EXT clear)
constexpr int kTimerMsb = 23;

// The part of a little-endian access [offset, offset + data.size()) that lands in the 16-bit
// register at `reg`: the bytes written and which of them were.
struct Field {
  uint16_t value = 0;
  uint16_t mask = 0;
};

Field field(uint64_t offset, std::span<const std::byte> data, uint64_t reg) {
  Field f;
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t at = offset + i;
    if (at < reg || at >= reg + 2) continue;
    const int shift = static_cast<int>(8 * (at - reg));
    f.value |= static_cast<uint16_t>(std::to_integer<uint16_t>(data[i]) << shift);
    f.mask |= static_cast<uint16_t>(0xff << shift);
  }
  return f;
}

uint16_t merge(uint16_t old, Field f, uint16_t writable) {
  const uint16_t m = f.mask & writable;
  return static_cast<uint16_t>((old & ~m) | (f.value & m));
}

uint8_t byte_of(uint32_t value, uint64_t index) {
  return static_cast<uint8_t>(value >> (8 * index));
}

}  // namespace

AcpiPmRegisters::AcpiPmRegisters(std::shared_ptr<InterruptLine> sci,
                                 std::function<void()> power_off, Clock clock)
    : sci_(std::move(sci)),
      power_off_(std::move(power_off)),
      clock_(clock ? std::move(clock) : throw std::invalid_argument("ACPI PM needs a clock")),
      start_ns_(clock_()) {
  if (!sci_) throw std::invalid_argument("ACPI PM needs an SCI line");
}

uint32_t AcpiPmRegisters::timer_locked() {
  const uint64_t now = clock_();
  const uint64_t ns = now > start_ns_ ? now - start_ns_ : 0;
  // ns * 3579545 / 1e9 without overflowing 64 bits for any uptime.
  constexpr uint64_t kNsPerSecond = 1'000'000'000;
  const uint64_t ticks = ns / kNsPerSecond * kTimerHz + ns % kNsPerSecond * kTimerHz / kNsPerSecond;
  // TMR_STS is set whenever the counter's top bit changes (ACPI 6.4 table 4.11). It is noticed
  // when the guest touches these registers, not by a host timer, so an enabled timer SCI is only
  // raised then; Linux uses the PM timer as a clock source and never enables it.
  const uint64_t epoch = ticks >> kTimerMsb;
  if (epoch != timer_msb_epoch_) {
    timer_msb_epoch_ = epoch;
    pm1_status_ |= kTimerStatus;
  }
  return static_cast<uint32_t>(ticks) & kTimerMask;
}

void AcpiPmRegisters::update_sci_locked() {
  // The SCI is a level: asserted while any enabled event's status is set. The line is set under
  // the lock so that levels reach it in the order they were computed.
  const bool level = (pm1_status_ & pm1_enable_) != 0 || (gpe_status_ & gpe_enable_) != 0;
  if (level == sci_level_) return;
  sci_level_ = level;
  sci_->set_level(level);
}

void AcpiPmRegisters::pm_read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  const uint32_t timer = timer_locked();
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t at = offset + i;
    uint8_t b = 0;
    if (at < kPm1Enable)
      b = byte_of(pm1_status_, at - kPm1Status);
    else if (at < kPm1Control)
      b = byte_of(pm1_enable_, at - kPm1Enable);
    else if (at < kPm1Control + 2)
      b = byte_of(pm1_control_, at - kPm1Control);
    else if (at >= kPmTimer && at < kPmTimer + 4)
      b = byte_of(timer, at - kPmTimer);
    data[i] = std::byte{b};
  }
  update_sci_locked();
}

void AcpiPmRegisters::pm_write(uint64_t offset, std::span<const std::byte> data) {
  bool power_off = false;
  {
    std::lock_guard lock(mutex_);
    timer_locked();
    const Field status = field(offset, data, kPm1Status);
    pm1_status_ &= static_cast<uint16_t>(~(status.value & status.mask & kPm1StatusWrite1ToClear));
    pm1_enable_ = merge(pm1_enable_, field(offset, data, kPm1Enable), kPm1EnableWritable);
    const Field control = field(offset, data, kPm1Control);
    pm1_control_ = merge(pm1_control_, control, kPm1ControlWritable);
    if (control.value & control.mask & kSleepEnable) {
      const uint16_t type = (pm1_control_ >> kSleepTypeShift) & kSleepTypeMask;
      if (type == kSleepTypeSoftOff) {
        power_off = true;
      } else if (!std::exchange(warned_sleep_state_, true)) {
        // The DSDT offers only \_S5; other sleep states are not implemented.
        spdlog::warn("acpi: guest asked for sleep type {}; ignored", type);
      }
    }
    update_sci_locked();
  }
  if (power_off && power_off_) power_off_();
}

void AcpiPmRegisters::gpe_read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t at = offset + i;
    uint8_t b = 0;
    if (at < kGpe0Enable)
      b = byte_of(gpe_status_, at - kGpe0Status);
    else if (at < kGpe0Enable + 2)
      b = byte_of(gpe_enable_, at - kGpe0Enable);
    data[i] = std::byte{b};
  }
}

void AcpiPmRegisters::gpe_write(uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard lock(mutex_);
  const Field status = field(offset, data, kGpe0Status);
  gpe_status_ &= static_cast<uint16_t>(~(status.value & status.mask));
  gpe_enable_ = merge(gpe_enable_, field(offset, data, kGpe0Enable), 0xffff);
  update_sci_locked();
}

void AcpiPmRegisters::power_button() {
  std::lock_guard lock(mutex_);
  pm1_status_ |= kPowerButtonStatus;
  update_sci_locked();
}

void AcpiPmRegisters::raise_gpe(unsigned bit) {
  if (bit > 15) throw std::invalid_argument("GPE0 bit must be 0..15");
  std::lock_guard lock(mutex_);
  gpe_status_ |= static_cast<uint16_t>(1u << bit);
  update_sci_locked();
}

}  // namespace devices::pci
