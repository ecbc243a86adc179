// A guest's view of an E1000 for unit tests: guest RAM, the interrupt line, a recording backend,
// dword register access through BAR0, rings in RAM, and frame builders and checkers that are
// independent of the device's own code.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "devices/net/e1000.h"
#include "devices/net/e1000_regs.h"
#include "tests/unit/fakes/fake_guest_memory.h"
#include "tests/unit/fakes/fake_interrupt_line.h"
#include "tests/unit/fakes/fake_timer.h"

namespace e1000_test {

using Bytes = std::vector<std::byte>;
namespace regs = devices::net::e1000;

class FakeBackend : public devices::net::NetBackend {
 public:
  void send(std::span<const std::byte> frame) override {
    sent.emplace_back(frame.begin(), frame.end());
    // As slirp answers from inside send(): the NIC must not hold its lock here.
    if (loopback && receiver) receiver(frame);
  }
  void set_receiver(Receiver r) override { receiver = std::move(r); }
  void rx_ready() override { ++ready_calls; }

  std::vector<Bytes> sent;
  Receiver receiver;
  int ready_calls = 0;
  bool loopback = false;
};

inline constexpr std::array<uint8_t, 6> kMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
inline constexpr uint64_t kRamSize = 4 << 20;
inline constexpr uint64_t kTxRing = 0x1000;
inline constexpr uint64_t kRxRing = 0x2000;
inline constexpr uint64_t kTxBuffers = 0x10000;
inline constexpr uint64_t kRxBuffers = 0x100000;
inline constexpr uint64_t kNotRam = 0xfebc0000;  // where a BAR would be: no RAM there

inline uint16_t be16(std::span<const std::byte> f, size_t at) {
  return static_cast<uint16_t>(std::to_integer<int>(f[at]) << 8 | std::to_integer<int>(f[at + 1]));
}
inline uint32_t be32(std::span<const std::byte> f, size_t at) {
  return static_cast<uint32_t>(be16(f, at)) << 16 | be16(f, at + 2);
}
inline void put_be16(Bytes& f, size_t at, uint16_t v) {
  f[at] = std::byte(v >> 8);
  f[at + 1] = std::byte(v & 0xff);
}

// RFC 1071 one's-complement sum, not complemented.
inline uint32_t ones_sum(std::span<const std::byte> data, uint32_t sum = 0) {
  for (size_t i = 0; i < data.size(); i += 2) {
    sum += std::to_integer<uint32_t>(data[i]) << 8;
    if (i + 1 < data.size()) sum += std::to_integer<uint32_t>(data[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

// Ethernet + IPv4 (20 bytes) + TCP (20 bytes) with `payload` bytes counting up from `first`.
// Checksums are left 0; the caller decides who fills them.
inline Bytes tcp_frame(size_t payload, uint8_t tcp_flags = 0x18, uint8_t first = 0) {
  Bytes f(54 + payload);
  const uint8_t dst[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
  for (int i = 0; i < 6; ++i) {
    f[i] = std::byte(dst[i]);
    f[6 + i] = std::byte(kMac[i]);
  }
  put_be16(f, 12, 0x0800);
  f[14] = std::byte(0x45);
  put_be16(f, 16, static_cast<uint16_t>(40 + payload));
  put_be16(f, 18, 0x1234);  // identification
  f[22] = std::byte(64);
  f[23] = std::byte(6);
  const uint8_t src_ip[4] = {10, 0, 2, 15}, dst_ip[4] = {10, 0, 2, 2};
  for (int i = 0; i < 4; ++i) {
    f[26 + i] = std::byte(src_ip[i]);
    f[30 + i] = std::byte(dst_ip[i]);
  }
  put_be16(f, 34, 40000);
  put_be16(f, 36, 22);
  put_be16(f, 38, 0x1000);  // sequence number 0x10000000
  f[46] = std::byte(0x50);  // data offset 5
  f[47] = std::byte(tcp_flags);
  put_be16(f, 48, 0xffff);
  for (size_t i = 0; i < payload; ++i) f[54 + i] = std::byte(static_cast<uint8_t>(first + i));
  return f;
}

// The TCP pseudo-header sum for IPv4 (RFC 793): addresses, protocol and, if given, the length.
inline uint32_t pseudo_sum(std::span<const std::byte> f, uint32_t tcp_length) {
  return ones_sum(f.subspan(26, 8), 6 + tcp_length);
}
inline bool ip_checksum_ok(std::span<const std::byte> f) {
  return ones_sum(f.subspan(14, 20)) == 0xffff;
}
inline bool tcp_checksum_ok(std::span<const std::byte> f) {
  const uint32_t length = static_cast<uint32_t>(f.size() - 34);
  return ones_sum(f.subspan(34), pseudo_sum(f, length)) == 0xffff;
}

class E1000Test : public testing::Test {
 protected:
  E1000Test() {
    nic.config_write(devices::pci::kCommand, 2,
                     devices::pci::kCommandMemorySpace | devices::pci::kCommandBusMaster);
  }

  uint32_t rd(uint32_t offset) {
    std::array<std::byte, 4> b;
    nic.bar_read(devices::net::E1000::kMmioBar, offset, b);
    uint32_t v;
    std::memcpy(&v, b.data(), 4);
    return v;
  }
  void wr(uint32_t offset, uint32_t value) {
    std::array<std::byte, 4> b;
    std::memcpy(b.data(), &value, 4);
    nic.bar_write(devices::net::E1000::kMmioBar, offset, b);
  }

  // A 16-byte descriptor in RAM.
  void put_descriptor(uint64_t ring, uint32_t index, uint64_t address, uint32_t dword2,
                      uint32_t dword3) {
    std::array<uint32_t, 4> d = {static_cast<uint32_t>(address),
                                 static_cast<uint32_t>(address >> 32), dword2, dword3};
    ASSERT_TRUE(ram.memory().write_obj(ring + 16 * index, d));
  }
  std::array<uint8_t, 16> descriptor(uint64_t ring, uint32_t index) {
    return *ram.memory().read_obj<std::array<uint8_t, 16>>(ring + 16 * index);
  }
  void put_bytes(uint64_t address, std::span<const std::byte> data) {
    ASSERT_TRUE(ram.memory().write(address, data));
  }
  Bytes get_bytes(uint64_t address, size_t size) {
    Bytes b(size);
    EXPECT_TRUE(ram.memory().read(address, b));
    return b;
  }

  void setup_tx(uint32_t descriptors) {
    wr(regs::kTdbal, kTxRing);
    wr(regs::kTdbah, 0);
    wr(regs::kTdlen, descriptors * 16);
    wr(regs::kTdh, 0);
    wr(regs::kTdt, 0);
    wr(regs::kTctl, regs::kTctlEn);
  }
  // A receive ring of `descriptors` buffers of 2048 bytes, all given to the device but one.
  void setup_rx(uint32_t descriptors,
                uint32_t rctl = regs::kRctlEn | regs::kRctlBam | regs::kRctlSecrc) {
    for (uint32_t i = 0; i < descriptors; ++i) {
      put_descriptor(kRxRing, i, kRxBuffers + 0x4000 * i, 0, 0);
    }
    wr(regs::kRdbal, kRxRing);
    wr(regs::kRdbah, 0);
    wr(regs::kRdlen, descriptors * 16);
    wr(regs::kRdh, 0);
    wr(regs::kRdt, descriptors - 1);
    wr(regs::kRctl, rctl);
  }
  bool deliver(std::span<const std::byte> frame) { return backend.receiver(frame); }

  fakes::FakeGuestMemory ram{kRamSize};
  fakes::FakeInterruptLine irq;
  FakeBackend backend;
  fakes::FakeClock clock;
  devices::net::E1000 nic{ram.memory(), irq, kMac, backend, clock.factory()};
};

}  // namespace e1000_test
