// The System Description Table Header every ACPI table starts with, and the finishing step
// (length and checksum) that each table builder, in this folder or elsewhere, ends with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace firmware {

// ACPI 6.x section 5.2.6, Table 5.4.
inline constexpr size_t kAcpiHeaderSize = 36;
inline constexpr size_t kAcpiLengthOffset = 4;
inline constexpr size_t kAcpiChecksumOffset = 9;

// A 36-byte header with Length and Checksum left zero: append the body, then call finish_table.
// `signature` must be 4 characters; `oem_id` at most 6 and `oem_table_id` at most 8 (space
// padded). Throws std::invalid_argument otherwise.
std::vector<std::byte> make_table_header(std::string_view signature, uint8_t revision,
                                         std::string_view oem_id,
                                         std::string_view oem_table_id = "MINIVMM");

// Writes Length (the table's size) and the Checksum that makes all its bytes sum to zero.
// Throws std::invalid_argument when the table is shorter than its header or longer than 4 GiB.
void finish_table(std::vector<std::byte>& table);

// A table's guest address as the 32-bit pointer the RSDT and FADT hold; throws
// std::invalid_argument when it lies above 4 GiB.
uint32_t table_address32(uint64_t gpa);

// The byte that, added to `bytes`, makes their sum zero modulo 256 (ACPI 6.x section 5.2.5.3
// and 5.2.6: "the entire table ... must sum to zero").
uint8_t acpi_checksum(std::span<const std::byte> bytes);

}  // namespace firmware
