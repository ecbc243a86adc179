// The qcow2 header and its extensions (QEMU docs/interop/qcow2.txt, "Header" and "Header
// extensions"): parsing with every field checked, and building a header for a new image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace devices::block::qcow2 {

inline constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
inline constexpr uint32_t kMinClusterBits = 9;
inline constexpr uint32_t kMaxClusterBits = 21;
inline constexpr uint64_t kMaxClusterSize = uint64_t{1} << kMaxClusterBits;
// QEMU's implementation limits (block/qcow2.h): an image beyond them is refused as QEMU refuses it.
inline constexpr uint64_t kMaxL1Bytes = 32 << 20;
inline constexpr uint64_t kMaxRefcountTableBytes = 8 << 20;
inline constexpr uint32_t kMaxSnapshots = 65536;
inline constexpr uint32_t kMaxBackingNameLength = 1023;
inline constexpr uint64_t kSnapshotHeaderBytes = 40;
inline constexpr uint32_t kV2HeaderLength = 72;
inline constexpr uint32_t kV3MinHeaderLength = 104;
inline constexpr uint32_t kV3HeaderLength = 112;  // with compression_type and padding, as QEMU

// Incompatible feature bits (header bytes 72-79).
inline constexpr uint64_t kIncompatDirty = 1 << 0;
inline constexpr uint64_t kIncompatCorrupt = 1 << 1;
inline constexpr uint64_t kIncompatDataFile = 1 << 2;
inline constexpr uint64_t kIncompatCompression = 1 << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1 << 4;
// Compatible bit 0: lazy refcounts. Autoclear bit 0: bitmaps.
inline constexpr uint64_t kCompatLazyRefcounts = 1 << 0;
inline constexpr uint64_t kAutoclearBitmaps = 1 << 0;

// Header byte offsets of the fields the engine rewrites in place.
inline constexpr uint64_t kOffsetL1Size = 36;         // l1_size then l1_table_offset
inline constexpr uint64_t kOffsetRefcountTable = 48;  // offset then clusters
inline constexpr uint64_t kOffsetIncompatible = 72;
inline constexpr uint64_t kOffsetAutoclear = 88;

struct FeatureName {
  uint8_t type = 0;  // 0 incompatible, 1 compatible, 2 autoclear
  uint8_t bit = 0;
  std::string name;
};

struct Header {
  uint32_t version = 3;
  uint64_t backing_file_offset = 0;
  uint32_t backing_file_size = 0;
  uint32_t cluster_bits = 16;
  uint64_t size = 0;
  uint32_t crypt_method = 0;
  uint32_t l1_size = 0;
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = 4;
  uint32_t header_length = kV3HeaderLength;
  uint8_t compression_type = 0;
  bool has_bitmaps_extension = false;

  std::string backing_file;
  std::string backing_format;
  std::vector<FeatureName> feature_names;

  uint64_t cluster_size() const { return uint64_t{1} << cluster_bits; }
};

// Bytes to read from the start of the file to hold any header: one cluster of the largest size.
inline constexpr uint64_t kHeaderReadBytes = kMaxClusterSize;

// Parses and checks the header from the first bytes of the file (`head`, zero-filled past the
// end of a short file). Throws BlockError(path, problem) for anything malformed, for a feature
// this engine does not implement (naming it), and for tables that overlap or leave the file.
Header parse_header(std::span<const std::byte> head, uint64_t file_size, const std::string& path);

// The first cluster of a new image: header, extensions (backing format, feature names) and the
// backing file name. `header.header_length` is set by this function.
std::vector<std::byte> build_header(Header header);

// Number of L1 entries needed to map `size` bytes with clusters of 2^cluster_bits.
uint64_t l1_entries_for(uint64_t size, uint32_t cluster_bits);

}  // namespace devices::block::qcow2
