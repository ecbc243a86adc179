#include "vmm/coalesced_writes.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using vmm::CoalescedWrites;

constexpr uint16_t kPort = 0x3F8;
constexpr uint64_t kMmioBase = 0xfebc0000;
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

  // What KVM does for a guest's write to a coalesced port or MMIO range.
  void guest_writes(bool pio, uint64_t addr, uint32_t value, uint32_t len) {
    kvm_coalesced_mmio& e = entries()[header()->last];
    e.phys_addr = addr;
    e.len = len;
    e.pio = pio ? 1 : 0;
    std::memcpy(e.data, &value, 4);
    header()->last = (header()->last + 1) % kCapacity;
  }
  void guest_outb(uint16_t port, char value) { guest_writes(true, port, value, 1); }
};

// Records every write that reaches it, in order, into a log shared with the batch.
class Recorder : public devices::BusDevice {
 public:
  Recorder(std::string name, std::vector<std::string>& log) : name_(std::move(name)), log_(log) {}
  void read(uint64_t, std::span<std::byte> data) override { data[0] = std::byte{0}; }
  void write(uint64_t offset, std::span<const std::byte> data) override {
    uint32_t value = 0;
    std::memcpy(&value, data.data(), data.size());
    log_.push_back(name_ + " " + std::to_string(offset) + "=" + std::to_string(value) + "/" +
                   std::to_string(data.size()));
  }

 private:
  std::string name_;
  std::vector<std::string>& log_;
};

class CoalescedWritesTest : public ::testing::Test {
 protected:
  CoalescedWritesTest() : writes_(ring_.view(), pio_, mmio_) {
    pio_.insert(std::make_shared<Recorder>("uart", log_), kPort, 8);
    mmio_.insert(std::make_shared<Recorder>("nic", log_), kMmioBase, 0x20000);
    writes_.batch_port(kPort, [this](std::span<const std::byte> bytes) {
      std::string text;
      for (std::byte b : bytes) text += static_cast<char>(b);
      log_.push_back("batch " + text);
    });
  }

  FakeRing ring_;
  devices::Bus pio_;
  devices::Bus mmio_;
  std::vector<std::string> log_;
  CoalescedWrites writes_;
};

TEST_F(CoalescedWritesTest, DeliversEveryWriteInTheGuestsOrder) {
  ring_.guest_outb(kPort, 'h');
  ring_.guest_outb(kPort, 'i');
  ring_.guest_writes(false, kMmioBase + 0x2818, 17, 4);  // an e1000's RDT
  ring_.guest_outb(kPort, '!');
  ring_.guest_writes(false, kMmioBase + 0x2818, 33, 4);
  EXPECT_TRUE(writes_.drain());
  EXPECT_EQ(log_,
            (std::vector<std::string>{"batch hi", "nic 10264=17/4", "batch !", "nic 10264=33/4"}));
  // Everything consumed is handed back to KVM.
  EXPECT_EQ(ring_.header()->first, ring_.header()->last);
  EXPECT_FALSE(writes_.drain());
}

TEST_F(CoalescedWritesTest, DrainDeliversInOrderAcrossTheEndOfTheRing) {
  EXPECT_FALSE(writes_.drain());
  for (int round = 0; round < 3; ++round) {
    std::string sent;
    for (uint32_t i = 0; i < kCapacity - 1; ++i) {  // a full ring holds capacity - 1
      char c = static_cast<char>('a' + (round * 7 + i) % 26);
      ring_.guest_outb(kPort, c);
      sent += c;
    }
    EXPECT_TRUE(writes_.drain());
    EXPECT_EQ(log_.back(), "batch " + sent);
  }
  EXPECT_FALSE(writes_.drain());
  EXPECT_EQ(log_.size(), 3u);
}

TEST_F(CoalescedWritesTest, OnlyOneByteWritesToTheBatchPortAreBatched) {
  ring_.guest_writes(true, kPort + 1, 'x', 1);  // the UART's IER: through the bus
  ring_.guest_writes(true, kPort, 0x4142, 2);   // a word write: through the bus as one
  ring_.guest_outb(kPort, 'z');
  EXPECT_TRUE(writes_.drain());
  EXPECT_EQ(log_, (std::vector<std::string>{"uart 1=120/1", "uart 0=16706/2", "batch z"}));
}

TEST_F(CoalescedWritesTest, AWriteNoDeviceAnswersIsDropped) {
  ring_.guest_writes(false, 0x1000, 1, 4);
  ring_.guest_outb(kPort, 'k');
  EXPECT_TRUE(writes_.drain());
  EXPECT_EQ(log_, (std::vector<std::string>{"batch k"}));
}

TEST(CoalescedWritesWithoutBatch, DeliversPortWritesThroughTheBus) {
  FakeRing ring;
  devices::Bus pio, mmio;
  std::vector<std::string> log;
  pio.insert(std::make_shared<Recorder>("uart", log), kPort, 8);
  CoalescedWrites writes(ring.view(), pio, mmio);
  ring.guest_outb(kPort, 'a');
  EXPECT_TRUE(writes.drain());
  EXPECT_EQ(log, (std::vector<std::string>{"uart 0=97/1"}));
}

}  // namespace
