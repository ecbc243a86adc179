// Checked access to guest physical memory.
//
// Every guest-supplied address and length passes through here: each access is checked for
// overflow and containment before any host pointer is formed. GuestMemory does not own the
// host mappings (memory::RamRegion does), so unit tests build one over a plain buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

namespace memory {

// One contiguous range of guest physical addresses backed by contiguous host memory.
struct Region {
  uint64_t gpa = 0;
  std::span<std::byte> host;

  uint64_t size() const { return host.size(); }
  uint64_t end() const { return gpa + host.size(); }
};

class GuestMemory {
 public:
  GuestMemory() = default;
  // Regions must be non-empty, must not wrap the address space and must not overlap;
  // throws std::invalid_argument otherwise. They are kept sorted by address.
  explicit GuestMemory(std::vector<Region> regions);

  // True when every byte of [gpa, gpa + len) is guest RAM (len 0 is never contained).
  bool contains(uint64_t gpa, uint64_t len) const;

  // A host view of [gpa, gpa + len) when it lies inside a single region, else nullopt. For bulk
  // I/O (DMA into a buffer); the guest may change the bytes concurrently, so copy before checking.
  std::optional<std::span<std::byte>> span(uint64_t gpa, uint64_t len) const;

  // Copy between guest RAM and a host buffer. The range may cross adjacent regions; false (and
  // nothing copied) when any byte is outside RAM.
  bool read(uint64_t gpa, std::span<std::byte> out) const;
  bool write(uint64_t gpa, std::span<const std::byte> in) const;

  template <class T>
  std::optional<T> read_obj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    if (!read(gpa, std::as_writable_bytes(std::span(&value, 1)))) return std::nullopt;
    return value;
  }

  template <class T>
  bool write_obj(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(gpa, std::as_bytes(std::span(&value, 1)));
  }

  std::span<const Region> regions() const { return regions_; }
  // Sum of all region sizes.
  uint64_t total_size() const;

 private:
  // Walks [gpa, gpa + len) region by region; fn(host_span, offset_in_request) per piece.
  template <class Fn>
  bool for_each_piece(uint64_t gpa, uint64_t len, Fn&& fn) const;
  const Region* find(uint64_t gpa) const;

  std::vector<Region> regions_;
};

}  // namespace memory
