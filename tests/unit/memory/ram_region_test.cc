#include "memory/ram_region.h"

#include <gtest/gtest.h>
#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

namespace {

using memory::RamOptions;
using memory::RamRegion;

TEST(RamRegionTest, MapsZeroedWritableMemory) {
  RamRegion ram(16 << 20, RamOptions{});
  auto bytes = ram.bytes();
  ASSERT_EQ(bytes.size(), 16u << 20);
  EXPECT_EQ(bytes[12345], std::byte{0});
  bytes[bytes.size() - 1] = std::byte{7};
  EXPECT_EQ(bytes.back(), std::byte{7});
}

// Transparent huge pages, and KVM's huge mappings of them, need 2 MiB-aligned guest RAM.
TEST(RamRegionTest, StartsOnAHugePageBoundary) {
  for (uint64_t mib : {2, 6, 64}) {
    RamRegion ram(mib << 20, RamOptions{});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(ram.bytes().data()) % (2 << 20), 0u) << mib << " MiB";
    EXPECT_EQ(ram.bytes().size(), mib << 20);
  }
}

TEST(RamRegionTest, PreallocFaultsInEveryPage) {
  RamOptions options;
  options.prealloc = true;
  RamRegion ram(8 << 20, options);
  // mincore reports residency; every page must be resident right after construction.
  std::vector<unsigned char> resident((8 << 20) / 4096);
  ASSERT_EQ(mincore(ram.bytes().data(), ram.bytes().size(), resident.data()), 0);
  for (unsigned char r : resident) ASSERT_TRUE(r & 1);
}

TEST(RamRegionTest, BindsToTheRequestedNode) {
  ASSERT_GE(numa_available(), 0) << "libnuma reports no NUMA support";
  RamOptions options;
  options.host_nodes = {0};
  options.policy = memory::NumaPolicy::kBind;
  RamRegion ram(4 << 20, options);
  int mode = -1;
  unsigned long mask = 0;
  ASSERT_EQ(get_mempolicy(&mode, &mask, sizeof(mask) * 8, ram.bytes().data(), MPOL_F_ADDR), 0);
  EXPECT_EQ(mode, MPOL_BIND);
  EXPECT_EQ(mask, 1ul);
}

TEST(RamRegionTest, NodeThatDoesNotExistIsAnError) {
  RamOptions options;
  options.host_nodes = {numa_max_node() + 1};
  EXPECT_THROW(RamRegion(4 << 20, options), std::invalid_argument);
}

TEST(RamRegionTest, PreferredTakesOneNode) {
  RamOptions options;
  options.host_nodes = {0, 0};
  options.policy = memory::NumaPolicy::kPreferred;
  EXPECT_THROW(RamRegion(4 << 20, options), std::invalid_argument);
}

TEST(RamRegionTest, HugepagesMapOrFailNamingTheHostSetting) {
  // 2 MiB pages the host has reserved (nr_hugepages) can back the region; with none reserved
  // the error says where to reserve them, instead of a SIGBUS on the guest's first touch.
  long reserved = 0;
  if (FILE* f = std::fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r")) {
    if (std::fscanf(f, "%ld", &reserved) != 1) reserved = 0;
    std::fclose(f);
  }
  RamOptions options;
  options.hugepages = "2M";
  if (reserved >= 2) {
    RamRegion ram(4 << 20, options);
    ram.bytes()[0] = std::byte{1};
    EXPECT_EQ(ram.bytes()[0], std::byte{1});
  } else {
    try {
      RamRegion ram(4 << 20, options);
      FAIL() << "mapped 2M pages the host does not have";
    } catch (const std::system_error& e) {
      EXPECT_NE(std::string(e.what()).find("hugepages-2048kB/nr_hugepages"), std::string::npos)
          << e.what();
    }
  }
}

TEST(RamRegionTest, HugetlbfsPathMustBeUsable) {
  RamOptions options;
  options.hugepages = "/nonexistent-hugetlbfs";
  EXPECT_THROW(RamRegion(4 << 20, options), std::system_error);
}

}  // namespace
