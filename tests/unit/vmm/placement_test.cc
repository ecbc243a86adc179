#include "vmm/placement.h"

#include <gtest/gtest.h>

namespace {

using vmm::Config;

// The seed's machine on a host whose CPUs 48-55 sit on node 0 and 56-63 on node 3.
Config seed() {
  Config c;
  c.name = "vm0";
  c.cpus.count = 4;
  c.cpus.sockets = 4;
  c.cpus.pin = std::vector<int>{48, 49, 56, 57};
  c.memory.size = 3ull << 30;
  vmm::NumaNodeConfig n0;
  n0.node = 0;
  n0.size = 1ull << 30;
  n0.host_nodes = {0};
  n0.cpus = {0, 2};
  vmm::NumaNodeConfig n1;
  n1.node = 1;
  n1.size = 2ull << 30;
  n1.host_nodes = {3};
  n1.policy = vmm::NumaPolicy::kInterleave;
  n1.cpus = {1, 3};
  c.memory.numa = {n0, n1};
  return c;
}

int node_of(int cpu) { return cpu < 56 ? 0 : 3; }

TEST(PlacementTest, ListsEveryVcpuAndNode) {
  std::string r = vmm::placement_report(seed(), node_of);
  EXPECT_NE(r.find("vCPU 0: host CPU 48 (host node 0), guest node 0\n"), std::string::npos) << r;
  EXPECT_NE(r.find("vCPU 3: host CPU 57 (host node 3), guest node 1\n"), std::string::npos) << r;
  EXPECT_NE(r.find("guest node 0: 1024 MiB, host nodes 0 (bind)\n"), std::string::npos) << r;
  EXPECT_NE(r.find("guest node 1: 2048 MiB, host nodes 3 (interleave)\n"), std::string::npos) << r;
}

TEST(PlacementTest, WarnsForEveryVcpuAwayFromItsMemory) {
  std::string r = vmm::placement_report(seed(), node_of);
  // vCPU 1 runs on node 0 but its memory is on node 3; vCPU 2 the other way round.
  EXPECT_NE(r.find("warning: vCPU 1 runs on host CPU 49 (host node 0) but its guest node 1 is "
                   "bound to host nodes 3"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("warning: vCPU 2 runs on host CPU 56"), std::string::npos) << r;
  EXPECT_EQ(r.find("warning: vCPU 0"), std::string::npos) << r;
  EXPECT_EQ(r.find("warning: vCPU 3"), std::string::npos) << r;
}

TEST(PlacementTest, UnpinnedAndUnboundSayWhat) {
  Config c;
  c.cpus.count = 1;
  c.memory.size = 512ull << 20;
  std::string r = vmm::placement_report(c, node_of);
  EXPECT_NE(r.find("vCPU 0: host CPU unpinned, guest node 0"), std::string::npos) << r;
  EXPECT_NE(r.find("guest node 0: 512 MiB, host nodes any (no binding)"), std::string::npos) << r;
  EXPECT_EQ(r.find("warning"), std::string::npos) << r;
}

}  // namespace
