#include "memory/guest_memory.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace memory {

GuestMemory::GuestMemory(std::vector<Region> regions) : regions_(std::move(regions)) {
  std::sort(regions_.begin(), regions_.end(),
            [](const Region& a, const Region& b) { return a.gpa < b.gpa; });
  for (size_t i = 0; i < regions_.size(); ++i) {
    const Region& r = regions_[i];
    if (r.size() == 0) throw std::invalid_argument("guest memory region of size 0");
    if (r.gpa + r.size() < r.gpa) throw std::invalid_argument("guest memory region wraps");
    if (i > 0 && regions_[i - 1].end() > r.gpa)
      throw std::invalid_argument("guest memory regions overlap at " + std::to_string(r.gpa));
  }
}

const Region* GuestMemory::find(uint64_t gpa) const {
  // First region whose start is above gpa; the one before it is the candidate.
  auto it = std::upper_bound(regions_.begin(), regions_.end(), gpa,
                             [](uint64_t a, const Region& r) { return a < r.gpa; });
  if (it == regions_.begin()) return nullptr;
  --it;
  return gpa - it->gpa < it->size() ? &*it : nullptr;
}

template <class Fn>
bool GuestMemory::for_each_piece(uint64_t gpa, uint64_t len, Fn&& fn) const {
  if (len == 0 || gpa + len < gpa) return false;
  // Check the whole range first so that a failed access copies nothing.
  uint64_t at = gpa;
  uint64_t left = len;
  while (left > 0) {
    const Region* r = find(at);
    if (r == nullptr) return false;
    uint64_t piece = std::min(left, r->end() - at);
    at += piece;
    left -= piece;
  }
  at = gpa;
  left = len;
  while (left > 0) {
    const Region* r = find(at);
    uint64_t piece = std::min(left, r->end() - at);
    fn(r->host.subspan(at - r->gpa, piece), at - gpa);
    at += piece;
    left -= piece;
  }
  return true;
}

bool GuestMemory::contains(uint64_t gpa, uint64_t len) const {
  return for_each_piece(gpa, len, [](std::span<std::byte>, uint64_t) {});
}

std::optional<std::span<std::byte>> GuestMemory::span(uint64_t gpa, uint64_t len) const {
  if (len == 0 || gpa + len < gpa) return std::nullopt;
  const Region* r = find(gpa);
  if (r == nullptr || len > r->end() - gpa) return std::nullopt;
  return r->host.subspan(gpa - r->gpa, len);
}

bool GuestMemory::read(uint64_t gpa, std::span<std::byte> out) const {
  return for_each_piece(gpa, out.size(), [&](std::span<std::byte> host, uint64_t off) {
    std::memcpy(out.data() + off, host.data(), host.size());
  });
}

bool GuestMemory::write(uint64_t gpa, std::span<const std::byte> in) const {
  return for_each_piece(gpa, in.size(), [&](std::span<std::byte> host, uint64_t off) {
    std::memcpy(host.data(), in.data() + off, host.size());
  });
}

uint64_t GuestMemory::total_size() const {
  uint64_t total = 0;
  for (const Region& r : regions_) total += r.size();
  return total;
}

}  // namespace memory
