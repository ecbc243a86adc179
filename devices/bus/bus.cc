#include "devices/bus/bus.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>

namespace devices {

bool Bus::fits(uint64_t base, uint64_t len, uint64_t ignore_base, bool ignore) const {
  if (len == 0 || base + len < base) return false;
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && ignore && next->first == ignore_base) ++next;
  if (next != ranges_.end() && next->first < base + len) return false;
  auto it = ranges_.lower_bound(base);
  while (it != ranges_.begin()) {
    --it;
    if (ignore && it->first == ignore_base) continue;
    return it->first + it->second.len <= base;
  }
  return true;
}

void Bus::insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t len) {
  std::unique_lock lock(mutex_);
  if (!fits(base, len, 0, false))
    throw std::invalid_argument("bus range [" + std::to_string(base) + ", +" + std::to_string(len) +
                                ") is empty, wraps or overlaps");
  ranges_.emplace(base, Range{len, std::move(device)});
}

bool Bus::remove(uint64_t base) {
  std::unique_lock lock(mutex_);
  return ranges_.erase(base) == 1;
}

bool Bus::move(uint64_t old_base, uint64_t new_base) {
  std::unique_lock lock(mutex_);
  auto it = ranges_.find(old_base);
  if (it == ranges_.end()) return false;
  if (old_base == new_base) return true;
  if (!fits(new_base, it->second.len, old_base, true)) return false;
  Range range = std::move(it->second);
  ranges_.erase(it);
  ranges_.emplace(new_base, std::move(range));
  return true;
}

Bus::Target Bus::lookup(uint64_t addr, uint64_t len) const {
  std::shared_lock lock(mutex_);
  if (len == 0 || addr + len < addr) return {};
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return {};
  --it;
  uint64_t offset = addr - it->first;
  if (offset >= it->second.len || len > it->second.len - offset) return {};
  return {it->second.device, offset};
}

bool Bus::read(uint64_t addr, std::span<std::byte> data) const {
  // The lock is released before the device runs: a device may move its own range.
  Target t = lookup(addr, data.size());
  if (!t.device) {
    std::fill(data.begin(), data.end(), std::byte{0});
    return false;
  }
  t.device->read(t.offset, data);
  return true;
}

bool Bus::write(uint64_t addr, std::span<const std::byte> data) const {
  Target t = lookup(addr, data.size());
  if (!t.device) return false;
  t.device->write(t.offset, data);
  return true;
}

}  // namespace devices
