// Little-endian byte assembly shared by the ACPI table and AML builders (every multi-byte ACPI
// field is little-endian: ACPI 6.x section 5.2, "All numeric values ... are little-endian").
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace firmware {

template <std::unsigned_integral T>
void append_le(std::vector<std::byte>& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<std::byte>(value >> (8 * i)));
}

// Overwrites sizeof(T) bytes at `offset` (used to fill a field once its value is known).
template <std::unsigned_integral T>
void store_le(std::span<std::byte> out, size_t offset, T value) {
  if (offset > out.size() || out.size() - offset < sizeof(T)) {
    throw std::out_of_range("store_le: field outside the buffer");
  }
  for (size_t i = 0; i < sizeof(T); ++i) {
    out[offset + i] = static_cast<std::byte>(value >> (8 * i));
  }
}

inline void append_bytes(std::vector<std::byte>& out, std::span<const std::byte> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

// A fixed-width ASCII field padded with spaces (OEM ID, OEM Table ID); throws if `text` is longer.
inline void append_padded_ascii(std::vector<std::byte>& out, std::string_view text, size_t width) {
  if (text.size() > width)
    throw std::invalid_argument("ACPI text field too long: " + std::string(text));
  for (size_t i = 0; i < width; ++i) {
    out.push_back(static_cast<std::byte>(i < text.size() ? text[i] : ' '));
  }
}

}  // namespace firmware
