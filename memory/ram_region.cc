#include "memory/ram_region.h"

#include <linux/mman.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
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
  map(options);
  try {
    if (options.hugepages.empty()) {
      // Transparent huge pages cut TLB misses for the guest; a hint the kernel may ignore.
      madvise(base_, size_, MADV_HUGEPAGE);
    }
    // Guest RAM in a core dump would be huge and private to the guest.
    madvise(base_, size_, MADV_DONTDUMP);
    // The policy must be in place before the first touch, which is when pages get placed.
    if (!options.host_nodes.empty()) bind(options);
    if (options.prealloc) prealloc(options.host_nodes);
    if (options.mem_lock && mlock(base_, size_) != 0)
      throw errno_error("mlock of guest RAM (mem_lock; check RLIMIT_MEMLOCK)");
  } catch (...) {
    munmap(base_ - head_guard_, size_ + head_guard_);
    throw;
  }
}

void RamRegion::map(const RamOptions& options) {
  const std::string& huge = options.hugepages;
  void* p = MAP_FAILED;
  if (huge.empty()) {
    // Without prealloc, pages are only committed when the guest touches them, as with QEMU's
    // prealloc=no; MAP_NORESERVE keeps a large guest from failing on overcommit accounting.
    // Transparent huge pages need 2 MiB-aligned addresses, which mmap does not promise, and KVM
    // maps a huge page into the guest only where the host address and the guest's agree modulo
    // 2 MiB (the layout's slots start on 2 MiB boundaries). So map 2 MiB more and trim: without
    // it every 4 KiB the guest touches first is a separate fault, 30000 of them in a Linux boot.
    // At least a page below stays mapped, inaccessible: the kernel places later mappings (thread
    // stacks) right under ours, and a stack ending on a 2 MiB boundary gets a huge page at its
    // first touch, 2 MiB of RSS for a few KiB of stack.
    constexpr uint64_t kAlign = 2 << 20;
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (options.prealloc ? 0 : MAP_NORESERVE);
    p = mmap(nullptr, size_ + kAlign + page, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
      throw errno_error("mmap of " + std::to_string(size_) + " bytes of guest RAM");
    const auto start = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (start + page + kAlign - 1) & ~(kAlign - 1);
    head_guard_ = aligned - start;
    mprotect(p, head_guard_, PROT_NONE);
    munmap(reinterpret_cast<void*>(aligned + size_), start + kAlign + page - aligned);
    p = reinterpret_cast<void*>(aligned);
  } else if (huge == "2M" || huge == "1G") {
    // Huge pages are reserved at mmap time (no MAP_NORESERVE), so a host without enough of them
    // fails here with a clear error instead of a SIGBUS when the guest touches the memory.
    int size_flag = huge == "2M" ? MAP_HUGE_2MB : MAP_HUGE_1GB;
    p = mmap(nullptr, size_, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | size_flag, -1, 0);
    if (p == MAP_FAILED) {
      const char* dir = huge == "2M" ? "hugepages-2048kB" : "hugepages-1048576kB";
      throw errno_error("hugepages \"" + huge + "\": the host cannot give " +
                        std::to_string(size_ >> 20) + " MiB of " + huge +
                        " pages (see /sys/kernel/mm/hugepages/" + dir + "/nr_hugepages)");
    }
  } else {
    // A file in a hugetlbfs mount, unlinked at once so that it goes with the mapping.
    std::string path = huge + "/minivmm-XXXXXX";
    int fd = mkstemp(path.data());
    if (fd < 0) throw errno_error("hugepages: cannot create a file in " + huge);
    unlink(path.c_str());
    if (ftruncate(fd, static_cast<off_t>(size_)) == 0)
      p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED)
      throw std::system_error(err, std::generic_category(),
                              "hugepages: cannot map " + std::to_string(size_ >> 20) +
                                  " MiB from " + huge + " (is it a hugetlbfs mount with room?)");
  }
  base_ = static_cast<std::byte*>(p);
}

RamRegion::~RamRegion() { munmap(base_ - head_guard_, size_ + head_guard_); }

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

void RamRegion::prealloc(const std::vector<int>& host_nodes) {
  // Faulting in large guests is slow on one thread; split the range over a few threads, each
  // asking the kernel to populate its slice (MADV_POPULATE_WRITE, Linux 5.14) or touching pages.
  // When the region is bound, the threads run on the bound nodes' CPUs: clearing pages there is
  // local, and the node's memory bandwidth does the work.
  std::vector<int> cpus;
  for (int node : host_nodes) {
    std::unique_ptr<bitmask, decltype(&numa_bitmask_free)> mask(numa_allocate_cpumask(),
                                                                numa_bitmask_free);
    if (numa_node_to_cpus(node, mask.get()) != 0) continue;
    for (unsigned cpu = 0; cpu < mask->size; ++cpu)
      if (numa_bitmask_isbitset(mask.get(), cpu)) cpus.push_back(static_cast<int>(cpu));
  }
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
    std::erase_if(cpus, [&](int cpu) { return !CPU_ISSET(cpu, &allowed); });

  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t pages = size_ / page;
  const uint64_t threads =
      std::clamp<uint64_t>(cpus.empty() ? std::thread::hardware_concurrency() : cpus.size(), 1, 16);
  const uint64_t per_thread = (pages + threads - 1) / threads;
  std::vector<std::jthread> workers;
  std::vector<int> errors(threads, 0);
  for (uint64_t t = 0; t < threads; ++t) {
    uint64_t first = t * per_thread;
    if (first >= pages) break;
    uint64_t count = std::min(per_thread, pages - first);
    std::optional<int> cpu;
    if (!cpus.empty()) cpu = cpus[t % cpus.size()];
    workers.emplace_back([this, first, count, page, cpu, &errors, t] {
      if (cpu) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(*cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
      }
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
