// The PIIX3 PCI-to-ISA bridge (82371SB function 0) at 00:01.0. The ISA devices behind it (PIC,
// PIT, RTC, serial) are modelled on the PIO bus directly; this function exists so the guest
// finds the chipset it expects. Its reset control register at 0xCF9 is served by PciRoot.
#pragma once

#include "devices/pci/pci_device.h"

namespace devices::pci {

// 8086:7000, class 06 01 00 (ISA bridge), revision 0 as QEMU's model reports. Header type has
// the multi-function bit set because IDE (function 1) and power management (function 3) share
// the device number.
class Piix3IsaBridge : public PciDevice {
 public:
  static constexpr uint8_t kDevice = 1;
  static constexpr uint8_t kFunction = 0;
  // PIRQA#..PIRQD# route control, 82371SB datasheet register PIRQRC[A:D] at 0x60-0x63.
  static constexpr uint8_t kPirqRoute = 0x60;
  static constexpr uint8_t kPirqRouteDefault = 0x80;  // bit 7: routing to ISA disabled

  Piix3IsaBridge();
};

}  // namespace devices::pci
