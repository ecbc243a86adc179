// The guest's writes that KVM queues in the VM's coalesced ring (KVM_CAP_COALESCED_MMIO and
// _PIO) instead of exiting to us, delivered to the buses in the order the guest made them.
// Under nested virtualization an exit to user space is most of what an access costs, so a
// register that is only ever written and whose write the device need not act on at once is worth
// queuing:
// - the UART's THR, which carries the console: a Linux kernel prints one byte at a time, each an
//   LSR read and a THR write, and those exits are most of what a boot costs;
// - an e1000's receive tail (RDT), which the driver writes several times per interrupt, and its
//   interrupt mask (IMS, IMC), which it writes twice per interrupt, each time reading the device
//   right after.
//
// Queued writes must take effect before anything can observe the device, so every vCPU delivers
// the queue before it handles any exit (a read of the device is one), as QEMU does. A full ring
// makes KVM exit for the write as before, which delivers the queue first too. A guest that writes
// and then waits without exiting (a boot loader's last line, say) is served by drain(), which
// the event loop calls as a backstop, and which must run once more after the vCPUs stop.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "devices/bus/bus.h"
#include "vmm/kvm.h"

namespace vmm {

class CoalescedWrites {
 public:
  // Receives consecutive queued one-byte writes to one port at once.
  using Batch = std::function<void(std::span<const std::byte>)>;

  // Writes are delivered to `pio` and `mmio`, which must outlive this.
  CoalescedWrites(Vcpu::CoalescedRing ring, const devices::Bus& pio, const devices::Bus& mmio);

  // One-byte writes to `port` go to `batch`, consecutive ones together, instead of through the
  // bus one by one (the UART's THR: a console line in one go). Call before the vCPUs run.
  void batch_port(uint16_t port, Batch batch);

  // Delivers every queued write, in order. Thread-safe, and cheap when nothing is queued; true
  // when there was anything.
  bool drain();

 private:
  void flush_batch();

  Vcpu::CoalescedRing ring_;
  const devices::Bus& pio_;
  const devices::Bus& mmio_;
  uint16_t batch_port_ = 0;
  Batch batch_;
  // One consumer of the ring at a time. `first` moves past the entries only after they were
  // delivered, so a vCPU that finds the ring empty knows no delivery is still under way.
  std::mutex mutex_;
  std::vector<std::byte> pending_;  // the batch port's bytes not yet handed over
};

}  // namespace vmm
