// The host facts config validation checks against (see HostInfo in config.h).
#include <numa.h>
#include <sched.h>

#include <cerrno>
#include <memory>
#include <new>
#include <system_error>

#include "vmm/config.h"

namespace vmm {

HostInfo HostInfo::probe() {
  HostInfo host;
  host.max_node = numa_available() < 0 ? 0 : numa_max_node();
  // The kernel's CPU mask may be wider than glibc's cpu_set_t; sched_getaffinity(2) fails with
  // EINVAL while the buffer is too small, so grow it (bounded: the kernel's NR_CPUS is at most
  // 8192).
  int err = EINVAL;
  for (int n = CPU_SETSIZE; n <= 1 << 16; n *= 2) {
    auto free_set = [](cpu_set_t* set) { CPU_FREE(set); };
    std::unique_ptr<cpu_set_t, decltype(free_set)> set(CPU_ALLOC(n), free_set);
    if (!set) throw std::bad_alloc();
    size_t size = CPU_ALLOC_SIZE(n);
    CPU_ZERO_S(size, set.get());
    if (sched_getaffinity(0, size, set.get()) == 0) {
      for (int cpu = 0; cpu < n; ++cpu) {
        if (CPU_ISSET_S(cpu, size, set.get())) host.allowed_cpus.push_back(cpu);
      }
      return host;
    }
    err = errno;
    if (err != EINVAL) break;
  }
  throw std::system_error(err, std::generic_category(), "sched_getaffinity");
}

}  // namespace vmm
