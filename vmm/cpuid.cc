#include "vmm/cpuid.h"

#include <bit>
#include <cstring>

namespace vmm {

namespace {

uint32_t bits_for(uint32_t n) { return n <= 1 ? 0 : std::bit_width(n - 1); }

bool is_amd(std::span<const kvm_cpuid_entry2> entries) {
  for (const auto& e : entries) {
    if (e.function != 0) continue;
    // "AuthenticAMD": EBX "Auth", EDX "enti", ECX "cAMD".
    return e.ebx == 0x68747541 && e.edx == 0x69746e65 && e.ecx == 0x444d4163;
  }
  return false;
}

// CPUID leaf 0xB / 0x1F level types (SDM vol. 2A, CPUID).
constexpr uint32_t kLevelSmt = 1;
constexpr uint32_t kLevelCore = 2;

}  // namespace

uint32_t CpuTopology::thread_bits() const { return bits_for(threads); }
uint32_t CpuTopology::core_bits() const { return bits_for(cores); }

uint32_t CpuTopology::apic_id(uint32_t index) const {
  uint32_t thread = index % threads;
  uint32_t core = (index / threads) % cores;
  uint32_t socket = index / (threads * cores);
  return (socket << (core_bits() + thread_bits())) | (core << thread_bits()) | thread;
}

std::vector<kvm_cpuid_entry2> vcpu_cpuid(std::span<const kvm_cpuid_entry2> supported,
                                         const CpuTopology& topo, uint32_t index) {
  const uint32_t apic_id = topo.apic_id(index);
  const uint32_t per_socket = topo.cores * topo.threads;
  const bool amd = is_amd(supported);
  std::vector<kvm_cpuid_entry2> out;
  for (kvm_cpuid_entry2 e : supported) {
    switch (e.function) {
      case 0x1:
        // EBX[31:24] initial APIC ID, [23:16] addressable logical processors per package.
        e.ebx = (e.ebx & 0x0000ffff) | (apic_id << 24) |
                ((1u << (topo.core_bits() + topo.thread_bits())) << 16);
        if (per_socket > 1)
          e.edx |= 1u << 28;  // HTT: more than one logical processor per package
        else
          e.edx &= ~(1u << 28);
        e.ecx |= 1u << 31;  // running under a hypervisor
        // TSC-deadline timer: KVM's in-kernel LAPIC emulates it (KVM_CAP_TSC_DEADLINE_TIMER, which
        // the machine requires) but KVM_GET_SUPPORTED_CPUID leaves it out; QEMU sets it too.
        // Without it the guest programs its LAPIC timer with one-shot counts, each rearm a
        // write to TMICT.
        e.ecx |= 1u << 24;
        break;
      case 0x4:
        // EAX[31:26] cores per package - 1; [25:14] logical processors sharing this cache - 1.
        if ((e.eax & 0x1f) != 0) {
          uint32_t level = (e.eax >> 5) & 0x7;
          uint32_t sharing = level >= 3 ? per_socket : topo.threads;
          e.eax = (e.eax & 0x3fff) | ((sharing - 1) << 14) | ((topo.cores - 1) << 26);
        }
        break;
      case 0xb:
      case 0x1f: {
        e.flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
        e.edx = apic_id;
        if (e.index == 0) {
          e.eax = topo.thread_bits();
          e.ebx = topo.threads;
          e.ecx = (kLevelSmt << 8) | e.index;
        } else if (e.index == 1) {
          e.eax = topo.thread_bits() + topo.core_bits();
          e.ebx = per_socket;
          e.ecx = (kLevelCore << 8) | e.index;
        } else {
          e.eax = 0;
          e.ebx = 0;
          e.ecx = e.index;
        }
        break;
      }
      case 0x80000001:
        // CmpLegacy: multi-core package (AMD APM vol. 3, CPUID Fn8000_0001_ECX).
        if (amd) {
          if (per_socket > 1)
            e.ecx |= 1u << 1;
          else
            e.ecx &= ~(1u << 1);
        }
        break;
      case 0x80000008:
        // ECX[15:12] ApicIdCoreIdSize, [7:0] NC: threads per package - 1.
        if (amd)
          e.ecx = (e.ecx & ~0xf0ffu) | ((topo.core_bits() + topo.thread_bits()) << 12) |
                  (per_socket - 1);
        break;
      case 0x8000001e:
        // EAX extended APIC ID; EBX[15:8] threads per core - 1, [7:0] core id; ECX node 0.
        if (amd) {
          e.eax = apic_id;
          e.ebx = ((topo.threads - 1) << 8) | ((index / topo.threads) % topo.cores);
          e.ecx = 0;
        }
        break;
      case 0x40000001:
        // EDX holds KVM's hints (Documentation/virt/kvm/x86/cpuid.rst); KVM reports
        // KVM_HINTS_REALTIME as supported, but it promises the guest that its vCPUs are never
        // preempted, which only a VMM with dedicated host CPUs may claim (QEMU:
        // kvm-hint-dedicated, off by default).
        e.edx = 0;
        break;
      default:
        break;
    }
    out.push_back(e);
  }
  // Leaves 0xB and 0x1F need an index-0 and index-1 entry even where the host reports fewer
  // (KVM lists what the host has); add the core level when missing.
  for (uint32_t leaf : {0xbu}) {
    bool has_leaf = false, has_core = false;
    for (const auto& e : out) {
      if (e.function != leaf) continue;
      has_leaf = true;
      has_core |= e.index == 1;
    }
    if (has_leaf && !has_core) {
      kvm_cpuid_entry2 core{};
      core.function = leaf;
      core.index = 1;
      core.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
      core.eax = topo.thread_bits() + topo.core_bits();
      core.ebx = per_socket;
      core.ecx = (kLevelCore << 8) | 1;
      core.edx = apic_id;
      out.push_back(core);
    }
  }
  return out;
}

}  // namespace vmm
