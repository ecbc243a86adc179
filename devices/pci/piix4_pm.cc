#include "devices/pci/piix4_pm.h"

#include <chrono>
#include <utility>

namespace devices::pci {
namespace {

// The two I/O windows onto the shared registers. Each holds the registers, not the PCI function,
// so it stays valid for as long as a bus keeps it.
class PmIoBlock : public BusDevice {
 public:
  explicit PmIoBlock(std::shared_ptr<AcpiPmRegisters> r) : r_(std::move(r)) {}
  void read(uint64_t offset, std::span<std::byte> data) override { r_->pm_read(offset, data); }
  void write(uint64_t offset, std::span<const std::byte> data) override {
    r_->pm_write(offset, data);
  }

 private:
  const std::shared_ptr<AcpiPmRegisters> r_;
};

class Gpe0Block : public BusDevice {
 public:
  explicit Gpe0Block(std::shared_ptr<AcpiPmRegisters> r) : r_(std::move(r)) {}
  void read(uint64_t offset, std::span<std::byte> data) override { r_->gpe_read(offset, data); }
  void write(uint64_t offset, std::span<const std::byte> data) override {
    r_->gpe_write(offset, data);
  }

 private:
  const std::shared_ptr<AcpiPmRegisters> r_;
};

ConfigSpace make_config() {
  ConfigSpace c(0x8086, 0x7113, 0x068000, 0x03);
  c.set_interrupt_pin(1);
  // Scratch for the guest; the SCI's real routing comes from the FADT.
  c.set_interrupt_line(Piix4Pm::kSciIrq);
  // PMBA bit 0 is the read-only I/O-space indicator; PMREGMISC bit 0 (PMIOSE) enables the block.
  c.set_u32(Piix4Pm::kPmba, Piix4Pm::kPmBase | 1u);
  c.set_u8(Piix4Pm::kPmRegMisc, 1);
  return c;
}

}  // namespace

uint64_t Piix4Pm::monotonic_ns() {
  // libstdc++'s steady_clock is CLOCK_MONOTONIC.
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

Piix4Pm::Piix4Pm(std::shared_ptr<InterruptLine> sci, std::function<void()> power_off,
                 AcpiPmRegisters::Clock clock)
    : PciDevice(make_config()),
      registers_(std::make_shared<AcpiPmRegisters>(std::move(sci), std::move(power_off),
                                                   std::move(clock))),
      pm_io_(std::make_shared<PmIoBlock>(registers_)),
      gpe0_(std::make_shared<Gpe0Block>(registers_)) {}

}  // namespace devices::pci
