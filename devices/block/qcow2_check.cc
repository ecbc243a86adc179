// Qcow2Image::check: rebuild every cluster's reference count from the tables and compare it
// with the stored refcounts, the way 'qemu-img check' does: a stored count below the references
// is corruption, one above is a leak (qcow2.txt "Host cluster management").
#include <algorithm>
#include <cerrno>
#include <sstream>

#include "devices/block/aligned_buffer.h"
#include "devices/block/block_error.h"
#include "devices/block/endian.h"
#include "devices/block/qcow2_image.h"
#include "devices/block/qcow2_layout.h"

namespace devices::block {

using namespace qcow2;

namespace {

std::string hex(uint64_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

// Counts one reference to every cluster touched by [offset, offset + bytes).
void add_refs(std::vector<uint32_t>& refs, uint64_t offset, uint64_t bytes, uint64_t cs,
              CheckResult& r, const char* what) {
  if (bytes == 0) return;
  if (offset >= kMaxHostOffset || bytes > kMaxHostOffset - offset) {
    ++r.corruptions;
    r.messages.push_back(std::string("ERROR ") + what + " at " + hex(offset) +
                         " lies outside any possible image");
    return;
  }
  const uint64_t first = offset / cs;
  const uint64_t last = (offset + bytes - 1) / cs;
  if (last >= refs.size()) {
    // Every cluster in use holds at least one written byte, so it starts inside the file.
    ++r.corruptions;
    r.messages.push_back(std::string("ERROR ") + what + " at " + hex(offset) +
                         " lies past the end of the file");
    return;
  }
  for (uint64_t c = first; c <= last; ++c) refs[c] += refs[c] < UINT32_MAX ? 1 : 0;
}

}  // namespace

void Qcow2Image::check_l2_table(uint64_t offset, bool active, std::vector<uint32_t>& refs,
                                CheckResult& r, std::vector<std::pair<uint64_t, bool>>& copied) {
  const uint64_t cs = cluster_size();
  AlignedBuffer table(cs);
  file_.read_at(offset, table.span());
  for (uint64_t i = 0; i < l2_entries(); ++i) {
    const uint64_t e = load_be<uint64_t>(std::span<const std::byte>(table.span()), i * 8);
    if (e & kL2Compressed) {
      if (e & kL2Copied) {
        ++r.corruptions;
        r.messages.push_back("ERROR compressed cluster with the COPIED flag in L2 table at " +
                             hex(offset));
      }
      const CompressedDescriptor d = decode_compressed(e, header_.cluster_bits);
      add_refs(refs, d.offset & ~uint64_t{511}, d.sectors * 512, cs, r, "compressed cluster");
      continue;
    }
    const uint64_t host = e & kL2OffsetMask;
    if (host == 0) continue;
    if (host % cs != 0) {
      ++r.corruptions;
      r.messages.push_back("ERROR cluster offset " + hex(host) + " in L2 table at " + hex(offset) +
                           " is not aligned");
      continue;
    }
    add_refs(refs, host, cs, cs, r, "data cluster");
    if (active) copied.emplace_back(host, (e & kL2Copied) != 0);
  }
}

void Qcow2Image::check_snapshots(std::vector<uint32_t>& refs, CheckResult& r) {
  const uint64_t cs = cluster_size();
  std::vector<std::pair<uint64_t, bool>> unused;
  uint64_t pos = header_.snapshots_offset;
  for (uint32_t s = 0; s < header_.nb_snapshots; ++s) {
    std::byte fixed[kSnapshotHeaderBytes];
    file_.read_at(pos, fixed);
    const uint64_t l1_offset = load_be<uint64_t>(fixed, 0);
    const uint32_t l1_size = load_be<uint32_t>(fixed, 8);
    const uint16_t id_len = load_be<uint16_t>(fixed, 12);
    const uint16_t name_len = load_be<uint16_t>(fixed, 14);
    const uint32_t extra = load_be<uint32_t>(fixed, 36);
    if (extra > 1024 || l1_size > kMaxL1Bytes / 8 || l1_offset % cs != 0) {
      ++r.corruptions;
      r.messages.push_back("ERROR snapshot " + std::to_string(s) + " has an invalid header");
      return;
    }
    pos += (kSnapshotHeaderBytes + extra + id_len + name_len + 7) / 8 * 8;
    add_refs(refs, l1_offset, uint64_t{l1_size} * 8, cs, r, "snapshot L1 table");
    AlignedBuffer l1(uint64_t{l1_size} * 8);
    file_.read_at(l1_offset, l1.span());
    for (uint32_t i = 0; i < l1_size; ++i) {
      const uint64_t off =
          load_be<uint64_t>(std::span<const std::byte>(l1.span()), i * 8) & kL1OffsetMask;
      if (off == 0 || off % cs != 0) continue;
      add_refs(refs, off, cs, cs, r, "snapshot L2 table");
      check_l2_table(off, false, refs, r, unused);
    }
  }
  add_refs(refs, header_.snapshots_offset, pos - header_.snapshots_offset, cs, r, "snapshot table");
}

CheckResult Qcow2Image::check() {
  std::unique_lock io(io_lock_);
  CheckResult r;
  const uint64_t cs = cluster_size();
  // One counter per cluster of the file; a file of more than 2^27 clusters (8 TiB with 64 KiB
  // clusters) is not checked rather than exhausting memory.
  const uint64_t clusters = (file_.size() + cs - 1) / cs;
  if (clusters > (uint64_t{1} << 27)) {
    throw IoError(EFBIG, file_.path() + ": too many clusters to check");
  }
  std::vector<uint32_t> refs(clusters, 0);
  std::vector<std::pair<uint64_t, bool>> copied;  // (host offset, COPIED flag) of active clusters

  add_refs(refs, 0, cs, cs, r, "header");
  add_refs(refs, header_.l1_table_offset, l1_.size() * 8, cs, r, "L1 table");
  for (const uint64_t entry : l1_) {
    const uint64_t off = entry & kL1OffsetMask;
    if (off == 0) continue;
    if (off % cs != 0) {
      ++r.corruptions;
      r.messages.push_back("ERROR L2 table offset " + hex(off) + " is not aligned");
      continue;
    }
    add_refs(refs, off, cs, cs, r, "L2 table");
    copied.emplace_back(off, (entry & kL1Copied) != 0);
    check_l2_table(off, true, refs, r, copied);
  }
  add_refs(refs, header_.refcount_table_offset, reftable_.size() * 8, cs, r, "refcount table");
  for (const uint64_t entry : reftable_) {
    const uint64_t off = entry & kRefTableOffsetMask;
    if (off == 0) continue;
    if (off % cs != 0) {
      ++r.corruptions;
      r.messages.push_back("ERROR refcount block offset " + hex(off) + " is not aligned");
      continue;
    }
    add_refs(refs, off, cs, cs, r, "refcount block");
  }
  check_snapshots(refs, r);
  if (header_.has_bitmaps_extension) {
    r.messages.push_back("Note: persistent bitmaps are not checked");
  }

  for (uint64_t c = 0; c < refs.size(); ++c) {
    uint64_t stored = 0;
    try {
      stored = refcount(c);
    } catch (const IoError& e) {
      ++r.corruptions;
      r.messages.push_back(std::string("ERROR ") + e.what());
      c = (c / refblock_entries_ + 1) * refblock_entries_ - 1;  // skip the rest of that block
      continue;
    }
    if (stored < refs[c]) {
      ++r.corruptions;
      r.messages.push_back("ERROR cluster " + std::to_string(c) + " refcount=" +
                           std::to_string(stored) + " reference=" + std::to_string(refs[c]));
    } else if (stored > refs[c]) {
      ++r.leaks;
      r.messages.push_back("Leaked cluster " + std::to_string(c) + " refcount=" +
                           std::to_string(stored) + " reference=" + std::to_string(refs[c]));
    }
  }
  for (const auto& [off, flag] : copied) {
    const uint64_t c = off / cs;
    if (c < refs.size() && (refs[c] == 1) != flag) {
      ++r.corruptions;
      r.messages.push_back("ERROR OFLAG_COPIED mismatch for cluster at " + hex(off) +
                           " reference=" + std::to_string(refs[c]));
    }
  }
  return r;
}

}  // namespace devices::block
