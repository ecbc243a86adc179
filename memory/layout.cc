#include "memory/layout.h"

#include <algorithm>
#include <stdexcept>

namespace memory {

Layout compute_layout(std::span<const uint64_t> node_sizes) {
  if (node_sizes.empty()) throw std::invalid_argument("no guest RAM");
  uint64_t total = 0;
  for (uint64_t size : node_sizes) {
    if (size == 0 || size % 4096 != 0)
      throw std::invalid_argument("a NUMA node's size must be a non-zero multiple of 4 KiB");
    if (total + size < total) throw std::invalid_argument("guest RAM size overflows");
    total += size;
  }
  Layout layout;
  layout.below_4g = total >= kLowRamLimit ? kPciHoleStartLargeRam : total;
  layout.above_4g = total - layout.below_4g;

  // Cut each node's RAM-offset range at the hole boundary.
  uint64_t start = 0;
  for (uint32_t node = 0; node < node_sizes.size(); ++node) {
    uint64_t end = start + node_sizes[node];
    if (start < layout.below_4g) {
      uint64_t piece_end = std::min(end, layout.below_4g);
      layout.slots.push_back({start, piece_end - start, node, 0});
    }
    if (end > layout.below_4g) {
      uint64_t piece_start = std::max(start, layout.below_4g);
      layout.slots.push_back(
          {k4GiB + (piece_start - layout.below_4g), end - piece_start, node, piece_start - start});
    }
    start = end;
  }
  return layout;
}

}  // namespace memory
