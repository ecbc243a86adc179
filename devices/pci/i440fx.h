// The i440FX host bridge (82441FX PMC) at 00:00.0, the function that names the machine's chipset.
#pragma once

#include "devices/pci/pci_device.h"

namespace devices::pci {

// 8086:1237, class 06 00 00 (host bridge), revision 02 (82441FX PMC datasheet).
// Its DRAM, PAM and SMRAM registers configure a memory controller that KVM's flat guest RAM
// does not have; they read as 0 and ignore writes, which Linux accepts.
class I440fxHostBridge : public PciDevice {
 public:
  static constexpr uint8_t kDevice = 0;
  static constexpr uint8_t kFunction = 0;

  I440fxHostBridge();
};

}  // namespace devices::pci
