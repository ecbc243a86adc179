#include "devices/ide/prd_table.h"

#include <algorithm>
#include <cstring>

namespace devices::ide {
namespace {

// Appends host views of [gpa, gpa + len) split at RAM region boundaries; false when any byte is
// not RAM. Regions are sorted by address (GuestMemory's invariant).
bool append_host_views(const memory::GuestMemory& memory, uint64_t gpa, uint64_t len,
                       std::vector<std::span<std::byte>>& out) {
  if (!memory.contains(gpa, len)) return false;
  while (len > 0) {
    const auto regions = memory.regions();
    const auto it = std::find_if(regions.begin(), regions.end(), [gpa](const memory::Region& r) {
      return gpa >= r.gpa && gpa < r.end();
    });
    if (it == regions.end()) return false;
    const uint64_t piece = std::min(len, it->end() - gpa);
    out.push_back(it->host.subspan(gpa - it->gpa, piece));
    gpa += piece;
    len -= piece;
  }
  return true;
}

}  // namespace

DmaTarget map_prd_table(const memory::GuestMemory& memory, uint32_t table, uint64_t bytes) {
  DmaTarget t;
  uint64_t covered = 0;
  for (uint32_t i = 0; i < kMaxPrdEntries && covered < bytes; ++i) {
    // Each entry (SFF-8038i table 1-1): dword 0 the region's physical address, word 2 its byte
    // count (bit 0 ignored, 0 meaning 64 KiB), bit 15 of word 3 end of table. Copied once.
    const auto entry = memory.read_obj<uint64_t>(uint64_t{table} + 8ull * i);
    if (!entry) {
      t.error = DmaTarget::Error::kOutsideRam;
      return t;
    }
    const uint64_t address = *entry & 0xfffffffe;
    uint64_t count = (*entry >> 32) & 0xfffe;
    if (count == 0) count = 0x10000;
    const bool end_of_table = ((*entry >> 63) & 1) != 0;
    const uint64_t used = std::min(count, bytes - covered);
    if (!append_host_views(memory, address, used, t.spans)) {
      t.error = DmaTarget::Error::kOutsideRam;
      return t;
    }
    covered += used;
    if (end_of_table) {
      t.exact = covered == bytes && used == count;
      break;
    }
  }
  if (covered < bytes) t.error = DmaTarget::Error::kTooShort;
  return t;
}

void copy_to_spans(std::span<const std::byte> data, std::span<const std::span<std::byte>> spans) {
  for (const auto& s : spans) {
    if (data.empty()) return;
    const size_t n = std::min(data.size(), s.size());
    std::memcpy(s.data(), data.data(), n);
    data = data.subspan(n);
  }
}

}  // namespace devices::ide
