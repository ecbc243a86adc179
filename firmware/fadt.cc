#include "firmware/fadt.h"

#include <stdexcept>

#include "firmware/acpi_table.h"
#include "firmware/byte_writer.h"

namespace firmware {
namespace {

// ACPI 6.x section 5.2.9, Table 5.9. Revision 6 adds the Hypervisor Vendor Identity field
// (276 bytes in all).
constexpr uint8_t kFadtRevision = 6;
constexpr uint8_t kFadtMinorRevision = 0;

// Register block lengths of the PIIX4 power-management function (PIIX4 datasheet, section
// 7.2, PMBA: PMSTS/PMEN at +0, PMCNTRL at +4, PMTMR at +8; GPSTS/GPEN at GPE0).
constexpr uint8_t kPm1EvtLen = 4;
constexpr uint8_t kPm1CntLen = 2;
constexpr uint8_t kPmTmrLen = 4;
constexpr uint8_t kGpe0Len = 4;

// Fixed feature flags, Table 5.10.
constexpr uint32_t kFlagWbinvd = 1u << 0;        // WBINVD flushes caches correctly
constexpr uint32_t kFlagProcC1 = 1u << 2;        // C1 (HLT) works on every processor
constexpr uint32_t kFlagSlpButton = 1u << 5;     // no fixed-feature sleep button
constexpr uint32_t kFlagRtcS4 = 1u << 7;         // the RTC can wake from S4
constexpr uint32_t kFlagResetRegSup = 1u << 10;  // RESET_REG is supported
// TMR_VAL_EXT (bit 8) stays clear: the PIIX4 PM timer is 24 bits wide.

// IA-PC boot architecture flags, Table 5.11.
constexpr uint16_t kBootArchLegacyDevices = 1u << 0;  // ISA devices (COM1, RTC) exist
constexpr uint16_t kBootArch8042 = 1u << 1;           // an i8042 keyboard controller exists

// P_LVL2_LAT above 100 and P_LVL3_LAT above 1000 mean the state is not supported.
constexpr uint16_t kNoC2Latency = 0x0FFF;
constexpr uint16_t kNoC3Latency = 0x0FFF;

// The PIIX3 Reset Control Register (PIIX3 datasheet, RC at port 0xCF9): writing 0x06 sets
// SYS_RST and RST_CPU, a hard reset.
constexpr uint16_t kResetPort = 0xCF9;
constexpr uint8_t kResetValue = 0x06;

// Generic Address Structure, ACPI 6.x section 5.2.3.2.
constexpr uint8_t kSpaceSystemIo = 1;
constexpr uint8_t kAccessUndefined = 0;
constexpr uint8_t kAccessByte = 1;
constexpr uint8_t kAccessWord = 2;
constexpr uint8_t kAccessDWord = 3;

void append_gas(std::vector<std::byte>& out, uint8_t space, uint8_t bit_width, uint8_t access,
                uint64_t address) {
  append_le<uint8_t>(out, space);
  append_le<uint8_t>(out, bit_width);
  append_le<uint8_t>(out, 0);  // register bit offset
  append_le<uint8_t>(out, access);
  append_le<uint64_t>(out, address);
}

void append_empty_gas(std::vector<std::byte>& out) { append_gas(out, 0, 0, kAccessUndefined, 0); }

// An I/O register block as a GAS: the X_ twin of a 32-bit block address and its length.
void append_io_block(std::vector<std::byte>& out, uint16_t port, uint8_t len, uint8_t access) {
  append_gas(out, kSpaceSystemIo, static_cast<uint8_t>(len * 8), access, port);
}

}  // namespace

std::vector<std::byte> build_facs() {
  // ACPI 6.x section 5.2.10; the FACS has no checksum. Version 2 has the 64-bit waking vector.
  std::vector<std::byte> out;
  append_padded_ascii(out, "FACS", 4);
  append_le<uint32_t>(out, 64);  // Length
  append_le<uint32_t>(out, 0);   // Hardware Signature
  append_le<uint32_t>(out, 0);   // Firmware Waking Vector (no S3)
  append_le<uint32_t>(out, 0);   // Global Lock
  append_le<uint32_t>(out, 0);   // Flags: no S4BIOS, no 64-bit wake
  append_le<uint64_t>(out, 0);   // X_Firmware Waking Vector
  append_le<uint8_t>(out, 2);    // Version
  out.resize(64);                // Reserved, OSPM Flags, Reserved: zero
  return out;
}

std::vector<std::byte> build_fadt(const AcpiConfig& cfg, uint64_t facs_gpa, uint64_t dsdt_gpa) {
  if (cfg.pm_base > 0x10000 - 12) throw std::invalid_argument("pm_base too high for the PM blocks");
  if (cfg.gpe0_base > 0x10000 - kGpe0Len) throw std::invalid_argument("gpe0_base too high");
  const uint32_t facs32 = table_address32(facs_gpa);
  const uint32_t dsdt32 = table_address32(dsdt_gpa);
  const uint16_t pm1_evt = cfg.pm_base;
  const uint16_t pm1_cnt = static_cast<uint16_t>(cfg.pm_base + 4);
  const uint16_t pm_tmr = static_cast<uint16_t>(cfg.pm_base + 8);

  std::vector<std::byte> t = make_table_header("FACP", kFadtRevision, cfg.oem_id);
  append_le<uint32_t>(t, facs32);       // 36 FIRMWARE_CTRL
  append_le<uint32_t>(t, dsdt32);       // 40 DSDT
  append_le<uint8_t>(t, 0);             // 44 reserved
  append_le<uint8_t>(t, 0);             // 45 Preferred_PM_Profile: unspecified
  append_le<uint16_t>(t, cfg.sci_irq);  // 46 SCI_INT
  // 48 SMI_CMD = 0 declares a system that is always in ACPI mode (Table 5.9): there is no SMM
  // to hand over from, so the PM model must start with SCI_EN set. ACPI_ENABLE, ACPI_DISABLE,
  // S4BIOS_REQ and PSTATE_CNT are then unused.
  append_le<uint32_t>(t, 0);
  append_le<uint32_t>(t, 0);              // 52-55
  append_le<uint32_t>(t, pm1_evt);        // 56 PM1a_EVT_BLK
  append_le<uint32_t>(t, 0);              // 60 PM1b_EVT_BLK
  append_le<uint32_t>(t, pm1_cnt);        // 64 PM1a_CNT_BLK
  append_le<uint32_t>(t, 0);              // 68 PM1b_CNT_BLK
  append_le<uint32_t>(t, 0);              // 72 PM2_CNT_BLK
  append_le<uint32_t>(t, pm_tmr);         // 76 PM_TMR_BLK
  append_le<uint32_t>(t, cfg.gpe0_base);  // 80 GPE0_BLK
  append_le<uint32_t>(t, 0);              // 84 GPE1_BLK
  append_le<uint8_t>(t, kPm1EvtLen);      // 88 PM1_EVT_LEN
  append_le<uint8_t>(t, kPm1CntLen);      // 89 PM1_CNT_LEN
  append_le<uint8_t>(t, 0);               // 90 PM2_CNT_LEN
  append_le<uint8_t>(t, kPmTmrLen);       // 91 PM_TMR_LEN
  append_le<uint8_t>(t, kGpe0Len);        // 92 GPE0_BLK_LEN
  append_le<uint8_t>(t, 0);               // 93 GPE1_BLK_LEN
  append_le<uint8_t>(t, 0);               // 94 GPE1_BASE
  append_le<uint8_t>(t, 0);               // 95 CST_CNT
  append_le<uint16_t>(t, kNoC2Latency);   // 96 P_LVL2_LAT
  append_le<uint16_t>(t, kNoC3Latency);   // 98 P_LVL3_LAT
  append_le<uint16_t>(t, 0);              // 100 FLUSH_SIZE
  append_le<uint16_t>(t, 0);              // 102 FLUSH_STRIDE
  append_le<uint8_t>(t, 0);               // 104 DUTY_OFFSET
  append_le<uint8_t>(t, 0);               // 105 DUTY_WIDTH
  append_le<uint8_t>(t, 0);               // 106 DAY_ALRM
  append_le<uint8_t>(t, 0);               // 107 MON_ALRM
  append_le<uint8_t>(t, 0);               // 108 CENTURY: no CMOS century byte advertised
  append_le<uint16_t>(t, kBootArchLegacyDevices | kBootArch8042);  // 109 IAPC_BOOT_ARCH
  append_le<uint8_t>(t, 0);                                        // 111 reserved
  append_le<uint32_t>(
      t, kFlagWbinvd | kFlagProcC1 | kFlagSlpButton | kFlagRtcS4 | kFlagResetRegSup);  // 112 Flags
  append_io_block(t, kResetPort, 1, kAccessByte);  // 116 RESET_REG
  append_le<uint8_t>(t, kResetValue);              // 128 RESET_VALUE
  append_le<uint16_t>(t, 0);                       // 129 ARM_BOOT_ARCH
  append_le<uint8_t>(t, kFadtMinorRevision);       // 131 FADT Minor Version
  append_le<uint64_t>(t, facs_gpa);                // 132 X_FIRMWARE_CTRL
  append_le<uint64_t>(t, dsdt_gpa);                // 140 X_DSDT
  // The X_ blocks repeat the 32-bit ones (ACPICA warns when the two disagree). PM1 status and
  // enable are 16-bit registers, PM1 control 16, the timer 32, GPE registers 8.
  append_io_block(t, pm1_evt, kPm1EvtLen, kAccessWord);      // 148 X_PM1a_EVT_BLK
  append_empty_gas(t);                                       // 160 X_PM1b_EVT_BLK
  append_io_block(t, pm1_cnt, kPm1CntLen, kAccessWord);      // 172 X_PM1a_CNT_BLK
  append_empty_gas(t);                                       // 184 X_PM1b_CNT_BLK
  append_empty_gas(t);                                       // 196 X_PM2_CNT_BLK
  append_io_block(t, pm_tmr, kPmTmrLen, kAccessDWord);       // 208 X_PM_TMR_BLK
  append_io_block(t, cfg.gpe0_base, kGpe0Len, kAccessByte);  // 220 X_GPE0_BLK
  append_empty_gas(t);                                       // 232 X_GPE1_BLK
  append_empty_gas(t);        // 244 SLEEP_CONTROL_REG (hardware-reduced only)
  append_empty_gas(t);        // 256 SLEEP_STATUS_REG
  append_le<uint64_t>(t, 0);  // 268 Hypervisor Vendor Identity
  finish_table(t);
  return t;
}

}  // namespace firmware
