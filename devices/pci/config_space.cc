#include "devices/pci/config_space.h"

#include <bit>
#include <stdexcept>

namespace devices::pci {
namespace {

// BAR low bits (PCI 3.0 section 6.2.5.1): bit 0 selects I/O space; for memory, bits 2:1 are the
// type (00 32-bit, 10 64-bit) and bit 3 marks prefetchable memory.
constexpr uint32_t kBarIoSpace = 0x1;
constexpr uint32_t kBarMemory64 = 0x4;
constexpr uint32_t kBarPrefetchable = 0x8;
constexpr uint32_t kBarIoAddressMask = ~0x3u;
constexpr uint32_t kBarMemoryAddressMask = ~0xfu;

// Status bits a guest clears by writing 1 (PCI 3.0 section 6.2.3): master data parity error,
// signaled target abort, received target abort, received master abort, signaled system error,
// detected parity error.
constexpr uint16_t kStatusWrite1ToClear = 0xf900;

bool valid_access(uint8_t offset, size_t size) {
  return (size == 1 || size == 2 || size == 4) && offset + size <= ConfigSpace::kSize;
}

uint8_t bar_offset(int index) { return static_cast<uint8_t>(kBar0 + 4 * index); }

}  // namespace

ConfigSpace::ConfigSpace(uint16_t vendor_id, uint16_t device_id, uint32_t class_code,
                         uint8_t revision) {
  if (class_code > 0xffffff) throw std::invalid_argument("PCI class code wider than 24 bits");
  set_u16(kVendorId, vendor_id);
  set_u16(kDeviceId, device_id);
  set_u8(kRevisionId, revision);
  set_field(bytes_, kClassCode, 3, class_code);
  // Only the enables a virtual function can honour are writable (PCI 3.0 section 6.2.2); parity
  // and SERR# reporting are hardwired off because no virtual bus has parity errors.
  set_writable(
      kCommand, 2,
      kCommandIoSpace | kCommandMemorySpace | kCommandBusMaster | kCommandInterruptDisable);
  set_write_1_to_clear(kStatus, 2, kStatusWrite1ToClear);
  // Drivers program the cache line size (Linux does); it has no effect on a virtual bus.
  set_writable(kCacheLineSize, 1, 0xff);
  set_writable(kInterruptLine, 1, 0xff);
}

uint32_t ConfigSpace::read(uint8_t offset, size_t size) const {
  if (!valid_access(offset, size)) return 0xffffffffu;
  return get(offset, size);
}

void ConfigSpace::write(uint8_t offset, size_t size, uint32_t value) {
  if (!valid_access(offset, size)) return;
  for (size_t i = 0; i < size; ++i) {
    const size_t at = offset + i;
    const auto in = static_cast<uint8_t>(value >> (8 * i));
    uint8_t next = static_cast<uint8_t>((bytes_[at] & ~writable_[at]) | (in & writable_[at]));
    next &= static_cast<uint8_t>(~(in & write_1_to_clear_[at]));
    bytes_[at] = next;
  }
  ++generation_;
}

uint32_t ConfigSpace::get(uint8_t offset, size_t size) const {
  if (offset + size > kSize) throw std::out_of_range("PCI config field past the space");
  uint32_t value = 0;
  for (size_t i = 0; i < size; ++i) value |= uint32_t{bytes_[offset + i]} << (8 * i);
  return value;
}

void ConfigSpace::set(uint8_t offset, size_t size, uint32_t value) {
  set_field(bytes_, offset, size, value);
  ++generation_;
}

void ConfigSpace::set_field(std::array<uint8_t, kSize>& bytes, uint8_t offset, size_t size,
                            uint32_t value) {
  if (offset + size > kSize) throw std::out_of_range("PCI config field past the space");
  for (size_t i = 0; i < size; ++i) bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

void ConfigSpace::set_writable(uint8_t offset, size_t size, uint32_t mask) {
  set_field(writable_, offset, size, mask);
}

void ConfigSpace::set_write_1_to_clear(uint8_t offset, size_t size, uint32_t mask) {
  set_field(write_1_to_clear_, offset, size, mask);
}

uint32_t ConfigSpace::class_code() const { return get(kClassCode, 3); }

void ConfigSpace::set_subsystem(uint16_t vendor_id, uint16_t id) {
  set_u16(kSubsystemVendorId, vendor_id);
  set_u16(kSubsystemId, id);
}

void ConfigSpace::set_multifunction(bool on) {
  const uint8_t type = u8(kHeaderType);
  set_u8(kHeaderType, on ? (type | 0x80) : (type & 0x7f));
}

void ConfigSpace::set_interrupt_pin(uint8_t pin) {
  if (pin > 4) throw std::invalid_argument("PCI interrupt pin must be 0..4");
  set_u8(kInterruptPin, pin);
}

uint8_t ConfigSpace::add_capability(uint8_t id, std::span<const uint8_t> body) {
  // Capabilities are dword aligned and live above the 64-byte header (PCI 3.0 section 6.7).
  const size_t start = (next_capability_ + 3u) & ~size_t{3};
  const size_t length = 2 + body.size();
  if (start + length > kSize) throw std::length_error("PCI capability does not fit");
  const auto at = static_cast<uint8_t>(start);
  set_u8(at, id);
  set_u8(at + 1, 0);
  for (size_t i = 0; i < body.size(); ++i) set_u8(static_cast<uint8_t>(start + 2 + i), body[i]);
  set_u8(last_capability_ == 0 ? kCapabilitiesPointer : static_cast<uint8_t>(last_capability_ + 1),
         at);
  set_u16(kStatus, status() | kStatusCapabilitiesList);
  last_capability_ = at;
  next_capability_ = static_cast<uint16_t>(start + length);
  return at;
}

void ConfigSpace::define_bar(int index, BarKind kind, uint64_t size, bool prefetchable) {
  const int slots = kind == BarKind::kMemory64 ? 2 : 1;
  if (index < 0 || index + slots > kBarCount)
    throw std::invalid_argument("PCI BAR index out of range");
  for (int i = index; i < index + slots; ++i)
    if (bars_[i] || bar_upper_half_[i]) throw std::invalid_argument("PCI BAR already defined");
  if (!std::has_single_bit(size)) throw std::invalid_argument("PCI BAR size not a power of two");

  const uint64_t address_bits = ~(size - 1);
  switch (kind) {
    case BarKind::kIo:
      // I/O BARs claim 4 to 256 bytes (PCI 3.0 section 6.2.5.1).
      if (size < 4 || size > 256 || prefetchable)
        throw std::invalid_argument("PCI I/O BAR must be 4..256 bytes, not prefetchable");
      set_u32(bar_offset(index), kBarIoSpace);
      set_writable(bar_offset(index), 4, static_cast<uint32_t>(address_bits) & kBarIoAddressMask);
      break;
    case BarKind::kMemory32:
      if (size < 16 || size > (uint64_t{1} << 31))
        throw std::invalid_argument("PCI 32-bit memory BAR must be 16 bytes..2 GiB");
      set_u32(bar_offset(index), prefetchable ? kBarPrefetchable : 0);
      set_writable(bar_offset(index), 4,
                   static_cast<uint32_t>(address_bits) & kBarMemoryAddressMask);
      break;
    case BarKind::kMemory64:
      if (size < 16 || size > (uint64_t{1} << 63))
        throw std::invalid_argument("PCI 64-bit memory BAR must be 16 bytes..8 EiB");
      set_u32(bar_offset(index), kBarMemory64 | (prefetchable ? kBarPrefetchable : 0));
      set_writable(bar_offset(index), 4,
                   static_cast<uint32_t>(address_bits) & kBarMemoryAddressMask);
      set_u32(bar_offset(index + 1), 0);
      set_writable(bar_offset(index + 1), 4, static_cast<uint32_t>(address_bits >> 32));
      bar_upper_half_[index + 1] = true;
      break;
  }
  bars_[index] = BarDefinition{kind, size};
}

std::optional<BarInfo> ConfigSpace::bar(int index) const {
  if (index < 0 || index >= kBarCount || !bars_[index]) return std::nullopt;
  const BarDefinition& def = *bars_[index];
  const uint32_t low = u32(bar_offset(index));
  uint64_t address = 0;
  switch (def.kind) {
    case BarKind::kIo:
      address = low & kBarIoAddressMask;
      break;
    case BarKind::kMemory32:
      address = low & kBarMemoryAddressMask;
      break;
    case BarKind::kMemory64:
      address = (uint64_t{u32(bar_offset(index + 1))} << 32) | (low & kBarMemoryAddressMask);
      break;
  }
  return BarInfo{def.kind, def.size, address};
}

}  // namespace devices::pci
