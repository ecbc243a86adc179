// An interrupt input of the platform's interrupt controllers, as a device model sees it.
// Implemented over KVM_IRQ_LINE in vmm/, and by a recording fake in unit tests.
#pragma once

namespace devices {

class InterruptLine {
 public:
  virtual ~InterruptLine() = default;
  // Level-triggered sources (PCI INTx, the 16550 on its ISA line) hold the level.
  virtual void set_level(bool asserted) = 0;
  // Edge-triggered sources.
  virtual void pulse() {
    set_level(true);
    set_level(false);
  }
};

}  // namespace devices
