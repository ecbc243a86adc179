// A PCI type-0 configuration space: 256 bytes of registers, the bits the guest may write, the bits
// a guest write of 1 clears, a capability-list builder and base address registers (PCI Local Bus
// Specification 3.0, chapter 6). Not synchronized: PciDevice owns one under its lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace devices::pci {

// Register offsets of the type-0 header (PCI 3.0 section 6.1, figure 6-1).
inline constexpr uint8_t kVendorId = 0x00;
inline constexpr uint8_t kDeviceId = 0x02;
inline constexpr uint8_t kCommand = 0x04;
inline constexpr uint8_t kStatus = 0x06;
inline constexpr uint8_t kRevisionId = 0x08;
inline constexpr uint8_t kClassCode = 0x09;  // 3 bytes: programming interface, sub-class, class
inline constexpr uint8_t kCacheLineSize = 0x0c;
inline constexpr uint8_t kHeaderType = 0x0e;
inline constexpr uint8_t kBar0 = 0x10;
inline constexpr uint8_t kSubsystemVendorId = 0x2c;
inline constexpr uint8_t kSubsystemId = 0x2e;
inline constexpr uint8_t kCapabilitiesPointer = 0x34;
inline constexpr uint8_t kInterruptLine = 0x3c;
inline constexpr uint8_t kInterruptPin = 0x3d;

// Command register bits (PCI 3.0 section 6.2.2).
inline constexpr uint16_t kCommandIoSpace = 1u << 0;
inline constexpr uint16_t kCommandMemorySpace = 1u << 1;
inline constexpr uint16_t kCommandBusMaster = 1u << 2;
inline constexpr uint16_t kCommandInterruptDisable = 1u << 10;
// Status register bits (PCI 3.0 section 6.2.3).
inline constexpr uint16_t kStatusInterrupt = 1u << 3;
inline constexpr uint16_t kStatusCapabilitiesList = 1u << 4;

inline constexpr int kBarCount = 6;

enum class BarKind { kIo, kMemory32, kMemory64 };

// A defined BAR as the guest has programmed it. `address` is what the register(s) hold now,
// whether or not the command register lets the function decode it.
struct BarInfo {
  BarKind kind;
  uint64_t size;
  uint64_t address;
};

class ConfigSpace {
 public:
  static constexpr size_t kSize = 256;

  // `class_code` is the 24-bit value base class << 16 | sub-class << 8 | programming interface.
  ConfigSpace(uint16_t vendor_id, uint16_t device_id, uint32_t class_code, uint8_t revision);

  // The guest's view. `size` is 1, 2 or 4 and the access lies inside the 256 bytes (any
  // alignment); otherwise a read returns all ones and a write is ignored. A write changes only
  // writable bits and clears the write-1-to-clear bits it sets.
  uint32_t read(uint8_t offset, size_t size) const;
  void write(uint8_t offset, size_t size, uint32_t value);

  // The device's view: raw little-endian values, masks not applied. Throws std::out_of_range
  // when the field does not fit the space.
  uint8_t u8(uint8_t offset) const { return static_cast<uint8_t>(get(offset, 1)); }
  uint16_t u16(uint8_t offset) const { return static_cast<uint16_t>(get(offset, 2)); }
  uint32_t u32(uint8_t offset) const { return get(offset, 4); }
  void set_u8(uint8_t offset, uint8_t value) { set(offset, 1, value); }
  void set_u16(uint8_t offset, uint16_t value) { set(offset, 2, value); }
  void set_u32(uint8_t offset, uint32_t value) { set(offset, 4, value); }
  // Which bits of the `size`-byte field at `offset` a guest may write / clear by writing 1.
  void set_writable(uint8_t offset, size_t size, uint32_t mask);
  void set_write_1_to_clear(uint8_t offset, size_t size, uint32_t mask);

  // Header fields.
  uint16_t vendor_id() const { return u16(kVendorId); }
  uint16_t device_id() const { return u16(kDeviceId); }
  uint32_t class_code() const;
  uint8_t revision() const { return u8(kRevisionId); }
  uint16_t command() const { return u16(kCommand); }
  uint16_t status() const { return u16(kStatus); }
  void set_subsystem(uint16_t vendor_id, uint16_t id);
  // Header type bit 7: the device implements functions other than 0 (PCI 3.0 section 6.2.1).
  void set_multifunction(bool on);
  bool multifunction() const { return (u8(kHeaderType) & 0x80) != 0; }
  // The interrupt line is scratch storage for the guest (writable); the VMM may preset it.
  uint8_t interrupt_line() const { return u8(kInterruptLine); }
  void set_interrupt_line(uint8_t line) { set_u8(kInterruptLine, line); }
  // 0 = no INTx, 1..4 = INTA#..INTD#. Throws std::invalid_argument otherwise.
  void set_interrupt_pin(uint8_t pin);
  uint8_t interrupt_pin() const { return u8(kInterruptPin); }

  // Appends a capability (PCI 3.0 section 6.7) whose bytes after the ID and next pointer are
  // `body`, at the next free dword from 0x40 upwards, links it at the end of the list, sets the
  // status register's capabilities bit, and returns its offset. Its bytes are read-only until the
  // device calls set_writable. Throws std::length_error when it does not fit.
  uint8_t add_capability(uint8_t id, std::span<const uint8_t> body);

  // Defines BAR `index` (a 64-bit BAR also takes index + 1). The size is a power of two: 4..256
  // for I/O, at least 16 for memory, at most 2 GiB for a 32-bit BAR. The BAR starts at address 0.
  // Throws std::invalid_argument for an invalid or already used index or a bad size.
  void define_bar(int index, BarKind kind, uint64_t size, bool prefetchable = false);
  // The BAR defined at `index`; nullopt for an unused index or the upper half of a 64-bit BAR.
  std::optional<BarInfo> bar(int index) const;

  // Counts every change of the space; lets a reader order snapshots taken without a lock held.
  uint64_t generation() const { return generation_; }

 private:
  uint32_t get(uint8_t offset, size_t size) const;
  void set(uint8_t offset, size_t size, uint32_t value);
  static void set_field(std::array<uint8_t, kSize>& bytes, uint8_t offset, size_t size,
                        uint32_t value);

  struct BarDefinition {
    BarKind kind;
    uint64_t size;
  };

  std::array<uint8_t, kSize> bytes_{};
  std::array<uint8_t, kSize> writable_{};
  std::array<uint8_t, kSize> write_1_to_clear_{};
  std::array<std::optional<BarDefinition>, kBarCount> bars_{};
  std::array<bool, kBarCount> bar_upper_half_{};
  uint8_t last_capability_ = 0;  // 0: the list is empty
  uint16_t next_capability_ = 0x40;
  uint64_t generation_ = 0;
};

}  // namespace devices::pci
