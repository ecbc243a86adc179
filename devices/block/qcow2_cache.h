// A cache of one-cluster qcow2 metadata tables (L2 tables, refcount blocks), keyed by their host
// offset, write-back: the engine marks a table dirty and writes it at flush time, in the order
// the crash-consistency rules need (qcow2_image.cc, flush_metadata).
//
// Eviction only drops clean tables. When every table is dirty the cache grows past its capacity
// and the engine flushes (over_capacity()), so a reader never has to write metadata.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "devices/block/aligned_buffer.h"

namespace devices::block::qcow2 {

class TableCache {
 public:
  struct Table {
    uint64_t offset = 0;
    AlignedBuffer data;
    bool dirty = false;
  };

  explicit TableCache(size_t capacity);

  // The cached table at `offset` (made most recently used), or nullptr.
  Table* find(uint64_t offset);
  // Caches `data` as the table at `offset`, which must not be cached yet; evicts a clean table
  // when full.
  Table& insert(uint64_t offset, AlignedBuffer data);
  bool contains(uint64_t offset) const { return index_.count(offset) != 0; }
  bool over_capacity() const { return index_.size() > capacity_; }
  // Drops every clean table beyond the capacity (after a flush made them clean).
  void trim();
  std::vector<Table*> dirty_tables();
  bool any_dirty() const;

 private:
  size_t capacity_;
  std::list<Table> lru_;  // front: most recently used
  std::unordered_map<uint64_t, std::list<Table>::iterator> index_;
};

}  // namespace devices::block::qcow2
