// The ACPI fixed-hardware registers of the PIIX4 power-management function: the PM1a event and
// control blocks, the PM timer and a 16-bit GPE0 block (ACPI 6.4 chapter 4, "ACPI Hardware
// Specification"), and the SCI they drive. The FADT (firmware/) must describe the same layout.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>

#include "devices/interrupt_line.h"

namespace devices::pci {

class AcpiPmRegisters {
 public:
  // Monotonic nanoseconds; the PM timer counts from the first value read.
  using Clock = std::function<uint64_t()>;

  // PM1a_STS / PM1a_EN bits (ACPI 6.4 tables 4.11 and 4.12).
  static constexpr uint16_t kTimerStatus = 1u << 0;        // TMR_STS / TMR_EN
  static constexpr uint16_t kPowerButtonStatus = 1u << 8;  // PWRBTN_STS / PWRBTN_EN
  static constexpr uint16_t kWakeStatus = 1u << 15;        // WAK_STS
  // PM1a_CNT bits (ACPI 6.4 table 4.13).
  static constexpr uint16_t kSciEnable = 1u << 0;
  static constexpr uint16_t kSleepEnable = 1u << 13;
  static constexpr int kSleepTypeShift = 10;  // SLP_TYP, bits 12:10

  // Offsets in the PM I/O block.
  static constexpr uint64_t kPm1Status = 0;
  static constexpr uint64_t kPm1Enable = 2;
  static constexpr uint64_t kPm1Control = 4;
  static constexpr uint64_t kPmTimer = 8;
  // Offsets in the GPE0 block: status then enable, 2 bytes each.
  static constexpr uint64_t kGpe0Status = 0;
  static constexpr uint64_t kGpe0Enable = 2;

  static constexpr uint64_t kTimerHz = 3579545;  // the PM timer's fixed rate (ACPI 6.4 chapter 4)

  // `power_off` runs (without the lock held) when the guest enters S5; `sci` carries the level.
  AcpiPmRegisters(std::shared_ptr<InterruptLine> sci, std::function<void()> power_off, Clock clock);

  // Accesses of any size and alignment to the 64-byte PM block and the 4-byte GPE0 block; bytes
  // that no register covers read 0.
  void pm_read(uint64_t offset, std::span<std::byte> data);
  void pm_write(uint64_t offset, std::span<const std::byte> data);
  void gpe_read(uint64_t offset, std::span<std::byte> data);
  void gpe_write(uint64_t offset, std::span<const std::byte> data);

  // The power button was pressed: PWRBTN_STS is set, and the SCI raised if PWRBTN_EN is.
  void power_button();
  // A general-purpose event: sets GPE0_STS bit `bit` (0..15, else std::invalid_argument).
  void raise_gpe(unsigned bit);

 private:
  uint32_t timer_locked();
  void update_sci_locked();

  const std::shared_ptr<InterruptLine> sci_;
  const std::function<void()> power_off_;
  const Clock clock_;
  const uint64_t start_ns_;

  std::mutex mutex_;
  uint16_t pm1_status_ = 0;
  uint16_t pm1_enable_ = 0;
  // SCI_EN reads 1 and is read-only: the FADT has no SMI_CMD, so the system is always in ACPI
  // mode (ACPI 6.4 table 4.13, SCI_EN).
  uint16_t pm1_control_ = kSciEnable;
  uint16_t gpe_status_ = 0;
  uint16_t gpe_enable_ = 0;
  uint64_t timer_msb_epoch_ = 0;  // timer ticks >> 23 when last looked at
  bool sci_level_ = false;
  bool warned_sleep_state_ = false;
};

}  // namespace devices::pci
