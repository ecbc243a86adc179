#include "memory/layout.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace {

using memory::compute_layout;
using memory::k4GiB;

constexpr uint64_t MiB = 1ull << 20;
constexpr uint64_t GiB = 1ull << 30;

TEST(LayoutTest, SmallGuestSitsBelow4GiB) {
  std::vector<uint64_t> sizes = {512 * MiB};
  auto l = compute_layout(sizes);
  EXPECT_EQ(l.below_4g, 512 * MiB);
  EXPECT_EQ(l.above_4g, 0u);
  EXPECT_EQ(l.ram_end(), 512 * MiB);
  ASSERT_EQ(l.slots.size(), 1u);
  EXPECT_EQ(l.slots[0].gpa, 0u);
  EXPECT_EQ(l.slots[0].size, 512 * MiB);
}

TEST(LayoutTest, HoleStartsAt3GiBOnceRamReaches3584MiB) {
  // Just below QEMU's threshold everything stays low.
  std::vector<uint64_t> below = {0xE0000000 - 4096};
  EXPECT_EQ(compute_layout(below).below_4g, 0xE0000000 - 4096);
  std::vector<uint64_t> at = {0xE0000000};
  auto l = compute_layout(at);
  EXPECT_EQ(l.below_4g, 3 * GiB);
  EXPECT_EQ(l.above_4g, 512 * MiB);
  EXPECT_EQ(l.pci_hole_start(), 3 * GiB);
  EXPECT_EQ(l.ram_end(), k4GiB + 512 * MiB);
}

TEST(LayoutTest, NodeStraddlingTheHoleIsSplitIntoTwoSlots) {
  // The seed's layout: 16 GiB on node 0 and 104 GiB on node 1.
  std::vector<uint64_t> sizes = {16 * GiB, 104 * GiB};
  auto l = compute_layout(sizes);
  ASSERT_EQ(l.slots.size(), 3u);
  EXPECT_EQ(l.slots[0].gpa, 0u);
  EXPECT_EQ(l.slots[0].size, 3 * GiB);
  EXPECT_EQ(l.slots[0].node, 0u);
  EXPECT_EQ(l.slots[1].gpa, k4GiB);
  EXPECT_EQ(l.slots[1].size, 13 * GiB);
  EXPECT_EQ(l.slots[1].node_offset, 3 * GiB);
  EXPECT_EQ(l.slots[2].gpa, k4GiB + 13 * GiB);
  EXPECT_EQ(l.slots[2].size, 104 * GiB);
  EXPECT_EQ(l.slots[2].node, 1u);
  EXPECT_EQ(l.slots[2].node_offset, 0u);
  EXPECT_EQ(l.ram_end(), k4GiB + 117 * GiB);
}

TEST(LayoutTest, NodesBelowTheHoleAreContiguous) {
  std::vector<uint64_t> sizes = {256 * MiB, 128 * MiB, 128 * MiB};
  auto l = compute_layout(sizes);
  ASSERT_EQ(l.slots.size(), 3u);
  EXPECT_EQ(l.slots[1].gpa, 256 * MiB);
  EXPECT_EQ(l.slots[2].gpa, 384 * MiB);
}

TEST(LayoutTest, RejectsBadSizes) {
  std::vector<uint64_t> none;
  EXPECT_THROW(compute_layout(none), std::invalid_argument);
  std::vector<uint64_t> zero = {0};
  EXPECT_THROW(compute_layout(zero), std::invalid_argument);
  std::vector<uint64_t> odd = {MiB + 1};
  EXPECT_THROW(compute_layout(odd), std::invalid_argument);
  std::vector<uint64_t> overflow = {~0ull & ~4095ull, 4096 * 2};
  EXPECT_THROW(compute_layout(overflow), std::invalid_argument);
}

}  // namespace
