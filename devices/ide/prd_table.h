// The bus-master physical region descriptor table (SFF-8038i revision 1.0, section 1.2): the
// guest's scatter list for one DMA transfer, walked once, bounded, and turned into host views of
// guest RAM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "memory/guest_memory.h"

namespace devices::ide {

// At most 64 KiB of table: 8192 eight-byte entries (the table may not cross a 64 KiB boundary).
inline constexpr uint32_t kMaxPrdEntries = 8192;

struct DmaTarget {
  enum class Error { kNone, kOutsideRam, kTooShort };
  Error error = Error::kNone;
  // Host views of the guest RAM the transfer covers, in order, adding up to the transfer's size.
  std::vector<std::span<std::byte>> spans;
  // The table ended (EOT) exactly where the transfer did: the controller then clears Active.
  bool exact = false;
};

// Walks the table at guest address `table` until `bytes` are covered, the EOT entry or
// kMaxPrdEntries. kOutsideRam when the table or a region it names is not all guest RAM,
// kTooShort when the table ends before `bytes`.
DmaTarget map_prd_table(const memory::GuestMemory& memory, uint32_t table, uint64_t bytes);

// Copies `data` into the spans, in order, up to the smaller of the two sizes.
void copy_to_spans(std::span<const std::byte> data, std::span<const std::span<std::byte>> spans);

}  // namespace devices::ide
