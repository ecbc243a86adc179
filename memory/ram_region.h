// The host memory behind one guest NUMA node: an anonymous mapping bound to host NUMA nodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace memory {

enum class NumaPolicy { kBind, kPreferred, kInterleave };

struct RamOptions {
  std::vector<int> host_nodes;  // empty: no binding, the kernel's default policy
  NumaPolicy policy = NumaPolicy::kBind;
  bool prealloc = false;  // fault every page in at start-up
  bool mem_lock = false;  // mlock the mapping
  // "" for normal pages, "2M" or "1G" for anonymous huge pages of that size, or the path of a
  // hugetlbfs mount to back the region with a file there.
  std::string hugepages;
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
  void map(const RamOptions& options);
  void bind(const RamOptions& options);
  void prealloc(const std::vector<int>& host_nodes);

  std::byte* base_ = nullptr;
  uint64_t size_ = 0;
  uint64_t head_guard_ = 0;  // inaccessible bytes mapped below base_ (see map())
};

}  // namespace memory
