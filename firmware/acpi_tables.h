// The ACPI tables of an i440FX/PIIX PC booted without a BIOS: RSDP, RSDT, XSDT, FADT, FACS,
// DSDT and MADT, laid out as one blob for the VMM to copy into guest memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace firmware {

// One _PRT entry: device `slot` on bus 0, interrupt pin `pin` (0 = INTA .. 3 = INTD), wired to
// IOAPIC input `gsi`. Static-GSI routing (ACPI 6.x section 6.2.13): level, active low.
struct PciIrqRoute {
  uint8_t slot;
  uint8_t pin;
  uint32_t gsi;
};

struct AcpiConfig {
  std::vector<uint32_t> apic_ids;  // one per vCPU, in processor-UID order; each < 255
  uint32_t ioapic_id = 0;          // by convention the vCPU count; < 256
  uint16_t pm_base = 0x600;        // PIIX4 PMBA: PM1a_EVT (4 bytes), PM1a_CNT (+4), PM_TMR (+8)
  uint16_t gpe0_base = 0xafe0;     // GPE0 block, 4 bytes
  uint8_t sci_irq = 9;
  uint64_t pci_hole_start = 0xE0000000;  // 32-bit PCI window is [pci_hole_start, 0xFEBFFFFF]
  uint64_t pci_hole64_start = 0;         // 64-bit PCI window; omitted when its size is 0
  uint64_t pci_hole64_size = 0;
  std::vector<PciIrqRoute> pci_routes;
  // Finished tables (see make_table_header/finish_table) listed in the XSDT after FADT and MADT.
  std::vector<std::vector<std::byte>> extra_tables;
  std::string oem_id = "MINVMM";  // at most 6 characters
};

struct AcpiBlob {
  std::vector<std::byte> bytes;  // to be copied to guest memory at the base_gpa it was built for
  uint64_t rsdp_gpa;             // == base_gpa: the RSDP comes first
};

// Builds every table for a blob placed at `base_gpa`; all addresses inside the tables point into
// [base_gpa, base_gpa + bytes.size()). `base_gpa` must be 16-byte aligned (the RSDP is found on
// a 16-byte boundary, ACPI 6.x section 5.2.5.1) and the blob must end below 4 GiB (RSDT and
// 32-bit FADT fields). For the legacy scan of 0xE0000-0xFFFFF, place it at 0xE0000; with up
// to 254 vCPUs and no huge extra tables it stays well under 128 KiB. Throws
// std::invalid_argument for an inconsistent configuration.
AcpiBlob build_acpi_tables(const AcpiConfig& cfg, uint64_t base_gpa);

}  // namespace firmware
