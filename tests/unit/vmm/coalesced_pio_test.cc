#include "vmm/coalesced_pio.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using vmm::CoalescedPio;

constexpr uint16_t kPort = 0x3F8;
constexpr uint32_t kCapacity = 8;

// The ring as KVM lays it out in the shared page: two indices, then the entries.
struct FakeRing {
  alignas(8) std::array<std::byte, 8 + kCapacity * sizeof(kvm_coalesced_mmio)> page{};

  vmm::Vcpu::CoalescedRing view() {
    return {reinterpret_cast<kvm_coalesced_mmio_ring*>(page.data()), entries(), kCapacity};
  }
  kvm_coalesced_mmio* entries() { return reinterpret_cast<kvm_coalesced_mmio*>(page.data() + 8); }
  kvm_coalesced_mmio_ring* header() {
    return reinterpret_cast<kvm_coalesced_mmio_ring*>(page.data());
  }

  // What KVM does for a guest's one-byte write to a coalesced port.
  void guest_writes(uint16_t port, uint8_t value, uint32_t len = 1) {
    kvm_coalesced_mmio& e = entries()[header()->last];
    e.phys_addr = port;
    e.len = len;
    e.pio = 1;
    e.data[0] = value;
    header()->last = (header()->last + 1) % kCapacity;
  }
};

// Records every access and delivery in the order they reach it.
class Recorder : public devices::BusDevice {
 public:
  void read(uint64_t offset, std::span<std::byte> data) override {
    log.push_back("read " + std::to_string(offset));
    data[0] = std::byte{0x60};
  }
  void write(uint64_t offset, std::span<const std::byte> data) override {
    log.push_back("write " + std::to_string(offset) + "=" +
                  std::to_string(std::to_integer<int>(data[0])));
  }
  std::vector<std::string> log;
};

class CoalescedPioTest : public ::testing::Test {
 protected:
  CoalescedPioTest()
      : device_(std::make_shared<Recorder>()),
        pio_(ring_.view(), kPort, device_, [this](std::span<const std::byte> bytes) {
          std::string text;
          for (std::byte b : bytes) text += static_cast<char>(b);
          device_->log.push_back("deliver " + text);
        }) {}

  FakeRing ring_;
  std::shared_ptr<Recorder> device_;
  CoalescedPio pio_;
};

TEST_F(CoalescedPioTest, QueuedWritesReachTheDeviceBeforeAnyRegisterAccess) {
  ring_.guest_writes(kPort, 'h');
  ring_.guest_writes(kPort, 'i');
  std::array<std::byte, 1> lsr{};
  pio_.read(5, lsr);
  ring_.guest_writes(kPort, '!');
  const std::array<std::byte, 1> lcr{std::byte{0x80}};
  pio_.write(3, lcr);
  EXPECT_EQ(device_->log,
            (std::vector<std::string>{"deliver hi", "read 5", "deliver !", "write 3=128"}));
  EXPECT_EQ(lsr[0], std::byte{0x60});
  // Everything consumed is handed back to KVM.
  EXPECT_EQ(ring_.header()->first, ring_.header()->last);
}

TEST_F(CoalescedPioTest, DrainDeliversInOrderAcrossTheEndOfTheRing) {
  EXPECT_FALSE(pio_.drain());
  std::string expected;
  for (int round = 0; round < 3; ++round) {
    std::string sent;
    for (uint32_t i = 0; i < kCapacity - 1; ++i) {  // a full ring holds capacity - 1
      char c = static_cast<char>('a' + (round * 7 + i) % 26);
      ring_.guest_writes(kPort, static_cast<uint8_t>(c));
      sent += c;
    }
    EXPECT_TRUE(pio_.drain());
    EXPECT_EQ(device_->log.back(), "deliver " + sent);
  }
  EXPECT_FALSE(pio_.drain());
  EXPECT_EQ(device_->log.size(), 3u);
}

TEST_F(CoalescedPioTest, EntriesForOtherPortsOrWidthsAreNotDelivered) {
  ring_.guest_writes(kPort + 1, 'x');
  ring_.guest_writes(kPort, 'y', 2);
  ring_.guest_writes(kPort, 'z');
  EXPECT_TRUE(pio_.drain());
  EXPECT_EQ(device_->log, (std::vector<std::string>{"deliver z"}));
}

}  // namespace
