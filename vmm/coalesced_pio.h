// A device whose data port's writes KVM queues in its coalesced ring (KVM_CAP_COALESCED_PIO)
// instead of exiting to us: the UART, whose THR carries the console. A Linux kernel prints to its
// console one byte at a time, each an LSR read and a THR write, and those exits are most of what
// a boot costs under nested virtualization; queuing the THR writes removes half of them.
//
// Queued writes must take effect before anything can observe the device, so this stands in the
// bus for the whole device: every access to any of its registers first delivers what the ring
// holds, in the guest's order (KVM keeps one ring per VM, filled in the order the writes
// happened). A full ring makes KVM exit for the write as before, which delivers the queue too.
// A guest that writes and then waits without touching the device again (a boot loader's last
// line, say) is served by drain(), which the event loop calls as a backstop, and which must run
// once more after the vCPUs stop.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "devices/bus/bus.h"
#include "vmm/kvm.h"

namespace vmm {

class CoalescedPio : public devices::BusDevice {
 public:
  // Receives the queued writes to the data port, in order, several at a time.
  using Deliver = std::function<void(std::span<const std::byte>)>;

  // `device` answers the range this is inserted at, whose first port is `data_port`, the only
  // port registered with KVM for coalescing (one byte wide).
  CoalescedPio(Vcpu::CoalescedRing ring, uint16_t data_port,
               std::shared_ptr<devices::BusDevice> device, Deliver deliver);

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

  // Delivers every queued write. Thread-safe; true when there was any.
  bool drain();

 private:
  bool drain_locked();

  Vcpu::CoalescedRing ring_;
  uint16_t data_port_;
  std::shared_ptr<devices::BusDevice> device_;
  Deliver deliver_;
  // One consumer of the ring at a time; a direct access runs right after the drain before it.
  std::mutex mutex_;
  std::vector<std::byte> batch_;
};

}  // namespace vmm
