// Guest-style port I/O on a devices::Bus for the PCI tests: little-endian accesses of 1, 2 or 4
// bytes, as an x86 in/out instruction makes them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "devices/bus/bus.h"

namespace pci_test {

inline uint32_t in(const devices::Bus& bus, uint64_t port, size_t size) {
  std::array<std::byte, 4> buf{};
  bus.read(port, std::span(buf).first(size));
  uint32_t value = 0;
  for (size_t i = 0; i < size; ++i) value |= std::to_integer<uint32_t>(buf[i]) << (8 * i);
  return value;
}

inline void out(const devices::Bus& bus, uint64_t port, size_t size, uint32_t value) {
  std::array<std::byte, 4> buf{};
  for (size_t i = 0; i < size; ++i) buf[i] = std::byte(value >> (8 * i));
  bus.write(port, std::span(buf).first(size));
}

// Configuration mechanism #1: select 00:dev.fn register `offset`, then access CONFIG_DATA at the
// byte lane the offset names.
inline constexpr uint64_t kConfigAddress = 0xcf8;
inline constexpr uint64_t kConfigData = 0xcfc;

inline uint32_t config_address(uint8_t dev, uint8_t fn, uint8_t offset) {
  return 0x80000000u | uint32_t{dev} << 11 | uint32_t{fn} << 8 | (offset & 0xfcu);
}

inline uint32_t config_in(const devices::Bus& pio, uint8_t dev, uint8_t fn, uint8_t offset,
                          size_t size) {
  out(pio, kConfigAddress, 4, config_address(dev, fn, offset));
  return in(pio, kConfigData + (offset & 3u), size);
}

inline void config_out(const devices::Bus& pio, uint8_t dev, uint8_t fn, uint8_t offset,
                       size_t size, uint32_t value) {
  out(pio, kConfigAddress, 4, config_address(dev, fn, offset));
  out(pio, kConfigData + (offset & 3u), size, value);
}

}  // namespace pci_test
