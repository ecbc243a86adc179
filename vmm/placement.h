// The placement report: where every vCPU runs and where every guest node's memory lives, printed
// at start-up (stderr) and alone by --dry-run, so that a pinning experiment can be checked
// before it runs.
#pragma once

#include <functional>
#include <string>

#include "vmm/config.h"

namespace vmm {

// `node_of_cpu` maps a host CPU to its host NUMA node (numa_node_of_cpu on a real host). Lines
// starting with "warning:" flag each vCPU whose guest node's memory is bound to host nodes that
// do not include its host CPU's node: its memory accesses cross the host interconnect.
std::string placement_report(const Config& config, const std::function<int(int)>& node_of_cpu);

}  // namespace vmm
