#include "devices/pci/pci_root.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/devices/pci/port_io.h"

namespace {

using devices::Bus;
using devices::pci::BarKind;
using devices::pci::ConfigSpace;
using devices::pci::PciDevice;
using devices::pci::PciRoot;
using pci_test::config_in;
using pci_test::config_out;
using pci_test::in;
using pci_test::out;
namespace pci = devices::pci;

// A function with an I/O BAR0 (32 bytes), a 32-bit memory BAR1 (4 KiB) and a 64-bit memory
// BAR2 (16 KiB). BAR reads answer with the offset's low byte; writes are recorded.
class TestFunction : public PciDevice {
 public:
  explicit TestFunction(uint16_t device_id = 0x1000) : PciDevice(make_config(device_id)) {}

  void bar_read(int bar, uint64_t offset, std::span<std::byte> data) override {
    std::lock_guard lock(mutex_);
    reads.push_back({bar, offset, data.size()});
    for (size_t i = 0; i < data.size(); ++i) data[i] = std::byte((offset + i) & 0xff);
  }
  void bar_write(int bar, uint64_t offset, std::span<const std::byte> data) override {
    std::lock_guard lock(mutex_);
    writes.push_back({bar, offset, data.size()});
  }

  struct Access {
    int bar;
    uint64_t offset;
    size_t size;
    bool operator==(const Access&) const = default;
  };
  std::mutex mutex_;
  std::vector<Access> reads;
  std::vector<Access> writes;

 private:
  static ConfigSpace make_config(uint16_t device_id) {
    ConfigSpace c(0x1af4, device_id, 0xff0000, 0);
    c.define_bar(0, BarKind::kIo, 0x20);
    c.define_bar(1, BarKind::kMemory32, 0x1000);
    c.define_bar(2, BarKind::kMemory64, 0x4000);
    // Device-specific registers with a recognisable pattern, all writable.
    for (int i = 0x40; i < 0x80; ++i) {
      c.set_u8(static_cast<uint8_t>(i), static_cast<uint8_t>(i * 7 + 3));
      c.set_writable(static_cast<uint8_t>(i), 1, 0xff);
    }
    return c;
  }
};

class PciRootTest : public testing::Test {
 protected:
  PciRootTest() : root(std::make_shared<PciRoot>(pio, mmio, [this] { ++resets; })) {
    pio.insert(root, PciRoot::kBase, PciRoot::kLength);
  }

  uint8_t bar_reg(int bar) { return static_cast<uint8_t>(pci::kBar0 + 4 * bar); }

  Bus pio;
  Bus mmio;
  std::atomic<int> resets{0};
  std::shared_ptr<PciRoot> root;
};

TEST_F(PciRootTest, AbsentFunctionsReadAllOnes) {
  auto f = std::make_shared<TestFunction>();
  root->attach(3, 0, f);
  EXPECT_EQ(config_in(pio, 3, 0, 0, 4), 0x10001af4u);
  for (auto [dev, fn] : {std::pair{0, 0}, {3, 1}, {31, 7}, {4, 0}}) {
    EXPECT_EQ(config_in(pio, dev, fn, 0, 4), 0xffffffffu);
    EXPECT_EQ(config_in(pio, dev, fn, 2, 2), 0xffffu);
    EXPECT_EQ(config_in(pio, dev, fn, 3, 1), 0xffu);
  }
  // Bus 1 does not exist even though 00:03.0 does.
  out(pio, pci_test::kConfigAddress, 4, 0x80010000u | 3u << 11);
  EXPECT_EQ(in(pio, pci_test::kConfigData, 4), 0xffffffffu);
  // Without the enable bit CONFIG_DATA reaches no function.
  out(pio, pci_test::kConfigAddress, 4, 3u << 11);
  EXPECT_EQ(in(pio, pci_test::kConfigData, 4), 0xffffffffu);
  out(pio, pci_test::kConfigData, 4, 0);  // and writes go nowhere
  EXPECT_EQ(config_in(pio, 3, 0, 0, 4), 0x10001af4u);
}

TEST_F(PciRootTest, ConfigAddressIsDwordOnlyWithReservedBitsZero) {
  out(pio, pci_test::kConfigAddress, 4, 0xffffffffu);
  EXPECT_EQ(in(pio, pci_test::kConfigAddress, 4), 0x80fffffcu);
  // Linux's type-1 probe: write 0x80000000 and expect it back.
  out(pio, pci_test::kConfigAddress, 4, 0x80000000u);
  EXPECT_EQ(in(pio, pci_test::kConfigAddress, 4), 0x80000000u);
  // Narrower accesses to CONFIG_ADDRESS are not CONFIG_ADDRESS.
  out(pio, pci_test::kConfigAddress, 2, 0x1234);
  out(pio, pci_test::kConfigAddress + 3, 1, 0x01);
  EXPECT_EQ(in(pio, pci_test::kConfigAddress, 4), 0x80000000u);
  EXPECT_EQ(in(pio, pci_test::kConfigAddress, 2), 0xffffu);
  EXPECT_EQ(resets, 0);
}

TEST_F(PciRootTest, ConfigDataEverySizeAtEveryOffset) {
  auto f = std::make_shared<TestFunction>();
  root->attach(5, 2, f);
  auto actual = [&](uint8_t off, size_t size) {
    return f->with_config([&](const ConfigSpace& c) { return c.read(off, size); });
  };
  for (uint8_t reg = 0x40; reg < 0x80; reg += 4) {
    for (size_t size : {1u, 2u, 4u}) {
      for (uint8_t lane = 0; lane + size <= 4; ++lane) {
        const uint8_t off = reg + lane;
        EXPECT_EQ(config_in(pio, 5, 2, off, size), actual(off, size))
            << "offset " << int{off} << " size " << size;
        const uint32_t neighbours = actual(reg, 4);
        const uint32_t value = 0xa1b2c3d4u >> (8 * (4 - size));
        config_out(pio, 5, 2, off, size, value);
        EXPECT_EQ(actual(off, size), value) << "offset " << int{off} << " size " << size;
        const uint32_t lane_mask = (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1) << (8 * lane);
        EXPECT_EQ(actual(reg, 4) & ~lane_mask, neighbours & ~lane_mask) << "other lanes kept";
      }
    }
  }
}

TEST_F(PciRootTest, ResetControlAt0xCF9) {
  EXPECT_EQ(in(pio, 0xcf9, 1), 0u);
  out(pio, 0xcf9, 1, 0x02);  // select a hard reset, do not start it
  EXPECT_EQ(resets, 0);
  EXPECT_EQ(in(pio, 0xcf9, 1), 0x02u);
  out(pio, 0xcf9, 1, 0x06);  // start it
  EXPECT_EQ(resets, 1);
  // A CONFIG_ADDRESS write whose second byte is 0x06 is not a reset.
  out(pio, pci_test::kConfigAddress, 4, 0x80000600u);
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(in(pio, pci_test::kConfigAddress, 4), 0x80000600u);
}

TEST_F(PciRootTest, AttachRejectsBadAddresses) {
  auto f = std::make_shared<TestFunction>();
  root->attach(1, 0, f);
  EXPECT_THROW(root->attach(1, 0, std::make_shared<TestFunction>()), std::invalid_argument);
  EXPECT_THROW(root->attach(32, 0, std::make_shared<TestFunction>()), std::invalid_argument);
  EXPECT_THROW(root->attach(2, 8, std::make_shared<TestFunction>()), std::invalid_argument);
  EXPECT_THROW(root->attach(2, 0, nullptr), std::invalid_argument);
}

TEST_F(PciRootTest, IoBarProgrammingMovesTheRange) {
  auto f = std::make_shared<TestFunction>();
  root->attach(4, 0, f);
  config_out(pio, 4, 0, bar_reg(0), 4, 0xc000);
  EXPECT_EQ(in(pio, 0xc004, 1), 0u) << "not decoded before the command register enables I/O";
  EXPECT_TRUE(f->reads.empty());

  config_out(pio, 4, 0, pci::kCommand, 2, pci::kCommandIoSpace);
  EXPECT_EQ(in(pio, 0xc004, 2), 0x0504u);
  out(pio, 0xc01f, 1, 0x55);
  ASSERT_EQ(f->reads.size(), 1u);
  EXPECT_EQ(f->reads[0], (TestFunction::Access{0, 4, 2}));
  EXPECT_EQ(f->writes.back(), (TestFunction::Access{0, 0x1f, 1}));

  config_out(pio, 4, 0, bar_reg(0), 4, 0xd100);
  std::array<std::byte, 1> b{};
  EXPECT_FALSE(pio.read(0xc004, b)) << "old place no longer decoded";
  EXPECT_EQ(in(pio, 0xd10a, 1), 0x0au);
  EXPECT_EQ(f->reads.back(), (TestFunction::Access{0, 0x0a, 1}));
  EXPECT_FALSE(pio.read(0xd120, b)) << "range is exactly the BAR's size";
}

TEST_F(PciRootTest, MemoryBarsFollowTheMemoryEnableBit) {
  auto f = std::make_shared<TestFunction>();
  root->attach(6, 0, f);
  config_out(pio, 6, 0, bar_reg(1), 4, 0xfebf0000u);
  config_out(pio, 6, 0, bar_reg(2), 4, 0x00000000u);
  config_out(pio, 6, 0, bar_reg(3), 4, 0x00000002u);  // BAR2 at 8 GiB
  config_out(pio, 6, 0, pci::kCommand, 2, pci::kCommandIoSpace);
  std::array<std::byte, 4> buf{};
  EXPECT_FALSE(mmio.read(0xfebf0000u, buf)) << "I/O enable does not decode memory BARs";

  config_out(pio, 6, 0, pci::kCommand, 2, pci::kCommandMemorySpace);
  EXPECT_TRUE(mmio.read(0xfebf0ff0u, buf));
  EXPECT_EQ(f->reads.back(), (TestFunction::Access{1, 0xff0, 4}));
  EXPECT_TRUE(mmio.read(0x200000000ull + 0x3ffc, buf));
  EXPECT_EQ(f->reads.back(), (TestFunction::Access{2, 0x3ffc, 4}));
  EXPECT_FALSE(mmio.read(0xfebf1000u, buf));

  // Moving the 64-bit BAR takes two dword writes; each step lands somewhere valid.
  config_out(pio, 6, 0, bar_reg(3), 4, 0x00000000u);
  config_out(pio, 6, 0, bar_reg(2), 4, 0xe0000000u);
  EXPECT_TRUE(mmio.read(0xe0000010u, buf));
  EXPECT_EQ(f->reads.back(), (TestFunction::Access{2, 0x10, 4}));
  EXPECT_FALSE(mmio.read(0x200000000ull, buf));

  config_out(pio, 6, 0, pci::kCommand, 2, 0);
  EXPECT_FALSE(mmio.read(0xfebf0000u, buf));
  EXPECT_FALSE(mmio.read(0xe0000010u, buf));
  config_out(pio, 6, 0, pci::kCommand, 2, pci::kCommandMemorySpace);
  EXPECT_TRUE(mmio.read(0xe0000010u, buf));
}

// A function whose BAR1 register at 0x18 and the I/O BAR's first port ask to be queued.
class QueuingFunction : public TestFunction {
 public:
  std::vector<QueuedRange> queued_writes(int bar) const override {
    if (bar == 0 || bar == 1) return {{0x18, 4}};
    return {};
  }
};

TEST(PciRootQueuedWritesTest, FollowTheMemoryBarWhereverTheGuestPutsIt) {
  Bus pio, mmio;
  std::vector<std::string> zones;
  auto root =
      std::make_shared<PciRoot>(pio, mmio, nullptr, [&](uint64_t gpa, uint64_t length, bool on) {
        zones.push_back((on ? "+" : "-") + std::to_string(gpa) + "/" + std::to_string(length));
      });
  pio.insert(root, PciRoot::kBase, PciRoot::kLength);
  root->attach(5, 0, std::make_shared<QueuingFunction>());
  root->config_write(5, 0, pci::kBar0 + 4, 4, 0xfebf0000u);
  root->config_write(5, 0, pci::kBar0, 4, 0xc000u);
  EXPECT_TRUE(zones.empty()) << "nothing decodes yet";
  // The I/O BAR is mapped too, but only memory BARs' writes are queued.
  root->config_write(5, 0, pci::kCommand, 2, pci::kCommandMemorySpace | pci::kCommandIoSpace);
  EXPECT_EQ(zones, (std::vector<std::string>{"+4273930264/4"}));
  root->config_write(5, 0, pci::kBar0 + 4, 4, 0xfebe0000u);  // moved while decoding
  EXPECT_EQ(zones, (std::vector<std::string>{"+4273930264/4", "-4273930264/4", "+4273864728/4"}));
  root->config_write(5, 0, pci::kCommand, 2, 0);
  EXPECT_EQ(zones.back(), "-4273864728/4");
  EXPECT_EQ(zones.size(), 4u);
}

TEST_F(PciRootTest, VmmCanPreassignBars) {
  auto f = std::make_shared<TestFunction>();
  root->attach(7, 0, f);
  root->config_write(7, 0, bar_reg(0), 4, 0xc200);
  root->config_write(7, 0, pci::kCommand, 2, pci::kCommandIoSpace);
  EXPECT_EQ(root->config_read(7, 0, bar_reg(0), 4), 0xc201u);
  EXPECT_EQ(in(pio, 0xc203, 1), 3u);
  EXPECT_EQ(root->config_read(9, 0, 0, 4), 0xffffffffu);
}

TEST_F(PciRootTest, AttachMapsBarsAlreadyDecoded) {
  auto f = std::make_shared<TestFunction>();
  f->config_write(bar_reg(0), 4, 0xc300);
  f->config_write(pci::kCommand, 2, pci::kCommandIoSpace);
  root->attach(8, 0, f);
  EXPECT_EQ(in(pio, 0xc301, 1), 1u);
}

TEST_F(PciRootTest, BadProgrammingLeavesBarsUnmapped) {
  auto a = std::make_shared<TestFunction>(0x1000);
  auto b = std::make_shared<TestFunction>(0x1001);
  root->attach(1, 0, a);
  root->attach(2, 0, b);
  std::array<std::byte, 1> byte{};

  // BAR at 0 with decoding on: nothing is mapped at port 0.
  config_out(pio, 2, 0, pci::kCommand, 2, pci::kCommandIoSpace);
  EXPECT_FALSE(pio.read(0x0, byte));

  // A BAR on top of the root's own ports is refused; the root keeps working.
  config_out(pio, 2, 0, bar_reg(0), 4, 0xce0);
  EXPECT_EQ(config_in(pio, 2, 0, 0, 4), 0x10011af4u);
  EXPECT_TRUE(b->reads.empty());

  // Two functions on one range: the first keeps it. When it moves away, the second (which
  // still asks for that range) gets it, as both would decode on real hardware.
  config_out(pio, 1, 0, bar_reg(0), 4, 0xc000);
  config_out(pio, 1, 0, pci::kCommand, 2, pci::kCommandIoSpace);
  config_out(pio, 2, 0, bar_reg(0), 4, 0xc000);
  in(pio, 0xc001, 1);
  EXPECT_EQ(a->reads.size(), 1u);
  EXPECT_TRUE(b->reads.empty());
  config_out(pio, 1, 0, bar_reg(0), 4, 0xc100);
  in(pio, 0xc001, 1);
  EXPECT_EQ(b->reads.size(), 1u);
  in(pio, 0xc101, 1);
  EXPECT_EQ(a->reads.size(), 2u);

  // A BAR moved onto another one stops decoding at its old place.
  config_out(pio, 1, 0, bar_reg(0), 4, 0xc000);
  EXPECT_FALSE(pio.read(0xc101, byte));
  in(pio, 0xc001, 1);
  EXPECT_EQ(b->reads.size(), 2u);

  // An I/O BAR past 64 KiB and a size probe with decoding left on map nothing.
  config_out(pio, 1, 0, bar_reg(0), 4, 0x10000);
  config_out(pio, 1, 0, bar_reg(1), 4, 0xffffffffu);
  config_out(pio, 1, 0, pci::kCommand, 2, pci::kCommandIoSpace | pci::kCommandMemorySpace);
  std::array<std::byte, 4> word{};
  EXPECT_FALSE(mmio.read(0xfffff000u, word));
}

TEST_F(PciRootTest, ConcurrentProgrammingEndsWhereTheRegisterSays) {
  auto f = std::make_shared<TestFunction>();
  root->attach(3, 0, f);
  root->config_write(3, 0, pci::kCommand, 2, pci::kCommandIoSpace);
  constexpr uint32_t kPlaces[2] = {0xc000, 0xd000};
  std::atomic<int> running{2};
  auto writer = [&](uint32_t place) {
    for (int i = 0; i < 1000; ++i) root->config_write(3, 0, bar_reg(0), 4, place);
    --running;
  };
  std::thread a(writer, kPlaces[0]);
  std::thread b(writer, kPlaces[1]);
  std::thread reader([&] {
    std::array<std::byte, 1> byte{};
    while (running > 0) {
      for (uint32_t place : kPlaces) pio.read(place, byte);
      EXPECT_EQ(root->config_read(3, 0, 0, 2), 0x1af4u);
    }
  });
  a.join();
  b.join();
  reader.join();
  // Whichever write came last, the bus decodes the BAR where the register points and nowhere else.
  const uint32_t address = root->config_read(3, 0, bar_reg(0), 4) & ~3u;
  std::array<std::byte, 1> byte{};
  for (uint32_t place : kPlaces) EXPECT_EQ(pio.read(place, byte), place == address) << place;
}

TEST(PciIntxGsiTest, SwizzlesPinsOverGsi16To19) {
  for (uint8_t slot = 0; slot < 32; ++slot) {
    std::set<uint32_t> gsis;
    for (uint8_t pin = 0; pin < 4; ++pin) {
      const uint32_t gsi = pci::pci_intx_gsi(slot, pin);
      EXPECT_GE(gsi, 16u);
      EXPECT_LE(gsi, 19u);
      gsis.insert(gsi);
      if (slot > 0) {
        EXPECT_EQ(gsi, 16 + (pci::pci_intx_gsi(slot - 1, pin) - 16 + 1) % 4);
      }
    }
    EXPECT_EQ(gsis.size(), 4u) << "slot " << int{slot} << " uses all four lines";
  }
  EXPECT_EQ(pci::pci_intx_gsi(0, 0), 16u);  // INTA# of slot 0
  EXPECT_EQ(pci::pci_intx_gsi(3, 1), 16u);  // INTB# of slot 3 wraps around
  EXPECT_THROW(pci::pci_intx_gsi(32, 0), std::invalid_argument);
  EXPECT_THROW(pci::pci_intx_gsi(0, 4), std::invalid_argument);
}

}  // namespace
