#include "devices/block/qcow2_cache.h"

#include <algorithm>

namespace devices::block::qcow2 {

TableCache::TableCache(size_t capacity) : capacity_(capacity) {}

TableCache::Table* TableCache::find(uint64_t offset) {
  const auto it = index_.find(offset);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &*it->second;
}

TableCache::Table& TableCache::insert(uint64_t offset, AlignedBuffer data) {
  if (index_.size() >= capacity_) trim();
  lru_.push_front(Table{offset, std::move(data), false});
  index_[offset] = lru_.begin();
  return lru_.front();
}

void TableCache::trim() {
  // Walk from the least recently used end, dropping clean tables until under capacity.
  for (auto it = lru_.end(); it != lru_.begin() && index_.size() >= capacity_;) {
    --it;
    if (!it->dirty) {
      index_.erase(it->offset);
      it = lru_.erase(it);
    }
  }
}

std::vector<TableCache::Table*> TableCache::dirty_tables() {
  std::vector<Table*> out;
  for (auto& t : lru_) {
    if (t.dirty) out.push_back(&t);
  }
  // Ascending offsets: the writes go out in file order.
  std::sort(out.begin(), out.end(),
            [](const Table* a, const Table* b) { return a->offset < b->offset; });
  return out;
}

bool TableCache::any_dirty() const {
  return std::any_of(lru_.begin(), lru_.end(), [](const Table& t) { return t.dirty; });
}

}  // namespace devices::block::qcow2
