// The architectural state each vCPU needs before its first KVM_RUN: CPUID, MSRs and LAPIC for
// every vCPU, and the 64-bit boot-protocol registers for the bootstrap processor.
#pragma once

#include <span>

#include "boot/linux_boot.h"
#include "vmm/cpuid.h"
#include "vmm/kvm.h"

namespace vmm {

void setup_vcpu(const Vcpu& vcpu, std::span<const kvm_cpuid_entry2> supported_cpuid,
                const CpuTopology& topology);

// Long mode, flat segments from the boot GDT, paging on the identity map, RIP at the kernel's
// 64-bit entry and RSI at boot_params (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol").
void setup_boot_cpu(const Vcpu& vcpu, const boot::BootState& state);

}  // namespace vmm
