// The SMBIOS structure table (DMTF DSP0134 3.0) and its two entry points, which tell a guest
// who made the machine, its UUID and name, its processors and its memory (Linux's dmi_scan,
// /sys/class/dmi/id, dmidecode).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace firmware {

struct SmbiosConfig {
  // Type 1 Product Name (/sys/class/dmi/id/product_name), so that a guest can tell which VM it
  // is; the Family field names the emulated platform. Empty leaves Product Name unset.
  std::string vm_name;
  // The system UUID in text order: 9bc02bdb-58b3-... is {0x9b, 0xc0, 0x2b, 0xdb, 0x58, 0xb3,
  // ...}. Without one, type 1 holds all zeros ("not present", DSP0134 7.2.1).
  std::optional<std::array<uint8_t, 16>> uuid;
  uint32_t sockets = 1;  // one type 4 structure each
  uint32_t cores = 1;    // per socket
  uint32_t threads = 1;  // per core
  // Contiguous guest-physical RAM ranges {gpa, size}, ascending, each a multiple of 1 KiB: one
  // type 19 structure each.
  std::vector<std::pair<uint64_t, uint64_t>> ram_ranges;
  // All guest RAM: the type 16 capacity, split into type 17 devices of at most 16 GiB as QEMU
  // does.
  uint64_t ram_size = 0;
};

// The 3.0 "_SM3_" entry point at offset 0 and the 2.1 "_SM_" entry point at offset 32 of
// `entry_point`: a guest scanning 0xF0000-0xFFFFF on 16-byte boundaries finds either (Linux
// looks for _SM3_ first; older software only knows _SM_). Both point at the same table.
inline constexpr size_t kSmbiosEntryPointSize = 64;
inline constexpr size_t kSmbios3EntryOffset = 0;
inline constexpr size_t kSmbios21EntryOffset = 32;
// Entry points and table together must fit the 64 KiB F segment.
inline constexpr size_t kSmbiosMaxSize = 0x10000;

struct SmbiosBlob {
  std::vector<std::byte> entry_point;  // kSmbiosEntryPointSize bytes, on a 16-byte boundary
  std::vector<std::byte> table;        // to be copied to the table_gpa it was built for
};

// Builds the structure table (types 0, 1, 3, 4, 16, 17, 19, 32, 127) for a copy at `table_gpa`
// and the entry points that point at it. Throws std::invalid_argument for zero sockets, cores,
// threads or RAM, ranges that are empty, unaligned, unsorted or overlapping, a string with a
// NUL, a table that would end above 4 GiB (the 2.1 entry point holds a 32-bit address), or
// entry points and table larger than kSmbiosMaxSize.
SmbiosBlob build_smbios(const SmbiosConfig& cfg, uint64_t table_gpa);

}  // namespace firmware
