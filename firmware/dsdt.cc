#include "firmware/dsdt.h"

#include <stdexcept>

#include "firmware/acpi_table.h"
#include "firmware/aml.h"
#include "firmware/byte_writer.h"

namespace firmware {
namespace {

using aml::Bytes;

// Revision 2 makes AML integers 64 bits wide (ACPI 6.x section 5.2.11.1), which the QWord
// window needs.
constexpr uint8_t kDsdtRevision = 2;
constexpr uint32_t kPciHoleEnd = 0xFEBFFFFF;   // the IOAPIC, HPET and LAPIC pages follow
constexpr uint32_t kPiix3IsaAdr = 0x00010000;  // PCI 00:01.0, _ADR = device << 16 | function

// \_SB.PCI0._CRS: what the i440FX host bridge decodes. 0xCF8-0xCFF is its own configuration
// mechanism (consumed); the rest of I/O space and the memory windows pass to the PCI bus.
Bytes host_bridge_resources(const AcpiConfig& cfg) {
  if (cfg.pci_hole_start < 0xC0000 || cfg.pci_hole_start > kPciHoleEnd) {
    throw std::invalid_argument("pci_hole_start outside (0xBFFFF, 0xFEBFFFFF]");
  }
  std::vector<Bytes> res = {
      aml::word_bus_number(0x00, 0xFF),
      aml::io(0x0CF8, 8),
      aml::dword_io(0x0000, 0x0CF7),
      aml::dword_io(0x0D00, 0xFFFF),
      aml::dword_memory(0x000A0000, 0x000BFFFF),  // legacy VGA window
      aml::dword_memory(static_cast<uint32_t>(cfg.pci_hole_start), kPciHoleEnd),
  };
  if (cfg.pci_hole64_size != 0) {
    const uint64_t last = cfg.pci_hole64_start + (cfg.pci_hole64_size - 1);
    if (last < cfg.pci_hole64_start) throw std::invalid_argument("64-bit PCI window wraps");
    res.push_back(aml::qword_memory(cfg.pci_hole64_start, last));
  }
  return aml::resource_template(res);
}

// \_SB.PCI0._PRT in the static-GSI form (ACPI 6.x section 6.2.13): each entry is
// {Address = slot << 16 | 0xFFFF (any function), Pin, Source = 0, Source Index = GSI}.
Bytes routing_table(const std::vector<PciIrqRoute>& routes) {
  std::vector<Bytes> entries;
  for (const PciIrqRoute& r : routes) {
    if (r.slot >= 32 || r.pin >= 4)
      throw std::invalid_argument("PCI route slot or pin out of range");
    entries.push_back(aml::package({aml::integer((uint32_t{r.slot} << 16) | 0xFFFF),
                                    aml::integer(r.pin), aml::integer(0), aml::integer(r.gsi)}));
  }
  return aml::package(entries);
}

// The ISA devices behind the PIIX3 bridge at their fixed PC addresses, so that Linux's PNP
// layer (8250_pnp, rtc_cmos, i8042) finds them.
Bytes isa_bridge() {
  Bytes com1 = aml::device(
      "COM1",
      {aml::name("_HID", aml::eisa_id("PNP0501")), aml::name("_UID", aml::integer(1)),
       aml::name("_CRS", aml::resource_template({aml::io(0x03F8, 8), aml::irq_no_flags(4)}))});
  Bytes rtc = aml::device(
      "RTC",
      {aml::name("_HID", aml::eisa_id("PNP0B00")),
       aml::name("_CRS", aml::resource_template({aml::io(0x0070, 2), aml::irq_no_flags(8)}))});
  Bytes kbd = aml::device(
      "KBD", {aml::name("_HID", aml::eisa_id("PNP0303")),
              aml::name("_CRS", aml::resource_template({aml::io(0x0060, 1), aml::io(0x0064, 1),
                                                        aml::irq_no_flags(1)}))});
  return aml::device("ISA", {aml::name("_ADR", aml::integer(kPiix3IsaAdr)), com1, rtc, kbd});
}

}  // namespace

std::vector<std::byte> build_dsdt(const AcpiConfig& cfg) {
  // No _ADR beside _HID: a device object carries one or the other (ACPI 6.x section 6.1.1), and
  // the root bridge is found by its _HID.
  Bytes pci0 = aml::device(
      "PCI0", {aml::name("_HID", aml::eisa_id("PNP0A03")), aml::name("_UID", aml::integer(0)),
               aml::name("_BBN", aml::integer(0)), aml::name("_CRS", host_bridge_resources(cfg)),
               aml::name("_PRT", routing_table(cfg.pci_routes)), isa_bridge()});
  Bytes table = make_table_header("DSDT", kDsdtRevision, cfg.oem_id);
  // \_S5 (ACPI 6.x chapter 7, the \_Sx objects): the SLP_TYP values for PM1a_CNT and PM1b_CNT,
  // then two reserved elements. The PIIX4 enters soft-off on SUS_TYP 000 (PIIX4 datasheet, PMCNTRL
  // bits 12:10).
  const Bytes zero = aml::integer(0);
  append_bytes(table, aml::name("\\_S5", aml::package({zero, zero, zero, zero})));
  append_bytes(table, aml::scope("\\_SB", {pci0}));
  finish_table(table);
  return table;
}

}  // namespace firmware
