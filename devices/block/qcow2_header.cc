#include "devices/block/qcow2_header.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "devices/block/block_error.h"
#include "devices/block/endian.h"

namespace devices::block::qcow2 {
namespace {

constexpr uint32_t kExtEnd = 0;
constexpr uint32_t kExtBackingFormat = 0xe2792aca;
constexpr uint32_t kExtFeatureNames = 0x6803f857;
constexpr uint32_t kExtBitmaps = 0x23852875;
constexpr uint64_t kFeatureNameEntry = 48;

std::string hex(uint64_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// The header extensions between the header and `end` (qcow2.txt "Header extensions").
void parse_extensions(std::span<const std::byte> head, uint64_t start, uint64_t end, Header& h,
                      const std::string& path) {
  uint64_t pos = start;
  while (pos + 8 <= end) {
    const uint32_t type = load_be<uint32_t>(head, pos);
    const uint32_t len = load_be<uint32_t>(head, pos + 4);
    pos += 8;
    if (type == kExtEnd) return;
    if (len > end - pos) {
      throw BlockError(path, "header extension " + hex(type) + " is larger than the space for it");
    }
    const auto data = head.subspan(pos, len);
    if (type == kExtBackingFormat) {
      if (len > kMaxBackingNameLength) throw BlockError(path, "backing format name too long");
      h.backing_format.assign(reinterpret_cast<const char*>(data.data()), len);
    } else if (type == kExtFeatureNames) {
      for (uint64_t e = 0; e + kFeatureNameEntry <= len; e += kFeatureNameEntry) {
        FeatureName f;
        f.type = static_cast<uint8_t>(data[e]);
        f.bit = static_cast<uint8_t>(data[e + 1]);
        const char* name = reinterpret_cast<const char*>(data.data() + e + 2);
        f.name.assign(name, strnlen(name, kFeatureNameEntry - 2));
        h.feature_names.push_back(std::move(f));
      }
    } else if (type == kExtBitmaps) {
      h.has_bitmaps_extension = true;
    }
    // Any other extension (encryption pointer, data file name, unknown ones) is skipped: the
    // features that need them are refused through their header fields and feature bits.
    pos += align_up(len, 8);
  }
}

std::string incompatible_name(const Header& h, unsigned bit) {
  for (const auto& f : h.feature_names) {
    if (f.type == 0 && f.bit == bit && !f.name.empty()) return f.name;
  }
  return "bit " + std::to_string(bit);
}

void check_features(const Header& h, const std::string& path) {
  if (h.crypt_method == 1) throw BlockError(path, "encryption (AES) is not supported");
  if (h.crypt_method == 2) throw BlockError(path, "encryption (LUKS) is not supported");
  if (h.crypt_method != 0) {
    throw BlockError(path, "unknown encryption method " + std::to_string(h.crypt_method));
  }
  const uint64_t incompat = h.incompatible_features;
  if (incompat & kIncompatDataFile) throw BlockError(path, "external data files are not supported");
  if (incompat & kIncompatExtendedL2) {
    throw BlockError(path, "extended L2 entries (subclusters) are not supported");
  }
  if (incompat & kIncompatCompression) {
    if (h.compression_type == 1) throw BlockError(path, "zstd compression is not supported");
    throw BlockError(path, "unknown compression type " + std::to_string(h.compression_type));
  }
  if (h.compression_type != 0) {
    throw BlockError(path, "compression type " + std::to_string(h.compression_type) +
                               " is set without its incompatible feature bit");
  }
  const uint64_t unknown = incompat & ~(kIncompatDirty | kIncompatCorrupt | kIncompatDataFile |
                                        kIncompatCompression | kIncompatExtendedL2);
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (unknown & (uint64_t{1} << bit)) {
      throw BlockError(path, "unknown incompatible feature: " + incompatible_name(h, bit));
    }
  }
}

// A table of `bytes` at `offset`: aligned, inside the file, clear of the header cluster.
void check_table(const char* what, uint64_t offset, uint64_t bytes, const Header& h,
                 uint64_t file_size, const std::string& path) {
  const uint64_t cs = h.cluster_size();
  if (offset % cs != 0) throw BlockError(path, std::string(what) + " offset is not aligned");
  if (offset < cs) throw BlockError(path, std::string(what) + " overlaps the header");
  if (offset > file_size || bytes > file_size - offset) {
    throw BlockError(path, std::string(what) + " lies outside the file");
  }
}

bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return a < b + blen && b < a + alen;
}

}  // namespace

uint64_t l1_entries_for(uint64_t size, uint32_t cluster_bits) {
  const uint32_t shift = cluster_bits + (cluster_bits - 3);  // bytes mapped by one L2 table
  return (size >> shift) + ((size & ((uint64_t{1} << shift) - 1)) != 0 ? 1 : 0);
}

Header parse_header(std::span<const std::byte> head, uint64_t file_size, const std::string& path) {
  if (file_size < kV2HeaderLength || head.size() < kHeaderReadBytes) {
    throw BlockError(path, "not a qcow2 image (file too short)");
  }
  if (load_be<uint32_t>(head, 0) != kMagic) throw BlockError(path, "not a qcow2 image (bad magic)");
  Header h;
  h.version = load_be<uint32_t>(head, 4);
  if (h.version != 2 && h.version != 3) {
    throw BlockError(path, "unsupported qcow2 version " + std::to_string(h.version));
  }
  h.backing_file_offset = load_be<uint64_t>(head, 8);
  h.backing_file_size = load_be<uint32_t>(head, 16);
  h.cluster_bits = load_be<uint32_t>(head, 20);
  h.size = load_be<uint64_t>(head, 24);
  h.crypt_method = load_be<uint32_t>(head, 32);
  h.l1_size = load_be<uint32_t>(head, 36);
  h.l1_table_offset = load_be<uint64_t>(head, 40);
  h.refcount_table_offset = load_be<uint64_t>(head, 48);
  h.refcount_table_clusters = load_be<uint32_t>(head, 56);
  h.nb_snapshots = load_be<uint32_t>(head, 60);
  h.snapshots_offset = load_be<uint64_t>(head, 64);

  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits) {
    throw BlockError(path, "cluster size 2^" + std::to_string(h.cluster_bits) +
                               " is not supported (512 B to 2 MiB)");
  }
  const uint64_t cs = h.cluster_size();
  if (h.version == 2) {
    h.refcount_order = 4;
    h.header_length = kV2HeaderLength;
  } else {
    h.incompatible_features = load_be<uint64_t>(head, 72);
    h.compatible_features = load_be<uint64_t>(head, 80);
    h.autoclear_features = load_be<uint64_t>(head, 88);
    h.refcount_order = load_be<uint32_t>(head, 96);
    h.header_length = load_be<uint32_t>(head, 100);
    if (h.header_length < kV3MinHeaderLength) throw BlockError(path, "header_length is too small");
    if (h.header_length > cs) throw BlockError(path, "header_length is larger than a cluster");
    if (h.header_length % 8 != 0) throw BlockError(path, "header_length is not a multiple of 8");
    if (h.header_length > 104) h.compression_type = static_cast<uint8_t>(head[104]);
    if (h.refcount_order > 6) {
      throw BlockError(
          path, "refcount_order " + std::to_string(h.refcount_order) + " is invalid (at most 6)");
    }
  }

  // Backing file name: after the extensions, inside the first cluster.
  uint64_t ext_end = cs;
  if (h.backing_file_offset != 0) {
    if (h.backing_file_size > kMaxBackingNameLength) {
      throw BlockError(path, "backing file name is too long");
    }
    if (h.backing_file_offset < h.header_length || h.backing_file_offset > cs ||
        h.backing_file_size > cs - h.backing_file_offset) {
      throw BlockError(path, "backing file name lies outside the first cluster");
    }
    h.backing_file.assign(reinterpret_cast<const char*>(head.data() + h.backing_file_offset),
                          h.backing_file_size);
    if (h.backing_file.empty()) throw BlockError(path, "backing file name is empty");
    ext_end = h.backing_file_offset;
  }
  parse_extensions(head, h.header_length, ext_end, h, path);
  check_features(h, path);

  // Virtual size and L1 table (QEMU caps the L1 table at 32 MiB).
  if (h.size > (uint64_t{1} << 62)) throw BlockError(path, "virtual size is too large");
  const uint64_t l1_needed = l1_entries_for(h.size, h.cluster_bits);
  if (l1_needed > kMaxL1Bytes / 8) {
    throw BlockError(path, "virtual size is too large for the cluster size");
  }
  if (h.l1_size > kMaxL1Bytes / 8) throw BlockError(path, "active L1 table is too large");
  if (h.l1_size < l1_needed) throw BlockError(path, "L1 table is too small for the virtual size");
  if (h.l1_size > 0) {
    check_table("L1 table", h.l1_table_offset, uint64_t{h.l1_size} * 8, h, file_size, path);
  }

  // Refcount table (QEMU caps it at 8 MiB).
  if (h.refcount_table_clusters == 0) throw BlockError(path, "refcount table is empty");
  if (h.refcount_table_clusters > kMaxRefcountTableBytes / cs) {
    throw BlockError(path, "refcount table is too large");
  }
  const uint64_t rt_bytes = uint64_t{h.refcount_table_clusters} * cs;
  check_table("refcount table", h.refcount_table_offset, rt_bytes, h, file_size, path);
  if (h.l1_size > 0 &&
      overlap(h.l1_table_offset, uint64_t{h.l1_size} * 8, h.refcount_table_offset, rt_bytes)) {
    throw BlockError(path, "L1 table overlaps the refcount table");
  }

  if (h.nb_snapshots > kMaxSnapshots) throw BlockError(path, "too many snapshots");
  if (h.nb_snapshots > 0) {
    check_table("snapshot table", h.snapshots_offset, h.nb_snapshots * kSnapshotHeaderBytes, h,
                file_size, path);
  }
  return h;
}

std::vector<std::byte> build_header(Header h) {
  const uint64_t cs = h.cluster_size();
  std::vector<std::byte> out(cs);
  const std::span<std::byte> b(out);
  h.header_length = h.version == 2 ? kV2HeaderLength : kV3HeaderLength;
  uint64_t pos = h.header_length;
  auto put_ext = [&](uint32_t type, std::span<const std::byte> data) {
    store_be<uint32_t>(b, pos, type);
    store_be<uint32_t>(b, pos + 4, static_cast<uint32_t>(data.size()));
    std::memcpy(out.data() + pos + 8, data.data(), data.size());
    pos += 8 + align_up(data.size(), 8);
  };
  const uint64_t tail = 8 + h.backing_file.size();  // end marker and backing file name
  const uint64_t fmt_bytes =
      h.backing_format.empty() ? 0 : 8 + align_up(h.backing_format.size(), 8);
  if (pos + fmt_bytes + tail > cs) {
    throw std::invalid_argument("backing file name does not fit in the first cluster");
  }
  if (!h.backing_format.empty())
    put_ext(kExtBackingFormat, std::as_bytes(std::span(h.backing_format)));
  constexpr uint64_t kFeatureTableBytes = 8 + 8 * kFeatureNameEntry;
  if (h.version == 3 && pos + kFeatureTableBytes + tail <= cs) {
    // Feature names help tools that do not know a bit; QEMU writes the same table. With small
    // clusters it is left out when the backing file name needs the room.
    const std::vector<FeatureName> names = {
        {0, 0, "dirty bit"},        {0, 1, "corrupt bit"},         {0, 2, "external data file"},
        {0, 3, "compression type"}, {0, 4, "extended L2 entries"}, {1, 0, "lazy refcounts"},
        {2, 0, "bitmaps"},          {2, 1, "raw external data"}};
    std::vector<std::byte> table(names.size() * kFeatureNameEntry);
    for (size_t i = 0; i < names.size(); ++i) {
      table[i * kFeatureNameEntry] = std::byte{names[i].type};
      table[i * kFeatureNameEntry + 1] = std::byte{names[i].bit};
      std::memcpy(table.data() + i * kFeatureNameEntry + 2, names[i].name.data(),
                  names[i].name.size());
    }
    put_ext(kExtFeatureNames, table);
  }
  pos += 8;  // end-of-extensions marker (all zero)
  if (!h.backing_file.empty()) {
    h.backing_file_offset = pos;
    h.backing_file_size = static_cast<uint32_t>(h.backing_file.size());
    std::memcpy(out.data() + pos, h.backing_file.data(), h.backing_file.size());
  }
  store_be<uint32_t>(b, 0, kMagic);
  store_be<uint32_t>(b, 4, h.version);
  store_be<uint64_t>(b, 8, h.backing_file_offset);
  store_be<uint32_t>(b, 16, h.backing_file_size);
  store_be<uint32_t>(b, 20, h.cluster_bits);
  store_be<uint64_t>(b, 24, h.size);
  store_be<uint32_t>(b, 32, h.crypt_method);
  store_be<uint32_t>(b, 36, h.l1_size);
  store_be<uint64_t>(b, 40, h.l1_table_offset);
  store_be<uint64_t>(b, 48, h.refcount_table_offset);
  store_be<uint32_t>(b, 56, h.refcount_table_clusters);
  store_be<uint32_t>(b, 60, h.nb_snapshots);
  store_be<uint64_t>(b, 64, h.snapshots_offset);
  if (h.version == 3) {
    store_be<uint64_t>(b, 72, h.incompatible_features);
    store_be<uint64_t>(b, 80, h.compatible_features);
    store_be<uint64_t>(b, 88, h.autoclear_features);
    store_be<uint32_t>(b, 96, h.refcount_order);
    store_be<uint32_t>(b, 100, h.header_length);
  }
  return out;
}

}  // namespace devices::block::qcow2
