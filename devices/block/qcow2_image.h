// The qcow2 engine (QEMU docs/interop/qcow2.txt), versions 2 and 3.
//
// Locking: reads, and writes that land in clusters already owned (refcount 1, COPIED flag), hold
// io_lock_ shared and take meta_lock_ only to translate offsets, so they run in parallel. Anything
// that allocates or changes the mapping holds io_lock_ exclusively.
//
// Crash consistency (the order flush_metadata() keeps): guest data goes straight to its new
// cluster; L2 tables and refcount blocks are written back at flush time: refcount blocks first,
// fdatasync, then L2 tables, fdatasync, then the L1 table if it changed, fdatasync. So data and
// refcounts are durable before any L2 entry pointing at them, and a crash leaves at worst leaked
// clusters. Clusters released by discard or copy-on-write keep their refcount until the flush has
// made the L2 change durable, so no cluster is reused while an on-disk L2 entry still points at it.
//
// Dirty bit (lazy refcounts): an image with it set opens read-only only; opening it for writing
// is refused (repair it with 'qemu-img check -r all'). This engine never sets the bit.
// Internal snapshots: readable; writing to an image that has any is refused.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "devices/block/file.h"
#include "devices/block/image.h"
#include "devices/block/qcow2_cache.h"
#include "devices/block/qcow2_header.h"

namespace devices::block {

struct CheckResult {
  uint64_t corruptions = 0;
  uint64_t leaks = 0;
  std::vector<std::string> messages;  // one line per problem found
};

class Qcow2Image final : public Image {
 public:
  // Opens the backing file named in the header: (path as resolved against this image's folder,
  // format from the header extension or "" to probe). Returns a read-only image.
  using BackingOpener =
      std::function<std::unique_ptr<Image>(const std::string& path, const std::string& format)>;

  struct CreateOptions {
    uint64_t size = 0;
    uint32_t cluster_size = 65536;
    uint32_t version = 3;
    uint32_t refcount_bits = 16;
    std::string backing_file;    // as written into the header
    std::string backing_format;  // "" to leave the extension out
  };

  // Throws BlockError naming the path and the problem.
  static std::unique_ptr<Qcow2Image> open(File file, const BackingOpener& open_backing);
  static void create(const std::string& path, const CreateOptions& options);

  ~Qcow2Image() override;

  std::string_view format() const override { return "qcow2"; }
  uint64_t size() const override { return header_.size; }
  bool read_only() const override { return !file_.writable(); }
  const qcow2::Header& header() const { return header_; }
  const Image* backing() const { return backing_.get(); }

  void readv(uint64_t offset, ReadVec iov) override;
  void writev(uint64_t offset, WriteVec iov) override;
  void flush() override;
  void discard(uint64_t offset, uint64_t length) override;
  void write_zeroes(uint64_t offset, uint64_t length) override;

  // Recomputes every cluster's references from the tables and compares them with the refcounts
  // (as 'qemu-img check' does, without repairing). Reads the file, not the cache: flush first.
  CheckResult check();

  Qcow2Image(File file, qcow2::Header header);

 private:
  enum class Kind { kUnallocated, kZero, kNormal, kCompressed };
  struct Mapping {
    Kind kind = Kind::kUnallocated;
    uint64_t host = 0;   // kNormal: host offset of the first byte; kCompressed: the L2 entry
    uint64_t bytes = 0;  // guest bytes covered, contiguous on the host for kNormal
    bool copied = false;
  };
  using Table = qcow2::TableCache::Table;

  void load_tables();
  void open_for_write();
  uint64_t cluster_size() const { return header_.cluster_size(); }
  uint64_t l2_entries() const { return cluster_size() / 8; }

  // Mapping of guest [offset, offset + max_bytes), stopping at the end of an L2 table or where
  // the kind or host contiguity changes. Caller holds meta_lock_ or io_lock_ exclusively.
  Mapping map(uint64_t offset, uint64_t max_bytes);
  Kind classify(uint64_t l2_entry, uint64_t& host) const;
  Table* l2_table(uint64_t l1_index);
  Table& l2_table_for_write(uint64_t l1_index);
  Table& load_table(qcow2::TableCache& cache, uint64_t offset, const char* what);
  void check_metadata_offset(uint64_t offset, const char* what);
  [[noreturn]] void corrupt(const std::string& why);

  void read_mapped(uint64_t guest, const Mapping& m, const IoVector& dst);
  void read_backing(uint64_t guest, const IoVector& dst);
  void read_compressed(uint64_t l2_entry, std::span<std::byte> cluster);
  // The current contents of guest cluster bytes [guest, guest + dst.size()), whatever the kind.
  void read_old(uint64_t guest, std::span<std::byte> dst);

  bool try_write_in_place(uint64_t offset, const IoVector& src);
  void write_allocating(uint64_t offset, const IoVector& src);
  void write_run(uint64_t offset, const IoVector& src, Table& l2, uint64_t first_index);
  void set_l2(Table& l2, uint64_t index, uint64_t entry);
  void release(uint64_t l2_entry);
  void zero_or_discard(uint64_t offset, uint64_t length, bool zero);

  // Refcounts (qcow2.txt "Host cluster management").
  uint64_t refcount(uint64_t cluster);
  void set_refcount(uint64_t cluster, uint64_t value);
  Table* refblock(uint64_t table_index);
  // Claims `count` contiguous free clusters (refcount 1) and returns the host offset of the
  // first; `fresh` tells that they lie past everything ever written, so they read as zeros.
  uint64_t alloc_clusters(uint64_t count, bool& fresh);
  void grow_refcount_table(uint64_t min_entries);
  // Sets the virtual size, growing the L1 table as needed (new images start at size 0).
  void grow(uint64_t new_size);
  static std::unique_ptr<Qcow2Image> open_layer(File file);
  void check_new_cluster(uint64_t offset, uint64_t bytes);

  void flush_metadata();
  void check_l2_table(uint64_t offset, bool active, std::vector<uint32_t>& refs, CheckResult& r,
                      std::vector<std::pair<uint64_t, bool>>& copied);
  void check_snapshots(std::vector<uint32_t>& refs, CheckResult& r);
  void write_header_field(uint64_t offset, std::span<const std::byte> bytes);

  File file_;
  qcow2::Header header_;
  std::unique_ptr<Image> backing_;
  uint64_t refblock_entries_;

  std::shared_mutex io_lock_;
  std::mutex meta_lock_;
  std::vector<uint64_t> l1_;
  std::vector<uint64_t> reftable_;
  qcow2::TableCache l2_cache_;
  qcow2::TableCache refblock_cache_;
  bool l1_dirty_ = false;
  bool reftable_dirty_ = false;
  std::atomic<bool> corrupt_ = false;
  uint64_t free_hint_ = 0;  // no free cluster below this index
  uint64_t fresh_from_;     // bytes at and past this offset were never written: they read as zero
  // Clusters (host offset, count) to release once the flush has made their unmapping durable.
  std::vector<std::pair<uint64_t, uint64_t>> pending_free_;
};

}  // namespace devices::block
