#include "vmm/coalesced_pio.h"

#include <utility>

namespace vmm {

CoalescedPio::CoalescedPio(Vcpu::CoalescedRing ring, uint16_t data_port,
                           std::shared_ptr<devices::BusDevice> device, Deliver deliver)
    : ring_(ring),
      data_port_(data_port),
      device_(std::move(device)),
      deliver_(std::move(deliver)) {}

void CoalescedPio::read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  drain_locked();
  device_->read(offset, data);
}

void CoalescedPio::write(uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard lock(mutex_);
  drain_locked();
  device_->write(offset, data);
}

bool CoalescedPio::drain() {
  std::lock_guard lock(mutex_);
  return drain_locked();
}

bool CoalescedPio::drain_locked() {
  kvm_coalesced_mmio_ring* ring = ring_.ring;
  // KVM publishes an entry by advancing `last` after writing it, and reuses a slot only once
  // `first` has moved past it.
  uint32_t first = __atomic_load_n(&ring->first, __ATOMIC_RELAXED) % ring_.capacity;
  const uint32_t last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE) % ring_.capacity;
  if (first == last) return false;
  batch_.clear();
  for (; first != last; first = (first + 1) % ring_.capacity) {
    const kvm_coalesced_mmio& entry = ring_.entries[first];
    // Only the data port is registered, one byte wide; anything else cannot be there.
    if (entry.pio == 1 && entry.phys_addr == data_port_ && entry.len == 1)
      batch_.push_back(std::byte{entry.data[0]});
  }
  __atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
  deliver_(batch_);
  return true;
}

}  // namespace vmm
