// The table blob as a guest's OS reads it: from the RSDP through the XSDT to each table, with
// field offsets taken from ACPI 6.x chapter 5.
#include "firmware/acpi_tables.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "firmware/acpi_table.h"
#include "firmware/aml.h"
#include "tests/unit/firmware/aml_reader.h"

namespace firmware {
namespace {

using testing::AmlObject;
using testing::Resource;

constexpr uint64_t kBase = 0xE0000;

AcpiConfig pc_config() {
  AcpiConfig cfg;
  cfg.apic_ids = {0, 2, 4, 6};
  cfg.ioapic_id = 4;
  cfg.pm_base = 0xB000;
  cfg.gpe0_base = 0xAFE0;
  cfg.sci_irq = 9;
  cfg.pci_hole_start = 0xC0000000;
  cfg.pci_hole64_start = 0x2000000000;
  cfg.pci_hole64_size = 0x800000000;
  cfg.pci_routes = {{1, 0, 16}, {5, 0, 17}, {6, 0, 18}, {6, 1, 19}, {7, 3, 23}};
  return cfg;
}

// A view of the blob by guest physical address, every access bounds-checked.
class GuestView {
 public:
  explicit GuestView(const AcpiBlob& blob) : blob_(blob) {}

  bool contains(uint64_t gpa, uint64_t len) const {
    return gpa >= kBase && len <= blob_.bytes.size() && gpa - kBase <= blob_.bytes.size() - len;
  }
  std::span<const std::byte> bytes(uint64_t gpa, uint64_t len) const {
    if (!contains(gpa, len)) throw std::out_of_range("outside the blob: " + std::to_string(gpa));
    return std::span(blob_.bytes).subspan(gpa - kBase, len);
  }
  uint64_t le(uint64_t gpa, size_t n) const {
    auto s = bytes(gpa, n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(s[i])} << (8 * i);
    return v;
  }
  std::string text(uint64_t gpa, size_t n) const {
    auto s = bytes(gpa, n);
    return std::string(reinterpret_cast<const char*>(s.data()), n);
  }
  // A whole table at `gpa`, as long as its Length field says.
  std::span<const std::byte> table(uint64_t gpa) const { return bytes(gpa, le(gpa + 4, 4)); }

  uint64_t xsdt() const { return le(blob_.rsdp_gpa + 24, 8); }
  uint64_t rsdt() const { return le(blob_.rsdp_gpa + 16, 4); }
  std::vector<uint64_t> xsdt_entries() const {
    std::vector<uint64_t> out;
    const uint64_t len = le(xsdt() + 4, 4);
    for (uint64_t off = kAcpiHeaderSize; off < len; off += 8) out.push_back(le(xsdt() + off, 8));
    return out;
  }
  // The table listed in the XSDT with this signature.
  uint64_t find(std::string_view sig) const {
    for (uint64_t gpa : xsdt_entries()) {
      if (text(gpa, 4) == sig) return gpa;
    }
    throw std::runtime_error("no table " + std::string(sig));
  }

 private:
  const AcpiBlob& blob_;
};

int byte_sum(std::span<const std::byte> bytes) {
  unsigned sum = 0;
  for (std::byte x : bytes) sum += static_cast<uint8_t>(x);
  return static_cast<int>(sum & 0xFF);
}

testing::AmlNamespace decode_dsdt(const GuestView& g) {
  const uint64_t dsdt = g.le(g.find("FACP") + 140, 8);
  return testing::decode_aml(g.table(dsdt).subspan(kAcpiHeaderSize));
}

TEST(AcpiTables, RsdpComesFirstWithBothChecksums) {
  const AcpiBlob blob = build_acpi_tables(pc_config(), kBase);
  const GuestView g(blob);
  EXPECT_EQ(blob.rsdp_gpa, kBase);
  EXPECT_EQ(g.text(kBase, 8), "RSD PTR ");
  EXPECT_EQ(byte_sum(g.bytes(kBase, 20)), 0);  // ACPI 1.0 checksum
  EXPECT_EQ(g.le(kBase + 15, 1), 2u);          // Revision
  EXPECT_EQ(g.le(kBase + 20, 4), 36u);         // Length
  EXPECT_EQ(byte_sum(g.bytes(kBase, 36)), 0);  // extended checksum
  EXPECT_EQ(g.text(kBase + 9, 6), "MINVMM");
  EXPECT_EQ(g.text(g.rsdt(), 4), "RSDT");
  EXPECT_EQ(g.text(g.xsdt(), 4), "XSDT");
}

TEST(AcpiTables, EveryTableSumsToZeroAndFitsItsLength) {
  const AcpiBlob blob = build_acpi_tables(pc_config(), kBase);
  const GuestView g(blob);
  std::vector<uint64_t> tables = g.xsdt_entries();
  tables.push_back(g.xsdt());
  tables.push_back(g.rsdt());
  tables.push_back(g.le(g.find("FACP") + 140, 8));  // the DSDT, reached only through the FADT
  std::vector<std::pair<uint64_t, uint64_t>> extents = {{kBase, 36}};  // the RSDP
  for (uint64_t gpa : tables) {
    const auto t = g.table(gpa);
    ASSERT_GE(t.size(), kAcpiHeaderSize);
    EXPECT_EQ(byte_sum(t), 0) << g.text(gpa, 4);
    EXPECT_EQ(gpa % 4, 0u) << g.text(gpa, 4);
    extents.emplace_back(gpa, t.size());
  }
  const uint64_t facs = g.le(g.find("FACP") + 36, 4);
  extents.emplace_back(facs, g.le(facs + 4, 4));
  // Laid end to end with only alignment padding between them, the Length fields account for
  // the whole blob: a wrong Length would overlap the next table or leave a hole.
  std::sort(extents.begin(), extents.end());
  for (size_t i = 1; i < extents.size(); ++i) {
    const uint64_t prev_end = extents[i - 1].first + extents[i - 1].second;
    EXPECT_GE(extents[i].first, prev_end);
    EXPECT_LT(extents[i].first - prev_end, 64u);
  }
  EXPECT_EQ(extents.back().first + extents.back().second, kBase + blob.bytes.size());
}

TEST(AcpiTables, RsdtAndXsdtListFadtThenMadt) {
  const AcpiBlob blob = build_acpi_tables(pc_config(), kBase);
  const GuestView g(blob);
  const auto entries = g.xsdt_entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(g.text(entries[0], 4), "FACP");
  EXPECT_EQ(g.text(entries[1], 4), "APIC");
  ASSERT_EQ(g.le(g.rsdt() + 4, 4), kAcpiHeaderSize + 4 * entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(g.le(g.rsdt() + kAcpiHeaderSize + 4 * i, 4), entries[i]);
  }
}

TEST(AcpiTables, ExtraTablesAreListedAndCopiedVerbatim) {
  AcpiConfig cfg = pc_config();
  std::vector<std::byte> srat = make_table_header("SRAT", 3, "MINVMM");
  srat.resize(srat.size() + 40, std::byte{0x5A});
  finish_table(srat);
  std::vector<std::byte> slit = make_table_header("SLIT", 1, "MINVMM");
  slit.resize(slit.size() + 12, std::byte{0x0A});
  finish_table(slit);
  cfg.extra_tables = {srat, slit};
  const AcpiBlob blob = build_acpi_tables(cfg, kBase);
  const GuestView g(blob);
  const auto entries = g.xsdt_entries();
  ASSERT_EQ(entries.size(), 4u);
  const auto srat_in = g.table(entries[2]);
  const auto slit_in = g.table(entries[3]);
  EXPECT_TRUE(std::equal(srat_in.begin(), srat_in.end(), srat.begin(), srat.end()));
  EXPECT_TRUE(std::equal(slit_in.begin(), slit_in.end(), slit.begin(), slit.end()));
  EXPECT_EQ(g.le(g.rsdt() + kAcpiHeaderSize + 12, 4), entries[3]);
}

TEST(AcpiTables, RejectsUnfinishedExtraTables) {
  AcpiConfig cfg = pc_config();
  std::vector<std::byte> table = make_table_header("SRAT", 3, "MINVMM");
  table.resize(48);
  cfg.extra_tables = {table};  // Length still 0
  EXPECT_THROW(build_acpi_tables(cfg, kBase), std::invalid_argument);
  finish_table(table);
  table[40] = std::byte{1};  // checksum now off
  cfg.extra_tables = {table};
  EXPECT_THROW(build_acpi_tables(cfg, kBase), std::invalid_argument);
  cfg.extra_tables = {std::vector<std::byte>(10)};
  EXPECT_THROW(build_acpi_tables(cfg, kBase), std::invalid_argument);
}

TEST(AcpiTables, TableHeaderHelperFillsLengthAndChecksum) {
  std::vector<std::byte> t = make_table_header("TEST", 7, "OEM", "TABLE");
  ASSERT_EQ(t.size(), kAcpiHeaderSize);
  t.push_back(std::byte{0x99});
  finish_table(t);
  EXPECT_EQ(static_cast<uint8_t>(t[4]), 37);
  EXPECT_EQ(static_cast<uint8_t>(t[8]), 7);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&t[10]), 6), "OEM   ");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&t[16]), 8), "TABLE   ");
  EXPECT_EQ(byte_sum(t), 0);
  EXPECT_THROW(make_table_header("TOOLONG", 1, "OEM"), std::invalid_argument);
  EXPECT_THROW(make_table_header("TEST", 1, "SEVENCH"), std::invalid_argument);
  std::vector<std::byte> short_table(10);
  EXPECT_THROW(finish_table(short_table), std::invalid_argument);
}

TEST(AcpiFadt, DescribesThePiix4PowerManagementBlocks) {
  const AcpiConfig cfg = pc_config();
  const AcpiBlob blob = build_acpi_tables(cfg, kBase);
  const GuestView g(blob);
  const uint64_t f = g.find("FACP");
  EXPECT_GE(g.le(f + 8, 1), 5u);        // Revision
  EXPECT_EQ(g.le(f + 4, 4), 276u);      // the ACPI 6 FADT length
  EXPECT_EQ(g.le(f + 46, 2), 9u);       // SCI_INT
  EXPECT_EQ(g.le(f + 48, 4), 0u);       // SMI_CMD: already in ACPI mode
  EXPECT_EQ(g.le(f + 56, 4), 0xB000u);  // PM1a_EVT_BLK
  EXPECT_EQ(g.le(f + 64, 4), 0xB004u);  // PM1a_CNT_BLK
  EXPECT_EQ(g.le(f + 76, 4), 0xB008u);  // PM_TMR_BLK
  EXPECT_EQ(g.le(f + 80, 4), 0xAFE0u);  // GPE0_BLK
  EXPECT_EQ(g.le(f + 60, 4), 0u);       // no PM1b blocks
  EXPECT_EQ(g.le(f + 68, 4), 0u);
  EXPECT_EQ(g.le(f + 88, 1), 4u);  // PM1_EVT_LEN
  EXPECT_EQ(g.le(f + 89, 1), 2u);  // PM1_CNT_LEN
  EXPECT_EQ(g.le(f + 91, 1), 4u);  // PM_TMR_LEN
  EXPECT_EQ(g.le(f + 92, 1), 4u);  // GPE0_BLK_LEN
  const uint64_t boot_arch = g.le(f + 109, 2);
  EXPECT_EQ(boot_arch & 0x3, 0x3u);  // LEGACY_DEVICES, 8042
  const uint64_t flags = g.le(f + 112, 4);
  EXPECT_TRUE(flags & (1u << 0));    // WBINVD
  EXPECT_TRUE(flags & (1u << 2));    // PROC_C1
  EXPECT_TRUE(flags & (1u << 5));    // SLP_BUTTON
  EXPECT_TRUE(flags & (1u << 7));    // RTC_S4
  EXPECT_FALSE(flags & (1u << 8));   // TMR_VAL_EXT: 24-bit timer
  EXPECT_TRUE(flags & (1u << 10));   // RESET_REG_SUP
  EXPECT_FALSE(flags & (1u << 20));  // HW_REDUCED_ACPI
}

TEST(AcpiFadt, ResetRegisterIsPort0xCf9Value6) {
  const AcpiBlob blob = build_acpi_tables(pc_config(), kBase);
  const GuestView g(blob);
  const uint64_t f = g.find("FACP");
  EXPECT_EQ(g.le(f + 116, 1), 1u);      // System I/O
  EXPECT_EQ(g.le(f + 117, 1), 8u);      // 8 bits wide
  EXPECT_EQ(g.le(f + 120, 8), 0xCF9u);  // address
  EXPECT_EQ(g.le(f + 128, 1), 0x06u);   // RESET_VALUE
}

TEST(AcpiFadt, ExtendedBlocksRepeatTheLegacyOnes) {
  const AcpiBlob blob = build_acpi_tables(pc_config(), kBase);
  const GuestView g(blob);
  const uint64_t f = g.find("FACP");
  struct Block {
    uint64_t legacy_offset, len_offset, gas_offset;
  };
  // PM1a_EVT, PM1a_CNT, PM_TMR, GPE0 and their X_ GAS twins.
  for (const Block& blk :
       {Block{56, 88, 148}, Block{64, 89, 172}, Block{76, 91, 208}, Block{80, 92, 220}}) {
    EXPECT_EQ(g.le(f + blk.gas_offset, 1), 1u) << blk.gas_offset;  // System I/O
    EXPECT_EQ(g.le(f + blk.gas_offset + 1, 1), 8 * g.le(f + blk.len_offset, 1)) << blk.gas_offset;
    EXPECT_EQ(g.le(f + blk.gas_offset + 4, 8), g.le(f + blk.legacy_offset, 4)) << blk.gas_offset;
  }
}

TEST(AcpiFadt, PointsAtTheDsdtAndAnAlignedFacs) {
  const AcpiBlob blob = build_acpi_tables(pc_config(), kBase);
  const GuestView g(blob);
  const uint64_t f = g.find("FACP");
  const uint64_t dsdt = g.le(f + 40, 4);
  EXPECT_EQ(g.le(f + 140, 8), dsdt);  // X_DSDT
  EXPECT_EQ(g.text(dsdt, 4), "DSDT");
  EXPECT_GE(g.le(dsdt + 8, 1), 2u);  // 64-bit AML integers
  const uint64_t facs = g.le(f + 36, 4);
  EXPECT_EQ(g.le(f + 132, 8), facs);  // X_FIRMWARE_CTRL
  EXPECT_EQ(facs % 64, 0u);
  EXPECT_EQ(g.text(facs, 4), "FACS");
  EXPECT_EQ(g.le(facs + 4, 4), 64u);
  EXPECT_TRUE(g.contains(facs, 64));
}

TEST(AcpiMadt, ListsEveryProcessorTheIoapicAndTheOverrides) {
  const AcpiConfig cfg = pc_config();
  const AcpiBlob blob = build_acpi_tables(cfg, kBase);
  const GuestView g(blob);
  const uint64_t m = g.find("APIC");
  EXPECT_EQ(g.le(m + 36, 4), 0xFEE00000u);  // local APIC address
  EXPECT_EQ(g.le(m + 40, 4) & 1, 1u);       // PCAT_COMPAT
  std::vector<uint64_t> apic_ids;
  std::set<uint64_t> uids;
  int ioapics = 0, nmis = 0;
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> overrides;  // IRQ -> {GSI, flags}
  const uint64_t end = m + g.le(m + 4, 4);
  for (uint64_t p = m + 44; p < end;) {
    const uint64_t type = g.le(p, 1), len = g.le(p + 1, 1);
    ASSERT_GE(len, 2u);
    ASSERT_LE(p + len, end);
    if (type == 0) {
      ASSERT_EQ(len, 8u);
      uids.insert(g.le(p + 2, 1));
      apic_ids.push_back(g.le(p + 3, 1));
      EXPECT_EQ(g.le(p + 4, 4) & 1, 1u);  // enabled
    } else if (type == 1) {
      ASSERT_EQ(len, 12u);
      ++ioapics;
      EXPECT_EQ(g.le(p + 2, 1), cfg.ioapic_id);
      EXPECT_EQ(g.le(p + 4, 4), 0xFEC00000u);
      EXPECT_EQ(g.le(p + 8, 4), 0u);  // GSI base
    } else if (type == 2) {
      ASSERT_EQ(len, 10u);
      EXPECT_EQ(g.le(p + 2, 1), 0u);  // ISA
      overrides[g.le(p + 3, 1)] = {g.le(p + 4, 4), g.le(p + 8, 2)};
    } else if (type == 4) {
      ASSERT_EQ(len, 6u);
      ++nmis;
      EXPECT_EQ(g.le(p + 2, 1), 0xFFu);  // all processors
      EXPECT_EQ(g.le(p + 5, 1), 1u);     // LINT1
    } else {
      ADD_FAILURE() << "unexpected MADT entry type " << type;
    }
    p += len;
  }
  EXPECT_EQ(apic_ids, std::vector<uint64_t>(cfg.apic_ids.begin(), cfg.apic_ids.end()));
  EXPECT_EQ(uids.size(), cfg.apic_ids.size());
  EXPECT_EQ(ioapics, 1);
  EXPECT_EQ(nmis, 1);
  ASSERT_EQ(overrides.size(), 2u);
  EXPECT_EQ(overrides.at(0).first, 2u);
  EXPECT_EQ(overrides.at(0).second >> 2 & 3, 1u);  // edge
  EXPECT_EQ(overrides.at(9).first, 9u);
  EXPECT_EQ(overrides.at(9).second & 3, 1u);       // active high
  EXPECT_EQ(overrides.at(9).second >> 2 & 3, 3u);  // level
}

TEST(AcpiDsdt, DeclaresS5AndTheDevices) {
  const AcpiBlob blob = build_acpi_tables(pc_config(), kBase);
  const auto ns = decode_dsdt(GuestView(blob));
  const AmlObject& s5 = ns.names.at("\\_S5_");
  ASSERT_EQ(s5.kind, AmlObject::Kind::kPackage);
  ASSERT_GE(s5.elements.size(), 2u);
  EXPECT_EQ(s5.elements[0].kind, AmlObject::Kind::kInteger);
  EXPECT_EQ(s5.elements[0].integer, 0u);  // PIIX4 SUS_TYP for soft-off
  EXPECT_EQ(s5.elements[1].integer, 0u);
  const std::set<std::string> devices(ns.devices.begin(), ns.devices.end());
  for (const char* d :
       {"\\_SB_.PCI0", "\\_SB_.PCI0.ISA_.COM1", "\\_SB_.PCI0.ISA_.RTC_", "\\_SB_.PCI0.ISA_.KBD_"}) {
    EXPECT_TRUE(devices.count(d)) << d;
  }
  EXPECT_EQ(ns.names.at("\\_SB_.PCI0._HID").integer, 0x030AD041u);  // PNP0A03
  EXPECT_EQ(ns.names.at("\\_SB_.PCI0._UID").integer, 0u);
  EXPECT_EQ(ns.names.at("\\_SB_.PCI0._BBN").integer, 0u);
  EXPECT_EQ(ns.names.at("\\_SB_.PCI0.ISA_._ADR").integer, 0x00010000u);       // 00:01.0
  EXPECT_EQ(ns.names.at("\\_SB_.PCI0.ISA_.COM1._HID").integer, 0x0105D041u);  // PNP0501
  EXPECT_EQ(ns.names.at("\\_SB_.PCI0.ISA_.COM1._UID").integer, 1u);
  EXPECT_EQ(ns.names.at("\\_SB_.PCI0.ISA_.RTC_._HID").integer, 0x000BD041u);  // PNP0B00
  EXPECT_EQ(ns.names.at("\\_SB_.PCI0.ISA_.KBD_._HID").integer, 0x0303D041u);  // PNP0303
}

// The decoded _CRS of `device`, without its End Tag.
std::vector<Resource> crs(const testing::AmlNamespace& ns, const std::string& device) {
  const AmlObject& obj = ns.names.at(device + "._CRS");
  EXPECT_EQ(obj.kind, AmlObject::Kind::kBuffer);
  auto res = testing::decode_resources(obj.buffer);
  EXPECT_EQ(res.back().kind, Resource::Kind::kEndTag);
  res.pop_back();
  return res;
}

TEST(AcpiDsdt, IsaDevicesClaimTheirPortsAndIrqs) {
  const AcpiBlob blob = build_acpi_tables(pc_config(), kBase);
  const auto ns = decode_dsdt(GuestView(blob));
  struct Expect {
    const char* device;
    std::vector<std::pair<uint64_t, uint64_t>> ports;  // base, length
    uint64_t irq;
  };
  for (const Expect& e : {Expect{"\\_SB_.PCI0.ISA_.COM1", {{0x3F8, 8}}, 4},
                          Expect{"\\_SB_.PCI0.ISA_.RTC_", {{0x70, 2}}, 8},
                          Expect{"\\_SB_.PCI0.ISA_.KBD_", {{0x60, 1}, {0x64, 1}}, 1}}) {
    std::vector<std::pair<uint64_t, uint64_t>> ports;
    std::vector<uint64_t> irqs;
    for (const Resource& r : crs(ns, e.device)) {
      if (r.kind == Resource::Kind::kIo) {
        EXPECT_EQ(r.min, r.max) << e.device;
        ports.emplace_back(r.min, r.length);
      } else if (r.kind == Resource::Kind::kIrq) {
        irqs.push_back(r.min);
      } else {
        ADD_FAILURE() << e.device << " has an unexpected resource";
      }
    }
    EXPECT_EQ(ports, e.ports) << e.device;
    EXPECT_EQ(irqs, std::vector<uint64_t>{e.irq}) << e.device;
  }
}

TEST(AcpiDsdt, HostBridgeProducesBusIoAndMemoryWindows) {
  const AcpiConfig cfg = pc_config();
  const AcpiBlob blob = build_acpi_tables(cfg, kBase);
  const auto res = crs(decode_dsdt(GuestView(blob)), "\\_SB_.PCI0");
  std::vector<std::pair<uint64_t, uint64_t>> buses, io_windows, mem_windows, consumed_io;
  for (const Resource& r : res) {
    const auto range = std::make_pair(r.min, r.max);
    if (r.kind == Resource::Kind::kBusNumber) buses.push_back(range);
    if (r.kind == Resource::Kind::kIoRange) io_windows.push_back(range);
    if (r.kind == Resource::Kind::kMemoryRange) mem_windows.push_back(range);
    if (r.kind == Resource::Kind::kIo) consumed_io.emplace_back(r.min, r.length);
    if (r.kind != Resource::Kind::kIo) {
      EXPECT_EQ(r.length, r.max - r.min + 1);
      EXPECT_EQ(r.general_flags & 1, 0);  // produced for the devices below the bridge
    }
  }
  using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(buses, (Ranges{{0, 0xFF}}));
  EXPECT_EQ(consumed_io, (Ranges{{0xCF8, 8}}));
  EXPECT_EQ(io_windows, (Ranges{{0, 0xCF7}, {0xD00, 0xFFFF}}));
  EXPECT_EQ(mem_windows,
            (Ranges{{0xA0000, 0xBFFFF},
                    {cfg.pci_hole_start, 0xFEBFFFFF},
                    {cfg.pci_hole64_start, cfg.pci_hole64_start + cfg.pci_hole64_size - 1}}));
}

TEST(AcpiDsdt, OmitsThe64BitWindowWhenItIsEmpty) {
  AcpiConfig cfg = pc_config();
  cfg.pci_hole64_size = 0;
  const AcpiBlob blob = build_acpi_tables(cfg, kBase);
  for (const Resource& r : crs(decode_dsdt(GuestView(blob)), "\\_SB_.PCI0")) {
    EXPECT_NE(r.width, 64u);
    EXPECT_LT(r.max, uint64_t{1} << 32);
  }
}

TEST(AcpiDsdt, RoutingTableHasOneStaticGsiEntryPerRoute) {
  const AcpiConfig cfg = pc_config();
  const AcpiBlob blob = build_acpi_tables(cfg, kBase);
  const auto ns = decode_dsdt(GuestView(blob));
  const AmlObject& prt = ns.names.at("\\_SB_.PCI0._PRT");
  ASSERT_EQ(prt.kind, AmlObject::Kind::kPackage);
  ASSERT_EQ(prt.elements.size(), cfg.pci_routes.size());
  for (size_t i = 0; i < prt.elements.size(); ++i) {
    const AmlObject& e = prt.elements[i];
    const PciIrqRoute& r = cfg.pci_routes[i];
    ASSERT_EQ(e.kind, AmlObject::Kind::kPackage);
    ASSERT_EQ(e.elements.size(), 4u);
    for (const AmlObject& field : e.elements) EXPECT_EQ(field.kind, AmlObject::Kind::kInteger);
    EXPECT_EQ(e.elements[0].integer, (uint64_t{r.slot} << 16) | 0xFFFF);  // any function
    EXPECT_EQ(e.elements[1].integer, r.pin);
    EXPECT_EQ(e.elements[2].integer, 0u);  // no link device: Source Index is the GSI
    EXPECT_EQ(e.elements[3].integer, r.gsi);
  }
}

TEST(AcpiTables, ManyCpusAndRoutesStillFitTheBiosArea) {
  AcpiConfig cfg = pc_config();
  cfg.apic_ids.clear();
  for (uint32_t i = 0; i < 254; ++i) cfg.apic_ids.push_back(i);
  cfg.ioapic_id = 254;
  cfg.pci_routes.clear();
  for (uint8_t slot = 0; slot < 32; ++slot) {
    for (uint8_t pin = 0; pin < 4; ++pin) {
      cfg.pci_routes.push_back({slot, pin, 16u + (slot + pin) % 8});
    }
  }
  const AcpiBlob blob = build_acpi_tables(cfg, kBase);
  EXPECT_LE(kBase + blob.bytes.size(), 0x100000u);
  const GuestView g(blob);
  const auto ns = decode_dsdt(g);
  EXPECT_EQ(ns.names.at("\\_SB_.PCI0._PRT").elements.size(), 128u);
  EXPECT_EQ(g.le(g.find("APIC") + 4, 4), 44u + 254 * 8 + 12 + 2 * 10 + 6);
}

TEST(AcpiTables, RejectsBadConfigurations) {
  EXPECT_THROW(build_acpi_tables(pc_config(), kBase + 8), std::invalid_argument);
  EXPECT_THROW(build_acpi_tables(pc_config(), uint64_t{1} << 32), std::invalid_argument);
  EXPECT_THROW(build_acpi_tables(pc_config(), 0xFFFFFF00), std::invalid_argument);
  auto with = [](auto change) {
    AcpiConfig cfg = pc_config();
    change(cfg);
    return cfg;
  };
  const std::vector<AcpiConfig> bad = {
      with([](AcpiConfig& c) { c.apic_ids.clear(); }),
      with([](AcpiConfig& c) { c.apic_ids[1] = 255; }),
      with([](AcpiConfig& c) { c.ioapic_id = 256; }),
      with([](AcpiConfig& c) {
        c.pci_routes.push_back({32, 0, 16});
      }),
      with([](AcpiConfig& c) {
        c.pci_routes.push_back({3, 4, 16});
      }),
      with([](AcpiConfig& c) { c.pci_hole_start = 0xFEC00000; }),
      with([](AcpiConfig& c) { c.pci_hole_start = 0x80000; }),
      with([](AcpiConfig& c) { c.pci_hole64_start = ~uint64_t{0} - 10; }),
      with([](AcpiConfig& c) { c.oem_id = "TOOLONG"; }),
      with([](AcpiConfig& c) { c.pm_base = 0xFFF8; }),
      with([](AcpiConfig& c) { c.sci_irq = 16; }),
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_THROW(build_acpi_tables(bad[i], kBase), std::invalid_argument) << i;
  }
}

}  // namespace
}  // namespace firmware
