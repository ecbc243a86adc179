// The host memory behind one guest NUMA node: an anonymous mapping bound to host NUMA nodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace memory {

enum class NumaPolicy { kBind, kPreferred, kInterleave };

struct RamOptions {
  std::vector<int> host_nodes;  // empty: no binding, the kernel's default policy
  NumaPolicy policy = NumaPolicy::kBind;
  bool prealloc = false;  // fault every page in at start-up
  bool mem_lock = false;  // mlock the mapping
};

class RamRegion {
 public:
  // Throws std::system_error (naming the step: mmap, mbind, mlock, prealloc) on failure.
  RamRegion(uint64_t size, const RamOptions& options);
  ~RamRegion();
  RamRegion(const RamRegion&) = delete;
  RamRegion& operator=(const RamRegion&) = delete;

  std::span<std::byte> bytes() const { return {base_, size_}; }

 private:
  void bind(const RamOptions& options);
  void prealloc();

  std::byte* base_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace memory
