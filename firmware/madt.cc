#include "firmware/madt.h"

#include <stdexcept>

#include "firmware/acpi_table.h"
#include "firmware/byte_writer.h"

namespace firmware {
namespace {

// ACPI 6.x section 5.2.12. Revision 5 (ACPI 6.3) gives the Local APIC flags their Online
// Capable bit; every processor here is simply Enabled.
constexpr uint8_t kMadtRevision = 5;
constexpr uint32_t kLapicAddress = 0xFEE00000;
constexpr uint32_t kIoapicAddress = 0xFEC00000;
constexpr uint32_t kFlagPcatCompat = 1u << 0;  // dual 8259s are present

// Interrupt controller structure types and lengths (sections 5.2.12.2 onwards).
constexpr uint8_t kTypeLocalApic = 0, kLenLocalApic = 8;
constexpr uint8_t kTypeIoApic = 1, kLenIoApic = 12;
constexpr uint8_t kTypeSourceOverride = 2, kLenSourceOverride = 10;
constexpr uint8_t kTypeLocalApicNmi = 4, kLenLocalApicNmi = 6;
constexpr uint32_t kLapicEnabled = 1u << 0;

// MPS INTI flags (section 5.2.12.5): polarity in bits 1:0, trigger mode in bits 3:2.
constexpr uint16_t kActiveHigh = 0x1;
constexpr uint16_t kEdge = 0x1 << 2;
constexpr uint16_t kLevel = 0x3 << 2;
constexpr uint16_t kConforms = 0;

constexpr uint8_t kAllProcessors = 0xFF;  // ACPI Processor UID 0xFF in a Local APIC NMI entry
constexpr uint8_t kIsaBus = 0;

void append_override(std::vector<std::byte>& t, uint8_t irq, uint32_t gsi, uint16_t flags) {
  append_le<uint8_t>(t, kTypeSourceOverride);
  append_le<uint8_t>(t, kLenSourceOverride);
  append_le<uint8_t>(t, kIsaBus);
  append_le<uint8_t>(t, irq);
  append_le<uint32_t>(t, gsi);
  append_le<uint16_t>(t, flags);
}

}  // namespace

std::vector<std::byte> build_madt(const AcpiConfig& cfg) {
  // xAPIC entries hold 8-bit IDs, and 0xFF is the broadcast ID; the processor UID is the
  // vCPU's index, and 0xFF means "all processors" in the NMI entry below.
  if (cfg.apic_ids.empty() || cfg.apic_ids.size() > 0xFF) {
    throw std::invalid_argument("MADT needs 1-255 processors");
  }
  if (cfg.ioapic_id > 0xFF) throw std::invalid_argument("IOAPIC id must fit 8 bits");
  if (cfg.sci_irq >= 16) throw std::invalid_argument("SCI must be an ISA IRQ");

  std::vector<std::byte> t = make_table_header("APIC", kMadtRevision, cfg.oem_id);
  append_le<uint32_t>(t, kLapicAddress);
  append_le<uint32_t>(t, kFlagPcatCompat);
  for (size_t uid = 0; uid < cfg.apic_ids.size(); ++uid) {
    const uint32_t id = cfg.apic_ids[uid];
    if (id >= 0xFF) throw std::invalid_argument("APIC id must be below 255 (no x2APIC entries)");
    append_le<uint8_t>(t, kTypeLocalApic);
    append_le<uint8_t>(t, kLenLocalApic);
    append_le<uint8_t>(t, static_cast<uint8_t>(uid));
    append_le<uint8_t>(t, static_cast<uint8_t>(id));
    append_le<uint32_t>(t, kLapicEnabled);
  }
  append_le<uint8_t>(t, kTypeIoApic);
  append_le<uint8_t>(t, kLenIoApic);
  append_le<uint8_t>(t, static_cast<uint8_t>(cfg.ioapic_id));
  append_le<uint8_t>(t, 0);  // reserved
  append_le<uint32_t>(t, kIoapicAddress);
  append_le<uint32_t>(t, 0);  // GSI base: the one IOAPIC takes GSIs 0-23
  // The PIT's IRQ 0 is wired to IOAPIC pin 2 on PC chipsets (pin 0 carries the 8259's INTR).
  append_override(t, 0, 2, kActiveHigh | kEdge);
  // ISA IRQs default to edge-triggered; the SCI is a level-triggered interrupt and so takes an
  // override (section 5.2.12.5), active high as the PIIX4 drives it into the IOAPIC.
  append_override(t, cfg.sci_irq, cfg.sci_irq, kActiveHigh | kLevel);
  // LINT1 of every local APIC is wired to NMI (MP specification 1.4, virtual wire mode).
  append_le<uint8_t>(t, kTypeLocalApicNmi);
  append_le<uint8_t>(t, kLenLocalApicNmi);
  append_le<uint8_t>(t, kAllProcessors);
  append_le<uint16_t>(t, kConforms);
  append_le<uint8_t>(t, 1);  // LINT1
  finish_table(t);
  return t;
}

}  // namespace firmware
