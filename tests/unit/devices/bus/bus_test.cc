#include "devices/bus/bus.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <limits>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using devices::Bus;
using devices::BusDevice;

// Answers reads with its offset and records the last write.
class EchoDevice : public BusDevice {
 public:
  void read(uint64_t offset, std::span<std::byte> data) override {
    for (auto& b : data) b = std::byte(offset & 0xff);
    ++reads;
  }
  void write(uint64_t offset, std::span<const std::byte> data) override {
    last_offset = offset;
    last_size = data.size();
  }
  std::atomic<int> reads{0};
  uint64_t last_offset = ~0ull;
  size_t last_size = 0;
};

TEST(BusTest, DispatchesWithOffsetRelativeToBase) {
  Bus bus;
  auto dev = std::make_shared<EchoDevice>();
  bus.insert(dev, 0x3f8, 8);
  std::array<std::byte, 1> b{};
  EXPECT_TRUE(bus.read(0x3fd, b));
  EXPECT_EQ(b[0], std::byte{5});
  std::array<std::byte, 2> w{};
  EXPECT_TRUE(bus.write(0x3fe, w));
  EXPECT_EQ(dev->last_offset, 6u);
  EXPECT_EQ(dev->last_size, 2u);
}

TEST(BusTest, UnclaimedReadsAreZeroFilled) {
  Bus bus;
  std::array<std::byte, 4> b;
  b.fill(std::byte{0xcc});
  EXPECT_FALSE(bus.read(0x80, b));
  for (auto x : b) EXPECT_EQ(x, std::byte{0});
  EXPECT_FALSE(bus.write(0x80, b));
}

TEST(BusTest, AccessMustFitOneRange) {
  Bus bus;
  auto dev = std::make_shared<EchoDevice>();
  bus.insert(dev, 0x100, 4);
  std::array<std::byte, 4> b{};
  EXPECT_FALSE(bus.read(0x102, b));  // straddles the end
  EXPECT_FALSE(bus.write(0xfe, b));  // straddles the start
  EXPECT_EQ(dev->reads, 0);
  EXPECT_FALSE(bus.read(std::numeric_limits<uint64_t>::max() - 1, b));
}

TEST(BusTest, RejectsZeroLengthWrappingAndOverlappingRanges) {
  Bus bus;
  auto dev = std::make_shared<EchoDevice>();
  bus.insert(dev, 0x100, 0x10);
  EXPECT_THROW(bus.insert(dev, 0x200, 0), std::invalid_argument);
  EXPECT_THROW(bus.insert(dev, std::numeric_limits<uint64_t>::max() - 1, 4), std::invalid_argument);
  EXPECT_THROW(bus.insert(dev, 0x10f, 1), std::invalid_argument);
  EXPECT_THROW(bus.insert(dev, 0xf8, 0x10), std::invalid_argument);
  EXPECT_THROW(bus.insert(dev, 0x0, 0x1000), std::invalid_argument);
  EXPECT_NO_THROW(bus.insert(dev, 0x110, 0x10));  // adjacent is fine
  EXPECT_NO_THROW(bus.insert(dev, 0xf0, 0x10));
}

TEST(BusTest, MoveRelocatesARange) {
  Bus bus;
  auto a = std::make_shared<EchoDevice>();
  auto b = std::make_shared<EchoDevice>();
  bus.insert(a, 0x1000, 0x100);
  bus.insert(b, 0x3000, 0x100);
  EXPECT_FALSE(bus.move(0x1000, 0x2f80));  // would overlap b
  EXPECT_FALSE(bus.move(0x5000, 0x6000));  // no such range
  EXPECT_TRUE(bus.move(0x1000, 0x1080));   // overlapping its own old place is fine
  std::array<std::byte, 1> x{};
  EXPECT_FALSE(bus.read(0x1000, x));
  EXPECT_TRUE(bus.read(0x1080, x));
  EXPECT_EQ(a->reads, 1);
  EXPECT_TRUE(bus.remove(0x1080));
  EXPECT_FALSE(bus.remove(0x1080));
}

// A device that moves its own range while running: the bus must not hold its lock then.
class SelfMovingDevice : public BusDevice {
 public:
  explicit SelfMovingDevice(Bus& bus) : bus_(bus) {}
  void read(uint64_t, std::span<std::byte>) override { moved = bus_.move(0x10, 0x20); }
  void write(uint64_t, std::span<const std::byte>) override {}
  bool moved = false;

 private:
  Bus& bus_;
};

TEST(BusTest, DeviceMayReprogramTheBusWhileRunning) {
  Bus bus;
  auto dev = std::make_shared<SelfMovingDevice>(bus);
  bus.insert(dev, 0x10, 4);
  std::array<std::byte, 1> x{};
  EXPECT_TRUE(bus.read(0x10, x));
  EXPECT_TRUE(dev->moved);
}

TEST(BusTest, ConcurrentAccessFromManyThreads) {
  Bus bus;
  auto dev = std::make_shared<EchoDevice>();
  bus.insert(dev, 0x0, 0x10);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      std::array<std::byte, 1> x{};
      for (int i = 0; i < 1000; ++i) bus.read(i % 0x10, x);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(dev->reads, 4000);
}

}  // namespace
