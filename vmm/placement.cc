#include "vmm/placement.h"

#include <algorithm>
#include <sstream>

namespace vmm {

namespace {

std::string policy_name(NumaPolicy p) {
  switch (p) {
    case NumaPolicy::kBind:
      return "bind";
    case NumaPolicy::kPreferred:
      return "preferred";
    case NumaPolicy::kInterleave:
      return "interleave";
  }
  return "?";
}

std::string join(const std::vector<int>& v) {
  std::string out;
  for (int x : v) out += (out.empty() ? "" : ",") + std::to_string(x);
  return out;
}

}  // namespace

std::string placement_report(const Config& config, const std::function<int(int)>& node_of_cpu) {
  std::ostringstream out;
  const auto& numa = config.memory.numa;
  out << "placement of " << config.name << ": " << config.cpus.count << " vCPUs ("
      << config.cpus.sockets << " sockets x " << config.cpus.cores << " cores x "
      << config.cpus.threads << " threads), " << (config.memory.size >> 20) << " MiB\n";
  auto guest_node_of = [&](uint32_t vcpu) -> int {
    for (const auto& n : numa)
      if (std::find(n.cpus.begin(), n.cpus.end(), vcpu) != n.cpus.end())
        return static_cast<int>(n.node);
    return 0;
  };
  for (uint32_t i = 0; i < config.cpus.count; ++i) {
    out << "  vCPU " << i << ": ";
    if (config.cpus.pin) {
      int cpu = (*config.cpus.pin)[i];
      out << "host CPU " << cpu << " (host node " << node_of_cpu(cpu) << ")";
    } else {
      out << "host CPU unpinned";
    }
    out << ", guest node " << guest_node_of(i) << "\n";
  }
  if (numa.empty()) {
    out << "  guest node 0: " << (config.memory.size >> 20)
        << " MiB, host nodes any (no binding)\n";
  }
  for (const auto& n : numa) {
    out << "  guest node " << n.node << ": " << (n.size >> 20) << " MiB, host nodes "
        << (n.host_nodes.empty() ? "any (no binding)"
                                 : join(n.host_nodes) + " (" + policy_name(n.policy) + ")")
        << (n.prealloc ? ", preallocated" : "")
        << (n.hugepages.empty() ? "" : ", hugepages " + n.hugepages) << "\n";
  }
  if (config.cpus.emulator_pin) {
    out << "  emulator threads: host CPUs " << join(*config.cpus.emulator_pin) << "\n";
  }
  if (config.cpus.pin) {
    for (uint32_t i = 0; i < config.cpus.count; ++i) {
      int cpu = (*config.cpus.pin)[i];
      int host_node = node_of_cpu(cpu);
      for (const auto& n : numa) {
        if (std::find(n.cpus.begin(), n.cpus.end(), i) == n.cpus.end() || n.host_nodes.empty())
          continue;
        if (std::find(n.host_nodes.begin(), n.host_nodes.end(), host_node) == n.host_nodes.end())
          out << "warning: vCPU " << i << " runs on host CPU " << cpu << " (host node " << host_node
              << ") but its guest node " << n.node << " is bound to host nodes "
              << join(n.host_nodes) << "\n";
      }
    }
  }
  return out.str();
}

}  // namespace vmm
