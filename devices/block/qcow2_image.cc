#include "devices/block/qcow2_image.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "devices/block/aligned_buffer.h"
#include "devices/block/block_error.h"
#include "devices/block/endian.h"
#include "devices/block/qcow2_layout.h"

namespace devices::block {

using namespace qcow2;

namespace {

uint64_t div_up(uint64_t a, uint64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return alen != 0 && blen != 0 && a < b + blen && b < a + alen;
}

}  // namespace

Qcow2Image::Qcow2Image(File file, Header header)
    : file_(std::move(file)),
      header_(std::move(header)),
      refblock_entries_(cluster_size() * 8 >> header_.refcount_order),
      l2_cache_(std::clamp<uint64_t>(header_.l1_size, 16, (32 << 20) / cluster_size())),
      refblock_cache_(std::clamp<uint64_t>(uint64_t{header_.refcount_table_clusters} * l2_entries(),
                                           16, (8 << 20) / cluster_size())),
      fresh_from_(0) {}

std::unique_ptr<Qcow2Image> Qcow2Image::open_layer(File file) {
  const std::string path = file.path();
  Header header;
  try {
    AlignedBuffer head(kHeaderReadBytes);
    file.read_at(0, head.span());
    header = parse_header(head.span(), file.size(), path);
  } catch (const IoError& e) {
    throw BlockError(path, e.what());
  }
  auto image = std::make_unique<Qcow2Image>(std::move(file), std::move(header));
  try {
    image->load_tables();
    if (!image->read_only()) image->open_for_write();
  } catch (const IoError& e) {
    throw BlockError(path, e.what());
  }
  return image;
}

std::unique_ptr<Qcow2Image> Qcow2Image::open(File file, const BackingOpener& open_backing) {
  const std::string path = file.path();
  auto image = open_layer(std::move(file));
  const Header& h = image->header_;
  if (!h.backing_file.empty()) {
    std::string backing_path = h.backing_file;
    const auto slash = path.rfind('/');
    if (backing_path[0] != '/' && slash != std::string::npos) {
      backing_path = path.substr(0, slash + 1) + backing_path;
    }
    if (!open_backing) throw BlockError(path, "has a backing file but none can be opened here");
    image->backing_ = open_backing(backing_path, h.backing_format);
  }
  return image;
}

void Qcow2Image::load_tables() {
  const uint64_t cs = cluster_size();
  AlignedBuffer l1(uint64_t{header_.l1_size} * 8);
  file_.read_at(header_.l1_table_offset, l1.span());
  l1_.resize(header_.l1_size);
  for (size_t i = 0; i < l1_.size(); ++i) l1_[i] = load_be<uint64_t>(l1.span(), i * 8);

  AlignedBuffer rt(uint64_t{header_.refcount_table_clusters} * cs);
  file_.read_at(header_.refcount_table_offset, rt.span());
  reftable_.resize(rt.size() / 8);
  for (size_t i = 0; i < reftable_.size(); ++i) reftable_[i] = load_be<uint64_t>(rt.span(), i * 8);
  fresh_from_ = div_up(file_.size(), cs) * cs;
}

void Qcow2Image::open_for_write() {
  const std::string& path = file_.path();
  if (header_.incompatible_features & kIncompatCorrupt) {
    throw BlockError(path, "image is marked corrupt; it can only be opened read-only");
  }
  if (header_.incompatible_features & kIncompatDirty) {
    throw BlockError(path,
                     "dirty bit is set (lazy refcounts); repair it with 'qemu-img check -r all' "
                     "or open it read-only");
  }
  if (header_.nb_snapshots != 0) {
    throw BlockError(path, "internal snapshots are not supported for writing");
  }
  if (header_.autoclear_features != 0) {
    // qcow2.txt: a writer that does not maintain an auto-clear feature must clear its bit first.
    header_.autoclear_features = 0;
    std::byte zero[8] = {};
    write_header_field(kOffsetAutoclear, zero);
    file_.sync();
  }
}

Qcow2Image::~Qcow2Image() {
  if (read_only() || corrupt_) return;
  try {
    flush_metadata();
    // Releasing clusters at the end of a flush dirties refcount blocks: write them too.
    if (refblock_cache_.any_dirty()) flush_metadata();
  } catch (const std::exception&) {
    // Nothing to report to: the next open sees leaked clusters at worst.
  }
}

void Qcow2Image::corrupt(const std::string& why) {
  if (!read_only() && header_.version >= 3 && !corrupt_) {
    // As QEMU does: mark the image so that nobody writes to it before a repair.
    try {
      header_.incompatible_features |= kIncompatCorrupt;
      std::byte field[8];
      store_be<uint64_t>(field, 0, header_.incompatible_features);
      write_header_field(kOffsetIncompatible, field);
      file_.sync();
    } catch (const IoError&) {
    }
  }
  corrupt_ = true;
  throw IoError(EIO, file_.path() + ": corrupt image: " + why);
}

void Qcow2Image::write_header_field(uint64_t offset, std::span<const std::byte> bytes) {
  file_.write_at(offset, bytes);
}

// ---- Mapping -------------------------------------------------------------------------------

Qcow2Image::Kind Qcow2Image::classify(uint64_t entry, uint64_t& host) const {
  host = 0;
  if (entry & kL2Compressed) return Kind::kCompressed;
  const uint64_t offset = entry & kL2OffsetMask;
  if (entry & kL2Zero) {
    host = offset;
    return Kind::kZero;
  }
  if (offset == 0) return Kind::kUnallocated;
  host = offset;
  return Kind::kNormal;
}

void Qcow2Image::check_metadata_offset(uint64_t offset, const char* what) {
  const uint64_t cs = cluster_size();
  const std::string name(what);
  if (offset % cs != 0) corrupt(name + " offset is not aligned");
  if (offset < cs) corrupt(name + " overlaps the header");
  if (offset > file_.size() - std::min(file_.size(), cs)) corrupt(name + " lies outside the file");
  if (overlaps(offset, cs, header_.l1_table_offset, uint64_t{header_.l1_size} * 8)) {
    corrupt(name + " overlaps the L1 table");
  }
  if (overlaps(offset, cs, header_.refcount_table_offset, reftable_.size() * 8)) {
    corrupt(name + " overlaps the refcount table");
  }
  if (l2_cache_.contains(offset) || refblock_cache_.contains(offset)) {
    corrupt(name + " overlaps other metadata");
  }
}

Qcow2Image::Table& Qcow2Image::load_table(TableCache& cache, uint64_t offset, const char* what) {
  if (Table* t = cache.find(offset)) return *t;
  check_metadata_offset(offset, what);
  AlignedBuffer data(cluster_size());
  file_.read_at(offset, data.span());
  return cache.insert(offset, std::move(data));
}

Qcow2Image::Table* Qcow2Image::l2_table(uint64_t l1_index) {
  if (l1_index >= l1_.size()) return nullptr;
  const uint64_t offset = l1_[l1_index] & kL1OffsetMask;
  if (offset == 0) return nullptr;
  return &load_table(l2_cache_, offset, "L2 table");
}

Qcow2Image::Mapping Qcow2Image::map(uint64_t offset, uint64_t max_bytes) {
  const uint64_t cs = cluster_size();
  const uint32_t cb = header_.cluster_bits;
  const uint64_t l2_index = (offset >> cb) & (l2_entries() - 1);
  const uint64_t in_cluster = offset & (cs - 1);
  const uint64_t limit = std::min(max_bytes, (l2_entries() - l2_index) * cs - in_cluster);

  Mapping m;
  Table* table = l2_table(offset >> (cb + cb - 3));
  if (table == nullptr) {
    m.bytes = limit;
    return m;
  }
  const auto entries = std::span<const std::byte>(table->data.span());
  const uint64_t first = load_be<uint64_t>(entries, l2_index * 8);
  uint64_t host = 0;
  m.kind = classify(first, host);
  m.copied = (first & kL2Copied) != 0;
  m.bytes = std::min(limit, cs - in_cluster);
  if (m.kind == Kind::kCompressed) {
    m.host = first;
    return m;
  }
  if (m.kind == Kind::kNormal) {
    if (host % cs != 0) corrupt("L2 entry points at an unaligned cluster");
    m.host = host + in_cluster;
  }
  for (uint64_t i = l2_index + 1; m.bytes < limit; ++i) {
    const uint64_t e = load_be<uint64_t>(entries, i * 8);
    uint64_t h = 0;
    if (classify(e, h) != m.kind) break;
    if (m.kind == Kind::kNormal &&
        (h != host + (i - l2_index) * cs || ((e & kL2Copied) != 0) != m.copied)) {
      break;
    }
    m.bytes += std::min(cs, limit - m.bytes);
  }
  return m;
}

// ---- Reads ---------------------------------------------------------------------------------

void Qcow2Image::readv(uint64_t offset, ReadVec iov) {
  const IoVector dst(iov);
  std::shared_lock io(io_lock_);
  for (uint64_t pos = 0; pos < dst.size();) {
    Mapping m;
    {
      std::lock_guard meta(meta_lock_);
      m = map(offset + pos, dst.size() - pos);
    }
    read_mapped(offset + pos, m, dst.slice(pos, m.bytes));
    pos += m.bytes;
  }
}

void Qcow2Image::read_mapped(uint64_t guest, const Mapping& m, const IoVector& dst) {
  switch (m.kind) {
    case Kind::kUnallocated:
      return read_backing(guest, dst);
    case Kind::kZero:
      return dst.fill_zero();
    case Kind::kNormal:
      return file_.readv_at(m.host, dst);
    case Kind::kCompressed: {
      AlignedBuffer cluster(cluster_size());
      read_compressed(m.host, cluster.span());
      dst.copy_from(cluster.span().subspan(guest & (cluster_size() - 1), dst.size()));
      return;
    }
  }
}

void Qcow2Image::read_backing(uint64_t guest, const IoVector& dst) {
  const uint64_t backing_size = backing_ ? backing_->size() : 0;
  if (guest >= backing_size) return dst.fill_zero();
  const uint64_t n = std::min(dst.size(), backing_size - guest);
  backing_->readv(guest, dst.slice(0, n).spans());
  if (n < dst.size()) dst.slice(n, dst.size() - n).fill_zero();
}

void Qcow2Image::read_compressed(uint64_t entry, std::span<std::byte> cluster) {
  // qcow2.txt "Compressed Clusters Descriptor": x = 62 - (cluster_bits - 8).
  const CompressedDescriptor d = decode_compressed(entry, header_.cluster_bits);
  AlignedBuffer in(d.bytes);
  file_.read_at(d.offset, in.span());
  z_stream z{};
  if (inflateInit2(&z, -12) != Z_OK) throw IoError(ENOMEM, "zlib initialisation failed");
  z.next_in = reinterpret_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(cluster.data());
  z.avail_out = static_cast<uInt>(cluster.size());
  const int ret = inflate(&z, Z_FINISH);
  inflateEnd(&z);
  // Decompression stops when a whole cluster came out; trailing bytes belong to the next one.
  if ((ret != Z_STREAM_END && ret != Z_BUF_ERROR && ret != Z_OK) || z.avail_out != 0) {
    throw IoError(EIO, file_.path() + ": compressed cluster does not inflate to a cluster");
  }
}

void Qcow2Image::read_old(uint64_t guest, std::span<std::byte> dst) {
  // Caller holds io_lock_ exclusively.
  const Mapping m = map(guest, dst.size());
  if (m.bytes < dst.size()) throw IoError(EIO, "copy-on-write range crosses a mapping");
  read_mapped(guest, m, IoVector(dst));
}

// ---- Writes --------------------------------------------------------------------------------

void Qcow2Image::writev(uint64_t offset, WriteVec iov) {
  if (read_only()) throw IoError(EROFS, file_.path() + ": image is read-only");
  if (corrupt_) throw IoError(EIO, file_.path() + ": image is corrupt");
  const IoVector src(iov);
  {
    std::shared_lock io(io_lock_);
    if (try_write_in_place(offset, src)) return;
  }
  std::unique_lock io(io_lock_);
  write_allocating(offset, src);
}

void Qcow2Image::check_new_cluster(uint64_t offset, uint64_t bytes) {
  // QEMU's "cached" overlap check: the fixed tables and every table in the caches.
  const uint64_t cs = cluster_size();
  if (overlaps(offset, bytes, 0, cs) ||
      overlaps(offset, bytes, header_.l1_table_offset, uint64_t{header_.l1_size} * 8) ||
      overlaps(offset, bytes, header_.refcount_table_offset, reftable_.size() * 8) ||
      overlaps(offset, bytes, header_.snapshots_offset,
               uint64_t{header_.nb_snapshots} * kSnapshotHeaderBytes)) {
    corrupt("data cluster overlaps the image's tables");
  }
  for (uint64_t o = offset; o < offset + bytes; o += cs) {
    if (l2_cache_.contains(o) || refblock_cache_.contains(o)) {
      corrupt("data cluster overlaps an L2 table or refcount block");
    }
  }
}

bool Qcow2Image::try_write_in_place(uint64_t offset, const IoVector& src) {
  std::vector<std::pair<uint64_t, IoVector>> pieces;
  {
    std::lock_guard meta(meta_lock_);
    for (uint64_t pos = 0; pos < src.size();) {
      const Mapping m = map(offset + pos, src.size() - pos);
      if (m.kind != Kind::kNormal || !m.copied) return false;
      check_new_cluster(m.host, m.bytes);
      pieces.emplace_back(m.host, src.slice(pos, m.bytes));
      pos += m.bytes;
    }
  }
  for (const auto& [host, piece] : pieces) file_.writev_at(host, piece);
  return true;
}

void Qcow2Image::write_allocating(uint64_t offset, const IoVector& src) {
  const uint64_t cs = cluster_size();
  const uint32_t cb = header_.cluster_bits;
  const uint64_t table_span = l2_entries() * cs;
  for (uint64_t pos = 0; pos < src.size();) {
    const uint64_t guest = offset + pos;
    const uint64_t n = std::min(src.size() - pos, table_span - guest % table_span);
    Table& l2 = l2_table_for_write(guest >> (cb + cb - 3));
    write_run(guest, src.slice(pos, n), l2, (guest >> cb) & (l2_entries() - 1));
    pos += n;
  }
  if (l2_cache_.over_capacity() || refblock_cache_.over_capacity()) flush_metadata();
}

Qcow2Image::Table& Qcow2Image::l2_table_for_write(uint64_t l1_index) {
  if (l1_index >= l1_.size()) throw IoError(EIO, "write beyond the L1 table");
  const uint64_t entry = l1_[l1_index];
  const uint64_t offset = entry & kL1OffsetMask;
  if (offset != 0) {
    if (offset % cluster_size() != 0) corrupt("L1 entry points at an unaligned L2 table");
    if (!(entry & kL1Copied)) {
      // Without snapshots every L2 table has one reference; repair a missing flag, refuse else.
      if (refcount(offset / cluster_size()) != 1) corrupt("L2 table is shared");
      l1_[l1_index] |= kL1Copied;
      l1_dirty_ = true;
    }
    return load_table(l2_cache_, offset, "L2 table");
  }
  bool fresh = false;
  const uint64_t host = alloc_clusters(1, fresh);
  Table& table = l2_cache_.insert(host, AlignedBuffer(cluster_size()));
  table.dirty = true;
  l1_[l1_index] = host | kL1Copied;
  l1_dirty_ = true;
  return table;
}

void Qcow2Image::set_l2(Table& l2, uint64_t index, uint64_t entry) {
  store_be<uint64_t>(l2.data.span(), index * 8, entry);
  l2.dirty = true;
}

void Qcow2Image::release(uint64_t entry) {
  uint64_t host = 0;
  const Kind kind = classify(entry, host);
  const uint64_t cs = cluster_size();
  if (kind == Kind::kCompressed) {
    const CompressedDescriptor d = decode_compressed(entry, header_.cluster_bits);
    const uint64_t start = d.offset & ~uint64_t{511};
    const uint64_t first = start / cs;
    const uint64_t last = (start + d.sectors * 512 - 1) / cs;
    pending_free_.emplace_back(first * cs, last - first + 1);
  } else if (host != 0) {
    pending_free_.emplace_back(host & ~(cs - 1), 1);
  }
}

void Qcow2Image::write_run(uint64_t guest, const IoVector& src, Table& l2, uint64_t first_index) {
  const uint64_t cs = cluster_size();
  auto entry_at = [&](uint64_t i) {
    return load_be<uint64_t>(std::span<const std::byte>(l2.data.span()), i * 8);
  };
  auto owned = [&](uint64_t e) {
    uint64_t h = 0;
    return classify(e, h) == Kind::kNormal && (e & kL2Copied) != 0;
  };
  uint64_t index = first_index;
  for (uint64_t pos = 0; pos < src.size();) {
    const uint64_t g = guest + pos;
    const uint64_t in = g & (cs - 1);
    const uint64_t entry = entry_at(index);
    if (owned(entry)) {
      const uint64_t host = entry & kL2OffsetMask;
      if (host % cs != 0) corrupt("L2 entry points at an unaligned cluster");
      const uint64_t n = std::min(cs - in, src.size() - pos);
      check_new_cluster(host, cs);
      file_.writev_at(host + in, src.slice(pos, n));
      pos += n;
      ++index;
      continue;
    }
    // A group of consecutive clusters that all need a new host cluster.
    uint64_t count = 1;
    uint64_t end = pos + std::min(cs - in, src.size() - pos);
    while (end < src.size() && !owned(entry_at(index + count))) {
      end += std::min(cs, src.size() - end);
      ++count;
    }
    bool fresh = false;
    const uint64_t host = alloc_clusters(count, fresh);
    const uint64_t group_start = g - in;
    const uint64_t data_end = guest + end;
    const uint64_t tail = group_start + count * cs - data_end;

    // Copy-on-write of the partial clusters at both ends. A fresh cluster past the end of the
    // file already reads as zeros, so zero head or tail bytes need no write there; and when the
    // old contents are known zeros (a zero cluster, or unallocated with no backing data behind
    // it) they need no read either: a guest's first small write into each cluster is the
    // common case, and reading and scanning the rest of the cluster would cost more than it.
    auto old_is_zero = [&](uint64_t i, uint64_t from) {
      uint64_t h = 0;
      const Kind kind = classify(entry_at(i), h);
      return kind == Kind::kZero ||
             (kind == Kind::kUnallocated && (!backing_ || from >= backing_->size()));
    };
    IoVector out;
    uint64_t write_at = host;
    std::optional<AlignedBuffer> head_buf;
    if (in > 0) {
      if (fresh && old_is_zero(index, group_start)) {
        write_at = host + in;
      } else {
        head_buf.emplace(in);
        read_old(group_start, head_buf->span());
        if (fresh && IoVector(head_buf->span()).is_zero()) {
          write_at = host + in;
        } else {
          out.append(IoVector(head_buf->span()));
        }
      }
    }
    out.append(src.slice(pos, end - pos));
    std::optional<AlignedBuffer> tail_buf;
    if (tail > 0 && !(fresh && old_is_zero(index + count - 1, data_end))) {
      tail_buf.emplace(tail);
      read_old(data_end, tail_buf->span());
      if (!fresh || !IoVector(tail_buf->span()).is_zero()) out.append(IoVector(tail_buf->span()));
    }
    file_.writev_at(write_at, out);
    for (uint64_t c = 0; c < count; ++c) {
      release(entry_at(index + c));
      set_l2(l2, index + c, (host + c * cs) | kL2Copied);
    }
    index += count;
    pos = end;
  }
}

void Qcow2Image::flush() {
  if (read_only()) return;
  std::unique_lock io(io_lock_);
  if (corrupt_) throw IoError(EIO, file_.path() + ": image is corrupt");
  flush_metadata();
}

void Qcow2Image::discard(uint64_t offset, uint64_t length) {
  zero_or_discard(offset, length, false);
}

void Qcow2Image::write_zeroes(uint64_t offset, uint64_t length) {
  zero_or_discard(offset, length, true);
}

void Qcow2Image::zero_or_discard(uint64_t offset, uint64_t length, bool zero) {
  if (read_only()) throw IoError(EROFS, file_.path() + ": image is read-only");
  if (corrupt_) throw IoError(EIO, file_.path() + ": image is corrupt");
  const uint64_t cs = cluster_size();
  const uint32_t cb = header_.cluster_bits;
  const bool v3 = header_.version >= 3;
  // What a released cluster becomes: QEMU sets the zero flag on version 3 (so that backing data
  // does not show through) and unallocates on version 2.
  const uint64_t want = v3 ? kL2Zero : 0;
  std::unique_lock io(io_lock_);
  for (uint64_t pos = offset; pos < offset + length;) {
    const uint64_t in = pos & (cs - 1);
    const uint64_t n = std::min(cs - in, offset + length - pos);
    const bool whole = in == 0 && (n == cs || pos + n == header_.size);
    const uint64_t l1_index = pos >> (cb + cb - 3);
    if (whole && (v3 || !zero || !backing_)) {
      const bool unmapped = (l1_[l1_index] & kL1OffsetMask) == 0;
      if (!(unmapped && (!backing_ || want == 0))) {
        Table& l2 = l2_table_for_write(l1_index);
        const uint64_t index = (pos >> cb) & (l2_entries() - 1);
        const uint64_t old =
            load_be<uint64_t>(std::span<const std::byte>(l2.data.span()), index * 8);
        if (old != want) {
          release(old);
          set_l2(l2, index, want);
        }
      }
    } else if (zero) {
      const Mapping m = map(pos, n);
      const bool reads_zero = m.kind == Kind::kZero || (m.kind == Kind::kUnallocated && !backing_);
      if (!reads_zero || m.bytes < n) {
        AlignedBuffer zeros(n);
        write_allocating(pos, IoVector(std::span<const std::byte>(zeros.span())));
      }
    }
    // A discard of part of a cluster leaves it alone, as QEMU does.
    pos += n;
  }
  if (l2_cache_.over_capacity() || refblock_cache_.over_capacity()) flush_metadata();
}

// ---- Refcounts and allocation ---------------------------------------------------------------

Qcow2Image::Table* Qcow2Image::refblock(uint64_t table_index) {
  if (table_index >= reftable_.size()) return nullptr;
  const uint64_t offset = reftable_[table_index] & kRefTableOffsetMask;
  if (offset == 0) return nullptr;
  return &load_table(refblock_cache_, offset, "refcount block");
}

uint64_t Qcow2Image::refcount(uint64_t cluster) {
  Table* block = refblock(cluster / refblock_entries_);
  if (block == nullptr) return 0;
  return get_refcount(block->data.span(), cluster % refblock_entries_, header_.refcount_order);
}

void Qcow2Image::set_refcount(uint64_t cluster, uint64_t value) {
  Table* block = refblock(cluster / refblock_entries_);
  if (block == nullptr) corrupt("refcount block missing for an allocated cluster");
  set_refcount_entry(block->data.span(), cluster % refblock_entries_, header_.refcount_order,
                     value);
  block->dirty = true;
}

uint64_t Qcow2Image::alloc_clusters(uint64_t count, bool& fresh) {
  const uint64_t cs = cluster_size();
  const uint64_t r = refblock_entries_;
  for (;;) {
    // A run of `count` free clusters, plus room before it for refcount blocks it may need.
    uint64_t c = free_hint_;
    uint64_t blocks = 0;
    for (;;) {
      uint64_t k = 0;
      while (k < blocks + count && refcount(c + k) == 0) ++k;
      if (k < blocks + count) {
        c += k + 1;
        blocks = 0;
        continue;
      }
      // The refcount blocks missing for [c, c + blocks + count) go at its start.
      uint64_t missing = 0;
      const uint64_t last_table = (c + blocks + count - 1) / r;
      for (uint64_t t = c / r; t <= last_table; ++t) {
        if (t >= reftable_.size() || (reftable_[t] & kRefTableOffsetMask) == 0) ++missing;
      }
      if (missing == blocks) break;
      blocks = missing;
    }
    const uint64_t last = c + blocks + count;
    if (last > (kMaxHostOffset / cs)) throw IoError(ENOSPC, file_.path() + ": image is full");
    if ((last - 1) / r >= reftable_.size()) {
      grow_refcount_table((last - 1) / r + 1);
      continue;  // the new table took clusters: search again
    }
    check_new_cluster(c * cs, (blocks + count) * cs);
    uint64_t next_block = c;
    for (uint64_t t = c / r; t <= (last - 1) / r; ++t) {
      if ((reftable_[t] & kRefTableOffsetMask) != 0) continue;
      Table& b = refblock_cache_.insert(next_block * cs, AlignedBuffer(cs));
      b.dirty = true;
      reftable_[t] = next_block * cs;
      reftable_dirty_ = true;
      ++next_block;
    }
    for (uint64_t i = c; i < last; ++i) set_refcount(i, 1);
    free_hint_ = last;  // as QEMU: holes behind are found again once something is freed
    const uint64_t host = (c + blocks) * cs;
    fresh = host >= fresh_from_;
    fresh_from_ = std::max(fresh_from_, last * cs);
    return host;
  }
}

void Qcow2Image::grow_refcount_table(uint64_t min_entries) {
  const uint64_t cs = cluster_size();
  const uint64_t r = refblock_entries_;
  const uint64_t start = fresh_from_ / cs;  // new table and blocks go past everything in use
  uint64_t table_clusters = 0;
  std::vector<uint64_t> table;
  std::vector<uint64_t> new_blocks;  // table indices that get a new block
  for (int round = 0;; ++round) {
    if (round == 16) throw IoError(EIO, "refcount table growth does not converge");
    const uint64_t end = start + table_clusters + new_blocks.size();
    const uint64_t want = std::max({min_entries, reftable_.size() * 3 / 2 + 1, end / r + 1});
    const uint64_t clusters = div_up(want * 8, cs);
    if (clusters * cs > kMaxRefcountTableBytes) {
      throw IoError(EFBIG, file_.path() + ": refcount table would exceed QEMU's 8 MiB limit");
    }
    table = reftable_;
    table.resize(clusters * cs / 8, 0);
    const uint64_t new_end = start + clusters + new_blocks.size();
    if ((new_end - 1) / r >= table.size()) {
      table_clusters = clusters;
      continue;
    }
    std::vector<uint64_t> needed;
    for (uint64_t t = start / r; t <= (new_end - 1) / r; ++t) {
      if ((table[t] & kRefTableOffsetMask) == 0) needed.push_back(t);
    }
    if (clusters == table_clusters && needed == new_blocks) break;
    table_clusters = clusters;
    new_blocks = std::move(needed);
  }
  const uint64_t end = start + table_clusters + new_blocks.size();
  for (uint64_t c = start; c < end; ++c) {
    if (refcount(c) != 0) corrupt("refcounts claim clusters past the end of the image");
  }
  check_new_cluster(start * cs, (end - start) * cs);
  for (size_t j = 0; j < new_blocks.size(); ++j) {
    const uint64_t offset = (start + table_clusters + j) * cs;
    Table& b = refblock_cache_.insert(offset, AlignedBuffer(cs));
    b.dirty = true;
    table[new_blocks[j]] = offset;
  }
  const uint64_t old_offset = header_.refcount_table_offset;
  const uint64_t old_clusters = header_.refcount_table_clusters;
  reftable_ = std::move(table);
  for (uint64_t c = start; c < end; ++c) set_refcount(c, 1);
  fresh_from_ = end * cs;

  // The blocks and the new table are durable before the header points at them.
  for (Table* b : refblock_cache_.dirty_tables()) {
    file_.write_at(b->offset, b->data.span());
    b->dirty = false;
  }
  AlignedBuffer buf(table_clusters * cs);
  for (size_t i = 0; i < reftable_.size(); ++i) store_be<uint64_t>(buf.span(), i * 8, reftable_[i]);
  file_.write_at(start * cs, buf.span());
  file_.sync();
  std::byte field[12];
  store_be<uint64_t>(field, 0, start * cs);
  store_be<uint32_t>(field, 8, static_cast<uint32_t>(table_clusters));
  write_header_field(kOffsetRefcountTable, field);
  file_.sync();
  header_.refcount_table_offset = start * cs;
  header_.refcount_table_clusters = static_cast<uint32_t>(table_clusters);
  reftable_dirty_ = false;
  pending_free_.emplace_back(old_offset, old_clusters);
}

void Qcow2Image::flush_metadata() {
  const auto blocks = refblock_cache_.dirty_tables();
  if (!blocks.empty() || reftable_dirty_) {
    for (Table* b : blocks) {
      file_.write_at(b->offset, b->data.span());
      b->dirty = false;
    }
    if (reftable_dirty_) {
      // New refcount blocks are on disk before the table entries pointing at them.
      file_.sync();
      AlignedBuffer buf(uint64_t{header_.refcount_table_clusters} * cluster_size());
      for (size_t i = 0; i < reftable_.size(); ++i)
        store_be<uint64_t>(buf.span(), i * 8, reftable_[i]);
      file_.write_at(header_.refcount_table_offset, buf.span());
      reftable_dirty_ = false;
    }
  }
  const auto tables = l2_cache_.dirty_tables();
  if (!tables.empty() || l1_dirty_) {
    // Data and refcounts are durable before any L2 entry that points at them.
    file_.sync();
    for (Table* t : tables) {
      file_.write_at(t->offset, t->data.span());
      t->dirty = false;
    }
    if (l1_dirty_) {
      file_.sync();  // L2 tables before the L1 entries pointing at them
      AlignedBuffer buf(l1_.size() * 8);
      for (size_t i = 0; i < l1_.size(); ++i) store_be<uint64_t>(buf.span(), i * 8, l1_[i]);
      file_.write_at(header_.l1_table_offset, buf.span());
      l1_dirty_ = false;
    }
  }
  file_.sync();

  // Only now, with no durable L2 entry left pointing at them, may released clusters be reused.
  const uint64_t cs = cluster_size();
  auto frees = std::move(pending_free_);
  pending_free_.clear();
  for (const auto& [offset, count] : frees) {
    for (uint64_t c = offset / cs; c < offset / cs + count; ++c) {
      const uint64_t rc = refcount(c);
      if (rc == 0) corrupt("a released cluster already had refcount 0");
      set_refcount(c, rc - 1);
      if (rc == 1) {
        free_hint_ = std::min(free_hint_, c);
        file_.discard(c * cs, cs);
      }
    }
  }
  l2_cache_.trim();
  refblock_cache_.trim();
}

void Qcow2Image::grow(uint64_t new_size) {
  const uint64_t entries = l1_entries_for(new_size, header_.cluster_bits);
  std::unique_lock io(io_lock_);
  if (entries > l1_.size()) {
    flush_metadata();  // every L2 table the new L1 points at is on disk
    const uint64_t cs = cluster_size();
    const uint64_t clusters = div_up(entries * 8, cs);
    bool fresh = false;
    const uint64_t host = alloc_clusters(clusters, fresh);
    AlignedBuffer buf(clusters * cs);
    for (size_t i = 0; i < l1_.size(); ++i) store_be<uint64_t>(buf.span(), i * 8, l1_[i]);
    file_.write_at(host, buf.span());
    flush_metadata();  // the new table and its refcounts are durable before the header
    const uint64_t old_offset = header_.l1_table_offset;
    const uint64_t old_clusters = div_up(l1_.size() * 8, cs);
    l1_.resize(entries, 0);
    header_.l1_size = static_cast<uint32_t>(entries);
    header_.l1_table_offset = host;
    if (old_clusters > 0) pending_free_.emplace_back(old_offset, old_clusters);
  }
  // size, crypt_method, l1_size, l1_table_offset: header bytes 24-47, one write.
  std::byte field[24];
  store_be<uint64_t>(field, 0, new_size);
  store_be<uint32_t>(field, 8, header_.crypt_method);
  store_be<uint32_t>(field, 12, header_.l1_size);
  store_be<uint64_t>(field, 16, header_.l1_table_offset);
  write_header_field(24, field);
  file_.sync();
  header_.size = new_size;
}

void Qcow2Image::create(const std::string& path, const CreateOptions& o) {
  if (o.cluster_size < 512 || o.cluster_size > kMaxClusterSize ||
      (o.cluster_size & (o.cluster_size - 1)) != 0) {
    throw BlockError(path, "cluster_size " + std::to_string(o.cluster_size) +
                               " is invalid (a power of two from 512 to 2M)");
  }
  if (o.version != 2 && o.version != 3) throw BlockError(path, "compat must be 0.10 or 1.1");
  if (o.refcount_bits == 0 || o.refcount_bits > 64 ||
      (o.refcount_bits & (o.refcount_bits - 1)) != 0) {
    throw BlockError(path, "refcount_bits must be a power of two from 1 to 64");
  }
  if (o.version == 2 && o.refcount_bits != 16) {
    throw BlockError(path, "compat=0.10 requires refcount_bits=16");
  }
  Header h;
  h.version = o.version;
  h.cluster_bits = static_cast<uint32_t>(__builtin_ctz(o.cluster_size));
  h.refcount_order = static_cast<uint32_t>(__builtin_ctz(o.refcount_bits));
  if (l1_entries_for(o.size, h.cluster_bits) > kMaxL1Bytes / 8 || o.size > (uint64_t{1} << 62)) {
    throw BlockError(path, "size is too large for the cluster size");
  }
  h.backing_file = o.backing_file;
  h.backing_format = o.backing_format;
  // Cluster 0 the header, 1 the refcount table, 2 the first refcount block.
  const uint64_t cs = o.cluster_size;
  h.refcount_table_offset = cs;
  h.refcount_table_clusters = 1;
  std::vector<std::byte> first;
  try {
    first = build_header(h);
  } catch (const std::invalid_argument& e) {
    throw BlockError(path, e.what());
  }
  AlignedBuffer image(3 * cs);
  std::copy(first.begin(), first.end(), image.data());
  store_be<uint64_t>(image.span(), cs, 2 * cs);
  for (uint64_t c = 0; c < 3; ++c) {
    set_refcount_entry(image.span().subspan(2 * cs), c, h.refcount_order, 1);
  }
  {
    File file = File::create(path, CacheMode::kWriteback);
    try {
      file.write_at(0, image.span());
      file.sync();
    } catch (const IoError& e) {
      throw BlockError(path, e.what());
    }
  }
  auto img = open_layer(File::open(path, true, CacheMode::kWriteback));
  try {
    img->grow(o.size);
  } catch (const IoError& e) {
    throw BlockError(path, e.what());
  }
}

}  // namespace devices::block
