#include "memory/ram_region.h"

#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

namespace memory {

namespace {

std::system_error errno_error(const std::string& what) {
  return std::system_error(errno, std::generic_category(), what);
}

}  // namespace

RamRegion::RamRegion(uint64_t size, const RamOptions& options) : size_(size) {
  // Without prealloc, pages are only committed when the guest touches them, as with QEMU's
  // prealloc=no; MAP_NORESERVE keeps a large guest from failing on overcommit accounting.
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | (options.prealloc ? 0 : MAP_NORESERVE);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) throw errno_error("mmap of " + std::to_string(size) + " bytes of guest RAM");
  base_ = static_cast<std::byte*>(p);
  try {
    // Transparent huge pages cut TLB misses for the guest; a hint the kernel may ignore.
    madvise(base_, size_, MADV_HUGEPAGE);
    // Guest RAM in a core dump would be huge and private to the guest.
    madvise(base_, size_, MADV_DONTDUMP);
    // The policy must be in place before the first touch, which is when pages get placed.
    if (!options.host_nodes.empty()) bind(options);
    if (options.prealloc) prealloc();
    if (options.mem_lock && mlock(base_, size_) != 0)
      throw errno_error("mlock of guest RAM (mem_lock; check RLIMIT_MEMLOCK)");
  } catch (...) {
    munmap(base_, size_);
    throw;
  }
}

RamRegion::~RamRegion() { munmap(base_, size_); }

void RamRegion::bind(const RamOptions& options) {
  if (numa_available() < 0) throw std::runtime_error("host_nodes given but this host has no NUMA");
  std::unique_ptr<bitmask, decltype(&numa_bitmask_free)> mask(numa_allocate_nodemask(),
                                                              numa_bitmask_free);
  for (int node : options.host_nodes) {
    if (node < 0 || node > numa_max_node())
      throw std::invalid_argument("host NUMA node " + std::to_string(node) + " does not exist");
    numa_bitmask_setbit(mask.get(), node);
  }
  int mode = MPOL_BIND;
  switch (options.policy) {
    case NumaPolicy::kBind:
      mode = MPOL_BIND;
      break;
    case NumaPolicy::kPreferred:
      // MPOL_PREFERRED takes a single node.
      if (options.host_nodes.size() != 1)
        throw std::invalid_argument("policy preferred takes exactly one host node");
      mode = MPOL_PREFERRED;
      break;
    case NumaPolicy::kInterleave:
      mode = MPOL_INTERLEAVE;
      break;
  }
  // maxnode counts bits; the kernel wants one more than the highest bit it may read.
  if (mbind(base_, size_, mode, mask->maskp, mask->size + 1, MPOL_MF_STRICT) != 0)
    throw errno_error("mbind of guest RAM to host nodes");
}

void RamRegion::prealloc() {
  // Faulting in large guests is slow on one thread; split the range over a few threads, each
  // asking the kernel to populate its slice (MADV_POPULATE_WRITE, Linux 5.14) or touching pages.
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t pages = size_ / page;
  const uint64_t threads = std::clamp<uint64_t>(std::thread::hardware_concurrency(), 1, 16);
  const uint64_t per_thread = (pages + threads - 1) / threads;
  std::vector<std::jthread> workers;
  std::vector<int> errors(threads, 0);
  for (uint64_t t = 0; t < threads; ++t) {
    uint64_t first = t * per_thread;
    if (first >= pages) break;
    uint64_t count = std::min(per_thread, pages - first);
    workers.emplace_back([this, first, count, page, &errors, t] {
      std::byte* start = base_ + first * page;
      if (madvise(start, count * page, MADV_POPULATE_WRITE) == 0) return;
      if (errno != EINVAL) {
        errors[t] = errno;  // ENOMEM/EFAULT: the bound nodes cannot hold the guest
        return;
      }
      for (uint64_t i = 0; i < count; ++i) {
        volatile std::byte* b = start + i * page;
        *b = std::byte{0};
      }
    });
  }
  workers.clear();
  for (int e : errors)
    if (e != 0) throw std::system_error(e, std::generic_category(), "prealloc of guest RAM");
}

}  // namespace memory
