#include "memory/guest_memory.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace {

using memory::GuestMemory;
using memory::Region;

// Two regions with a hole between them, and a third adjacent to the second.
class GuestMemoryTest : public ::testing::Test {
 protected:
  std::vector<std::byte> low_ = std::vector<std::byte>(0x1000);
  std::vector<std::byte> high_ = std::vector<std::byte>(0x1000);
  std::vector<std::byte> next_ = std::vector<std::byte>(0x1000);
  GuestMemory mem_{{Region{0x10000, high_}, Region{0, low_}, Region{0x11000, next_}}};
};

TEST_F(GuestMemoryTest, ContainsChecksEveryByte) {
  EXPECT_TRUE(mem_.contains(0, 0x1000));
  EXPECT_FALSE(mem_.contains(0, 0x1001));  // runs into the hole
  EXPECT_FALSE(mem_.contains(0x2000, 1));
  EXPECT_TRUE(mem_.contains(0x10ff0, 0x20));  // crosses into the adjacent region
  EXPECT_FALSE(mem_.contains(0x11fff, 2));    // runs past the end of RAM
  EXPECT_FALSE(mem_.contains(0, 0));
}

TEST_F(GuestMemoryTest, RejectsWrappingRanges) {
  uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_FALSE(mem_.contains(max, 2));
  EXPECT_FALSE(mem_.contains(0x10000, max));
  std::array<std::byte, 4> buf{};
  EXPECT_FALSE(mem_.read(max - 1, buf));
  EXPECT_FALSE(mem_.span(0x10, max).has_value());
}

TEST_F(GuestMemoryTest, ReadWriteRoundTripAcrossAdjacentRegions) {
  std::array<std::byte, 32> in{};
  for (size_t i = 0; i < in.size(); ++i) in[i] = std::byte(i + 1);
  ASSERT_TRUE(mem_.write(0x10ff0, in));
  EXPECT_EQ(high_[0xff0], std::byte{1});
  EXPECT_EQ(next_[0xf], std::byte{32});
  std::array<std::byte, 32> out{};
  ASSERT_TRUE(mem_.read(0x10ff0, out));
  EXPECT_EQ(in, out);
}

TEST_F(GuestMemoryTest, FailedWriteCopiesNothing) {
  std::vector<std::byte> in(0x20, std::byte{0xaa});
  EXPECT_FALSE(mem_.write(0xff0, in));  // tail falls into the hole
  EXPECT_EQ(low_[0xff0], std::byte{0});
}

TEST_F(GuestMemoryTest, SpanMustFitOneRegion) {
  auto s = mem_.span(0x10100, 0x100);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->data(), high_.data() + 0x100);
  EXPECT_FALSE(mem_.span(0x10ff0, 0x20).has_value());
  EXPECT_FALSE(mem_.span(0x5000, 1).has_value());
}

TEST_F(GuestMemoryTest, ObjectAccessors) {
  ASSERT_TRUE(mem_.write_obj<uint32_t>(0x10, 0xdeadbeef));
  EXPECT_EQ(mem_.read_obj<uint32_t>(0x10), 0xdeadbeefu);
  EXPECT_FALSE(mem_.read_obj<uint64_t>(0xffc).has_value());
  EXPECT_FALSE(mem_.write_obj<uint64_t>(0x12000, 1));
}

TEST_F(GuestMemoryTest, TotalSize) { EXPECT_EQ(mem_.total_size(), 0x3000u); }

TEST(GuestMemoryConstruction, RejectsOverlapAndEmptyRegions) {
  std::vector<std::byte> a(0x1000), b(0x1000);
  EXPECT_THROW(GuestMemory({Region{0, a}, Region{0x800, b}}), std::invalid_argument);
  EXPECT_THROW(GuestMemory({Region{0, std::span<std::byte>()}}), std::invalid_argument);
  EXPECT_THROW(GuestMemory({Region{std::numeric_limits<uint64_t>::max() - 0x10, a}}),
               std::invalid_argument);
}

}  // namespace
