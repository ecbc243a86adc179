#include "devices/pci/piix3.h"

namespace devices::pci {
namespace {

ConfigSpace make_config() {
  ConfigSpace c(0x8086, 0x7000, 0x060100, 0x00);
  c.set_multifunction(true);
  // The PIRQ route registers are kept for guests that read or program them, but they route
  // nothing: PCI INTx reach the IOAPIC directly (pci_intx_gsi), as the ACPI _PRT tells the guest.
  // Bits 7 (disable) and 3:0 (ISA IRQ) are defined; 6:4 are reserved.
  for (uint8_t i = 0; i < 4; ++i) {
    c.set_u8(Piix3IsaBridge::kPirqRoute + i, Piix3IsaBridge::kPirqRouteDefault);
    c.set_writable(Piix3IsaBridge::kPirqRoute + i, 1, 0x8f);
  }
  return c;
}

}  // namespace

Piix3IsaBridge::Piix3IsaBridge() : PciDevice(make_config()) {}

}  // namespace devices::pci
