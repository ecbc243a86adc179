#include "vmm/coalesced_writes.h"

#include <algorithm>
#include <utility>

namespace vmm {

CoalescedWrites::CoalescedWrites(Vcpu::CoalescedRing ring, const devices::Bus& pio,
                                 const devices::Bus& mmio)
    : ring_(ring), pio_(pio), mmio_(mmio) {}

void CoalescedWrites::batch_port(uint16_t port, Batch batch) {
  batch_port_ = port;
  batch_ = std::move(batch);
}

void CoalescedWrites::flush_batch() {
  if (pending_.empty()) return;
  batch_(pending_);
  pending_.clear();
}

bool CoalescedWrites::drain() {
  kvm_coalesced_mmio_ring* ring = ring_.ring;
  // KVM publishes an entry by advancing `last` after writing it, and reuses a slot only once
  // `first` has moved past it.
  if (__atomic_load_n(&ring->first, __ATOMIC_ACQUIRE) ==
      __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
    return false;
  std::lock_guard lock(mutex_);
  uint32_t first = __atomic_load_n(&ring->first, __ATOMIC_RELAXED) % ring_.capacity;
  const uint32_t last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE) % ring_.capacity;
  if (first == last) return false;  // another vCPU delivered them meanwhile
  for (; first != last; first = (first + 1) % ring_.capacity) {
    const kvm_coalesced_mmio& entry = ring_.entries[first];
    if (entry.pio == 1 && batch_ && entry.phys_addr == batch_port_ && entry.len == 1) {
      pending_.push_back(std::byte{entry.data[0]});
      continue;
    }
    flush_batch();
    const std::span data(reinterpret_cast<const std::byte*>(entry.data),
                         std::min<size_t>(entry.len, sizeof entry.data));
    (entry.pio == 1 ? pio_ : mmio_).write(entry.phys_addr, data);
  }
  flush_batch();
  __atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
  return true;
}

}  // namespace vmm
