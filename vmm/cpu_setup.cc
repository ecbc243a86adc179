#include "vmm/cpu_setup.h"

#include <cstring>
#include <utility>

namespace vmm {

namespace {

// MSR numbers (SDM vol. 4).
constexpr uint32_t kMsrIa32MiscEnable = 0x1a0;
constexpr uint64_t kMiscEnableFastStrings = 1;

// LAPIC register offsets and LVT delivery modes (SDM vol. 3A, 10.5.1).
constexpr size_t kApicLvtLint0 = 0x350;
constexpr size_t kApicLvtLint1 = 0x360;
constexpr uint32_t kDeliveryExtInt = 7;
constexpr uint32_t kDeliveryNmi = 4;

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

void set_lvt_delivery(kvm_lapic_state& lapic, size_t reg, uint32_t mode) {
  uint32_t value;
  std::memcpy(&value, lapic.regs + reg, sizeof(value));
  value = (value & ~0x700u) | (mode << 8);
  std::memcpy(lapic.regs + reg, &value, sizeof(value));
}

kvm_segment flat_segment(uint16_t selector, bool code) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = code ? 0xb : 0x3;  // execute/read accessed, or read/write accessed
  s.present = 1;
  s.dpl = 0;
  s.db = code ? 0 : 1;  // a 64-bit code segment has D clear
  s.s = 1;
  s.l = code ? 1 : 0;
  s.g = 1;
  return s;
}

}  // namespace

void setup_vcpu(const Vcpu& vcpu, std::span<const kvm_cpuid_entry2> supported_cpuid,
                const CpuTopology& topology) {
  vcpu.set_cpuid(vcpu_cpuid(supported_cpuid, topology, vcpu.id()));
  const std::pair<uint32_t, uint64_t> msrs[] = {{kMsrIa32MiscEnable, kMiscEnableFastStrings}};
  vcpu.set_msrs(msrs);
  // Virtual-wire mode, as a PC BIOS leaves it: the 8259's output enters through LINT0 and NMI
  // through LINT1, until Linux switches to the IOAPIC.
  kvm_lapic_state lapic = vcpu.get_lapic();
  set_lvt_delivery(lapic, kApicLvtLint0, kDeliveryExtInt);
  set_lvt_delivery(lapic, kApicLvtLint1, kDeliveryNmi);
  vcpu.set_lapic(lapic);
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;     // x87 default control word (FNINIT)
  fpu.mxcsr = 0x1f80;  // SSE default: all exceptions masked
  vcpu.set_fpu(fpu);
}

void setup_boot_cpu(const Vcpu& vcpu, const boot::BootState& state) {
  kvm_sregs sregs = vcpu.get_sregs();
  sregs.cs = flat_segment(boot::kBootCodeSelector, true);
  kvm_segment data = flat_segment(boot::kBootDataSelector, false);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  sregs.gdt.base = state.gdt_base;
  sregs.gdt.limit = state.gdt_limit;
  sregs.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
  sregs.cr3 = state.cr3;
  sregs.cr4 = kCr4Pae;
  sregs.efer = kEferLme | kEferLma;
  vcpu.set_sregs(sregs);

  kvm_regs regs{};
  regs.rflags = 0x2;  // reserved bit 1; interrupts off
  regs.rip = state.entry_rip;
  regs.rsi = state.boot_params_gpa;
  regs.rsp = state.stack_rsp;
  regs.rbp = state.stack_rsp;
  vcpu.set_regs(regs);
}

}  // namespace vmm
