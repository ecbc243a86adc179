#include "devices/pci/i440fx.h"

namespace devices::pci {

I440fxHostBridge::I440fxHostBridge() : PciDevice(ConfigSpace(0x8086, 0x1237, 0x060000, 0x02)) {}

}  // namespace devices::pci
