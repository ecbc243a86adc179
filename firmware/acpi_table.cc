#include "firmware/acpi_table.h"

#include <limits>
#include <stdexcept>
#include <string>

#include "firmware/byte_writer.h"

namespace firmware {
namespace {

// Creator ID and revision: the tool that built the table (ACPI 6.x Table 5.4).
constexpr std::string_view kCreatorId = "MVMM";
constexpr uint32_t kCreatorRevision = 1;
constexpr uint32_t kOemRevision = 1;

}  // namespace

std::vector<std::byte> make_table_header(std::string_view signature, uint8_t revision,
                                         std::string_view oem_id, std::string_view oem_table_id) {
  if (signature.size() != 4) {
    throw std::invalid_argument("ACPI signature must be 4 characters: " + std::string(signature));
  }
  std::vector<std::byte> out;
  out.reserve(kAcpiHeaderSize);
  append_padded_ascii(out, signature, 4);
  append_le<uint32_t>(out, 0);  // Length, set by finish_table
  out.push_back(static_cast<std::byte>(revision));
  out.push_back(std::byte{0});  // Checksum, set by finish_table
  append_padded_ascii(out, oem_id, 6);
  append_padded_ascii(out, oem_table_id, 8);
  append_le<uint32_t>(out, kOemRevision);
  append_padded_ascii(out, kCreatorId, 4);
  append_le<uint32_t>(out, kCreatorRevision);
  return out;
}

void finish_table(std::vector<std::byte>& table) {
  if (table.size() < kAcpiHeaderSize || table.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument("ACPI table size out of range");
  }
  store_le<uint32_t>(table, kAcpiLengthOffset, static_cast<uint32_t>(table.size()));
  table[kAcpiChecksumOffset] = std::byte{0};
  table[kAcpiChecksumOffset] = static_cast<std::byte>(acpi_checksum(table));
}

uint32_t table_address32(uint64_t gpa) {
  if (gpa > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument("ACPI table above 4 GiB");
  }
  return static_cast<uint32_t>(gpa);
}

uint8_t acpi_checksum(std::span<const std::byte> bytes) {
  uint8_t sum = 0;
  for (std::byte b : bytes) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
  return static_cast<uint8_t>(-sum);
}

}  // namespace firmware
