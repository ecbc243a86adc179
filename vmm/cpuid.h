// Per-vCPU CPUID: what KVM_GET_SUPPORTED_CPUID offers (-cpu host), with the APIC ID and the
// topology leaves rewritten to describe this VM's sockets, cores and threads rather than the
// host's.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

namespace vmm {

struct CpuTopology {
  uint32_t sockets = 1;
  uint32_t cores = 1;    // per socket
  uint32_t threads = 1;  // per core

  uint32_t count() const { return sockets * cores * threads; }
  // Bits of the APIC ID that number threads in a core and cores in a socket (Intel SDM vol. 3A
  // 8.9.1 "Hierarchical Mapping of Shared Resources").
  uint32_t thread_bits() const;
  uint32_t core_bits() const;
  // The APIC ID of vCPU `index` (vCPUs numbered thread-fastest, as QEMU numbers them).
  uint32_t apic_id(uint32_t index) const;
};

std::vector<kvm_cpuid_entry2> vcpu_cpuid(std::span<const kvm_cpuid_entry2> supported,
                                         const CpuTopology& topology, uint32_t index);

}  // namespace vmm
