// The PIIX4 power-management function (82371AB function 3) at 00:01.3: its PCI identity, and the
// ACPI register blocks it decodes, which the VMM places on the PIO bus.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "devices/bus/bus.h"
#include "devices/interrupt_line.h"
#include "devices/pci/acpi_pm_registers.h"
#include "devices/pci/pci_device.h"

namespace devices::pci {

// 8086:7113, class 06 80 00 (other bridge), revision 03, interrupt pin INTA# as QEMU reports.
//
// Without a BIOS nobody programs PMBA, so the VMM fixes it: PMBA (config 0x40) reads
// kPmBase | 1 and PMREGMISC (0x80) has PMIOSE set, both read-only, so the guest sees the block
// already enabled where the FADT says it is. The SMBus controller of this function is absent
// (SMBBA reads 0), which Linux's i2c-piix4 reports and leaves alone.
class Piix4Pm : public PciDevice {
 public:
  static constexpr uint8_t kDevice = 1;
  static constexpr uint8_t kFunction = 3;
  static constexpr uint16_t kPmBase = 0x600;  // PM1a_EVT 0x600, PM1a_CNT 0x604, PM_TMR 0x608
  static constexpr uint16_t kPmLength = 64;
  static constexpr uint16_t kGpe0Base = 0xafe0;  // GPE0_STS 0xafe0, GPE0_EN 0xafe2 (as QEMU)
  static constexpr uint16_t kGpe0Length = 4;
  static constexpr uint8_t kSciIrq = 9;  // the FADT's SCI_INT
  // PIIX4 function 3 registers (82371AB datasheet: PMBA 40h, PMREGMISC 80h).
  static constexpr uint8_t kPmba = 0x40;
  static constexpr uint8_t kPmRegMisc = 0x80;

  // `sci` is ISA IRQ 9 (level, active high as the MADT override says); `power_off` runs on a
  // vCPU thread when the guest enters S5; `clock` gives monotonic nanoseconds (CLOCK_MONOTONIC
  // by default; tests pass a fake).
  Piix4Pm(std::shared_ptr<InterruptLine> sci, std::function<void()> power_off,
          AcpiPmRegisters::Clock clock = monotonic_ns);

  // Insert at [kPmBase, +kPmLength) and [kGpe0Base, +kGpe0Length) on the PIO bus.
  std::shared_ptr<BusDevice> pm_io() const { return pm_io_; }
  std::shared_ptr<BusDevice> gpe0() const { return gpe0_; }

  // Asks the guest to shut down (ACPI fixed power button).
  void power_button() { registers_->power_button(); }
  // Signals general-purpose event `bit` (0..15) to the guest's GPE handlers.
  void raise_gpe(unsigned bit) { registers_->raise_gpe(bit); }

  static uint64_t monotonic_ns();

 private:
  const std::shared_ptr<AcpiPmRegisters> registers_;
  const std::shared_ptr<BusDevice> pm_io_;
  const std::shared_ptr<BusDevice> gpe0_;
};

}  // namespace devices::pci
