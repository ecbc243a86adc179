// Where guest RAM sits in the guest-physical address space of an i440FX PC.
//
// RAM is numbered by "RAM offset" from 0 to the total size; NUMA node k owns the k-th contiguous
// slice. RAM offsets below the PCI hole map 1:1 to guest addresses; the rest continues at 4 GiB.
// As in QEMU's pc machine (gigabyte-aligned since 2.x): when RAM reaches 0xE0000000 the hole
// starts at 3 GiB, otherwise all RAM sits below 4 GiB.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace memory {

inline constexpr uint64_t k4GiB = 1ull << 32;
inline constexpr uint64_t kPciHoleStartLargeRam = 0xC0000000;  // 3 GiB
inline constexpr uint64_t kLowRamLimit = 0xE0000000;

// One piece of a NUMA node that is contiguous in both guest and host address space: it becomes
// one KVM memory slot.
struct RamSlot {
  uint64_t gpa;
  uint64_t size;
  uint32_t node;         // index into the node list
  uint64_t node_offset;  // offset of this piece inside the node's host mapping
};

struct Layout {
  uint64_t below_4g = 0;  // RAM in [0, below_4g); the PCI hole starts here
  uint64_t above_4g = 0;  // RAM in [4 GiB, 4 GiB + above_4g)
  std::vector<RamSlot> slots;

  uint64_t pci_hole_start() const { return below_4g; }
  uint64_t ram_end() const { return above_4g ? k4GiB + above_4g : below_4g; }
};

// Throws std::invalid_argument for an empty node list, a zero-sized node or sizes that are not a
// multiple of 4 KiB (KVM slots are page-granular).
Layout compute_layout(std::span<const uint64_t> node_sizes);

}  // namespace memory
