// devices::InterruptLine over KVM_IRQ_LINE: a GSI of the in-kernel PIC and IOAPIC.
#pragma once

#include <cstdint>

#include "devices/interrupt_line.h"
#include "vmm/kvm.h"

namespace vmm {

class KvmIrqLine : public devices::InterruptLine {
 public:
  KvmIrqLine(const Vm& vm, uint32_t gsi) : vm_(vm), gsi_(gsi) {}
  void set_level(bool asserted) override { vm_.irq_line(gsi_, asserted); }

 private:
  const Vm& vm_;
  uint32_t gsi_;
};

}  // namespace vmm
