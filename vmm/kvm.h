// Thin RAII wrappers over the /dev/kvm ioctls (Documentation/virt/kvm/api.rst). This file and
// kvm.cc are the only places that speak the KVM API; every failure throws std::system_error
// naming the ioctl.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmm/fd.h"

namespace vmm {

class Vcpu;
class Vm;

class Kvm {
 public:
  // Opens /dev/kvm and checks the API version; throws with a hint when the device is missing.
  Kvm();
  int check_extension(int cap) const;
  // Throws "KVM lacks <name>" when the capability is absent.
  void require(int cap, const char* name) const;
  std::vector<kvm_cpuid_entry2> supported_cpuid() const;
  size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
  Vm create_vm() const;

 private:
  Fd fd_;
  size_t vcpu_mmap_size_ = 0;
};

class Vm {
 public:
  Vm(Fd fd, size_t vcpu_mmap_size, int ring_page)
      : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size), ring_page_(ring_page) {}
  int check_extension(int cap) const;
  void set_tss_addr(uint64_t addr) const;
  void set_identity_map_addr(uint64_t addr) const;
  void create_irqchip() const;
  void create_pit2() const;
  void set_memory_region(uint32_t slot, uint64_t gpa, std::span<std::byte> host) const;
  // Drives GSI `gsi` of the in-kernel PIC/IOAPIC to `level`.
  void irq_line(uint32_t gsi, bool level) const;
  void enable_cap(uint32_t cap, uint64_t arg0) const;
  // Makes KVM queue the guest's writes to ports [port, port + size) in the coalesced ring instead
  // of exiting (KVM_CAP_COALESCED_PIO). False when KVM cannot.
  bool coalesce_pio(uint16_t port, uint32_t size) const;
  // The same for MMIO writes to [gpa, gpa + size) (KVM_CAP_COALESCED_MMIO), and its undoing
  // (e.g. when a PCI BAR moves). False when KVM cannot.
  bool coalesce_mmio(uint64_t gpa, uint32_t size) const;
  void uncoalesce_mmio(uint64_t gpa, uint32_t size) const;
  std::unique_ptr<Vcpu> create_vcpu(uint32_t id) const;

 private:
  void coalesced_zone(unsigned long request, const char* name, uint64_t addr, uint32_t size,
                      bool pio) const;

  Fd fd_;
  size_t vcpu_mmap_size_;
  int ring_page_;
};

class Vcpu {
 public:
  // `ring_page`: KVM_CAP_COALESCED_MMIO's answer, the ring's page in the mapping (0: none).
  Vcpu(Fd fd, size_t mmap_size, uint32_t id, int ring_page);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  uint32_t id() const { return id_; }
  kvm_run* run_state() const { return run_; }
  // The VM's coalesced-write ring, mapped with every vCPU's kvm_run; ring is nullptr when KVM
  // has none.
  struct CoalescedRing {
    kvm_coalesced_mmio_ring* ring = nullptr;  // for `first` and `last` only, see entries
    // The kernel's entries follow the two indices; the header's member for them sits 8 bytes
    // further when compiled as C++ (its flexible-array wrapper holds an empty struct).
    kvm_coalesced_mmio* entries = nullptr;
    uint32_t capacity = 0;  // entries; KVM_COALESCED_MMIO_MAX for the host's page size
  };
  CoalescedRing coalesced_ring() const { return ring_; }
  // KVM_RUN; false when it returned without an exit to handle (a signal, immediate_exit, or an
  // AP woken from wait-for-SIPI), true when the guest exited for a reason in run_state().
  bool run() const;

  void set_regs(const kvm_regs& regs) const;
  kvm_sregs get_sregs() const;
  void set_sregs(const kvm_sregs& sregs) const;
  void set_fpu(const kvm_fpu& fpu) const;
  kvm_lapic_state get_lapic() const;
  void set_lapic(const kvm_lapic_state& lapic) const;
  void set_cpuid(std::span<const kvm_cpuid_entry2> entries) const;
  // Writes each (index, value); throws unless KVM accepted all of them.
  void set_msrs(std::span<const std::pair<uint32_t, uint64_t>> msrs) const;

 private:
  Fd fd_;
  size_t mmap_size_;
  uint32_t id_;
  kvm_run* run_ = nullptr;
  CoalescedRing ring_;
};

}  // namespace vmm
