#include "firmware/acpi_tables.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "firmware/acpi_table.h"
#include "firmware/byte_writer.h"
#include "firmware/dsdt.h"
#include "firmware/fadt.h"
#include "firmware/madt.h"

namespace firmware {
namespace {

// RSDP, ACPI 6.x section 5.2.5.3: the first 20 bytes are the ACPI 1.0 structure covered by
// Checksum; the whole 36 bytes are covered by Extended Checksum.
constexpr size_t kRsdpSize = 36;
constexpr size_t kRsdpV1Size = 20;
constexpr size_t kRsdpChecksumOffset = 8;
constexpr size_t kRsdpExtChecksumOffset = 32;
constexpr uint8_t kRsdpRevision = 2;
constexpr uint64_t kRsdpAlign = 16;
constexpr uint64_t kFacsAlign = 64;  // section 5.2.10
constexpr uint64_t kTableAlign = 8;  // natural alignment for the 64-bit fields inside

constexpr uint64_t k4GiB = uint64_t{1} << 32;

constexpr uint8_t kRsdtRevision = 1;
constexpr uint8_t kXsdtRevision = 1;

// Appends `table` to `blob` at the next guest address aligned to `align`; returns that address.
uint64_t place(std::vector<std::byte>& blob, uint64_t base_gpa, std::span<const std::byte> table,
               uint64_t align) {
  while ((base_gpa + blob.size()) % align != 0) blob.push_back(std::byte{0});
  const uint64_t gpa = base_gpa + blob.size();
  append_bytes(blob, table);
  return gpa;
}

std::vector<std::byte> build_rsdt(const std::vector<uint64_t>& tables, const std::string& oem) {
  std::vector<std::byte> t = make_table_header("RSDT", kRsdtRevision, oem);
  for (uint64_t gpa : tables) append_le<uint32_t>(t, table_address32(gpa));
  finish_table(t);
  return t;
}

std::vector<std::byte> build_xsdt(const std::vector<uint64_t>& tables, const std::string& oem) {
  std::vector<std::byte> t = make_table_header("XSDT", kXsdtRevision, oem);
  for (uint64_t gpa : tables) append_le<uint64_t>(t, gpa);
  finish_table(t);
  return t;
}

std::vector<std::byte> build_rsdp(uint64_t rsdt_gpa, uint64_t xsdt_gpa, const std::string& oem) {
  std::vector<std::byte> r;
  append_padded_ascii(r, "RSD PTR ", 8);
  append_le<uint8_t>(r, 0);  // Checksum, below
  append_padded_ascii(r, oem, 6);
  append_le<uint8_t>(r, kRsdpRevision);
  append_le<uint32_t>(r, table_address32(rsdt_gpa));
  append_le<uint32_t>(r, kRsdpSize);  // Length
  append_le<uint64_t>(r, xsdt_gpa);
  append_le<uint8_t>(r, 0);  // Extended Checksum, below
  r.resize(kRsdpSize);       // Reserved
  r[kRsdpChecksumOffset] = std::byte{acpi_checksum(std::span(r).first(kRsdpV1Size))};
  r[kRsdpExtChecksumOffset] = std::byte{acpi_checksum(r)};
  return r;
}

// An extra table must be complete: a header, a Length equal to its size and a zero sum.
void check_finished(std::span<const std::byte> table) {
  if (table.size() < kAcpiHeaderSize) throw std::invalid_argument("extra ACPI table too short");
  uint32_t length = 0;
  for (size_t i = 0; i < 4; ++i) {
    length |= static_cast<uint32_t>(table[kAcpiLengthOffset + i]) << (8 * i);
  }
  if (length != table.size() || acpi_checksum(table) != 0) {
    throw std::invalid_argument("extra ACPI table not finished (length or checksum)");
  }
}

}  // namespace

AcpiBlob build_acpi_tables(const AcpiConfig& cfg, uint64_t base_gpa) {
  if (base_gpa % kRsdpAlign != 0) throw std::invalid_argument("ACPI base must be 16-byte aligned");
  // RSDT entries and the FADT's 32-bit pointers address every table, so all of them (and thus
  // the whole blob) must lie below 4 GiB; checking the base first also keeps the sums below
  // from wrapping.
  if (base_gpa >= k4GiB) throw std::invalid_argument("ACPI base must be below 4 GiB");
  for (const auto& extra : cfg.extra_tables) check_finished(extra);

  // Layout: RSDP first (so the legacy scan finds it at the base), then each table aligned.
  std::vector<std::byte> blob(kRsdpSize);
  const uint64_t facs = place(blob, base_gpa, build_facs(), kFacsAlign);
  const uint64_t dsdt = place(blob, base_gpa, build_dsdt(cfg), kTableAlign);
  std::vector<uint64_t> listed;
  listed.push_back(place(blob, base_gpa, build_fadt(cfg, facs, dsdt), kTableAlign));
  listed.push_back(place(blob, base_gpa, build_madt(cfg), kTableAlign));
  for (const auto& extra : cfg.extra_tables) {
    listed.push_back(place(blob, base_gpa, extra, kTableAlign));
  }
  const uint64_t rsdt = place(blob, base_gpa, build_rsdt(listed, cfg.oem_id), kTableAlign);
  const uint64_t xsdt = place(blob, base_gpa, build_xsdt(listed, cfg.oem_id), kTableAlign);
  if (base_gpa + blob.size() > k4GiB) throw std::invalid_argument("ACPI tables cross 4 GiB");
  const std::vector<std::byte> rsdp = build_rsdp(rsdt, xsdt, cfg.oem_id);
  std::copy(rsdp.begin(), rsdp.end(), blob.begin());
  return AcpiBlob{std::move(blob), base_gpa};
}

}  // namespace firmware
