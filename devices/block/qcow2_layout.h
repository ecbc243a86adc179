// Bit layouts of qcow2 table entries (QEMU docs/interop/qcow2.txt, "Cluster mapping" and "Host
// cluster management"), shared by the engine and the checker.
#pragma once

#include <cstdint>
#include <span>

#include "devices/block/endian.h"

namespace devices::block::qcow2 {

// L1 entry: bits 9-55 the L2 table offset, bit 63 "refcount is exactly one".
inline constexpr uint64_t kL1OffsetMask = 0x00fffffffffffe00;
inline constexpr uint64_t kL1Copied = uint64_t{1} << 63;
// L2 entry: bit 63 COPIED, bit 62 compressed; standard descriptor bits 9-55 offset, bit 0 zero.
inline constexpr uint64_t kL2OffsetMask = 0x00fffffffffffe00;
inline constexpr uint64_t kL2Copied = uint64_t{1} << 63;
inline constexpr uint64_t kL2Compressed = uint64_t{1} << 62;
inline constexpr uint64_t kL2Zero = 1;
// Refcount table entry: bits 9-63 the refcount block offset.
inline constexpr uint64_t kRefTableOffsetMask = ~uint64_t{511};
// Host offsets are below 64 PB (56 bits), as L1 and L2 entries can express.
inline constexpr uint64_t kMaxHostOffset = uint64_t{1} << 56;

struct CompressedDescriptor {
  uint64_t offset;   // host byte offset of the compressed data
  uint64_t sectors;  // 512-byte sectors from the one holding `offset`
  uint64_t bytes;    // bytes to read from `offset`
};

// "Compressed Clusters Descriptor": x = 62 - (cluster_bits - 8) splits offset and sector count.
inline CompressedDescriptor decode_compressed(uint64_t entry, uint32_t cluster_bits) {
  const uint32_t shift = 62 - (cluster_bits - 8);
  const uint64_t offset = entry & ((uint64_t{1} << shift) - 1) & (kMaxHostOffset - 1);
  const uint64_t sectors = ((entry >> shift) & ((uint64_t{1} << (cluster_bits - 8)) - 1)) + 1;
  return {offset, sectors, sectors * 512 - (offset & 511)};
}

// Refcount block entries are refcount_bits = 2^order wide: big-endian from 8 bits up, packed from
// the least significant bit of each byte below that (qcow2.txt "Refcount block entry").
inline uint64_t get_refcount(std::span<const std::byte> block, uint64_t index, uint32_t order) {
  if (order >= 3) {
    const uint64_t width = uint64_t{1} << (order - 3);
    const uint64_t at = index * width;
    switch (width) {
      case 1:
        return static_cast<uint64_t>(block[at]);
      case 2:
        return load_be<uint16_t>(block, at);
      case 4:
        return load_be<uint32_t>(block, at);
      default:
        return load_be<uint64_t>(block, at);
    }
  }
  const uint32_t bits = 1u << order;
  const uint64_t bit = index * bits;
  return (static_cast<uint64_t>(block[bit / 8]) >> (bit % 8)) & ((1u << bits) - 1);
}

inline void set_refcount_entry(std::span<std::byte> block, uint64_t index, uint32_t order,
                               uint64_t value) {
  if (order >= 3) {
    const uint64_t width = uint64_t{1} << (order - 3);
    const uint64_t at = index * width;
    switch (width) {
      case 1:
        block[at] = static_cast<std::byte>(value);
        return;
      case 2:
        store_be<uint16_t>(block, at, static_cast<uint16_t>(value));
        return;
      case 4:
        store_be<uint32_t>(block, at, static_cast<uint32_t>(value));
        return;
      default:
        store_be<uint64_t>(block, at, value);
        return;
    }
  }
  const uint32_t bits = 1u << order;
  const uint64_t bit = index * bits;
  const unsigned mask = ((1u << bits) - 1) << (bit % 8);
  const unsigned old = static_cast<unsigned>(block[bit / 8]);
  block[bit / 8] = static_cast<std::byte>((old & ~mask) | ((value << (bit % 8)) & mask));
}

}  // namespace devices::block::qcow2
