// The SMBIOS entry points and structure table as a guest reads them, decoded by a small reader
// written from DMTF DSP0134 3.0 sections 5.2 (entry points) and 6.1 (structures).
#include "firmware/smbios.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <span>
#include <stdexcept>
#include <string>

namespace firmware {
namespace {

using Bytes = std::vector<std::byte>;

constexpr uint64_t KiB = 1024, MiB = KiB << 10, GiB = MiB << 10, TiB = GiB << 10;
constexpr uint64_t kTableGpa = 0xF0000 + kSmbiosEntryPointSize;

uint64_t le(std::span<const std::byte> t, size_t offset, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(t[offset + i])} << (8 * i);
  return v;
}

uint8_t sum(std::span<const std::byte> bytes) {
  uint8_t s = 0;
  for (std::byte b : bytes) s = static_cast<uint8_t>(s + static_cast<uint8_t>(b));
  return s;
}

struct Structure {
  uint8_t type;
  uint16_t handle;
  Bytes formatted;                   // including the 4-byte header
  std::vector<std::string> strings;  // string n is strings[n - 1]
  size_t total;                      // formatted area, strings and the terminating NULs

  uint64_t field(size_t offset, size_t n) const { return le(formatted, offset, n); }
  // The string a STRING field at `offset` refers to; "" for number 0.
  std::string str(size_t offset) const {
    const size_t n = formatted.at(offset) == std::byte{0} ? 0 : field(offset, 1);
    return n == 0 ? "" : strings.at(n - 1);
  }
};

// Splits the table into structures, failing the test on any structure that runs past the end.
std::vector<Structure> parse(const Bytes& table) {
  std::vector<Structure> out;
  size_t off = 0;
  while (off < table.size()) {
    EXPECT_GE(table.size() - off, 4u);
    const size_t len = le(table, off + 1, 1);
    EXPECT_GE(len, 4u);
    EXPECT_LE(len, table.size() - off);
    if (len < 4 || len > table.size() - off) return {};
    Structure s{static_cast<uint8_t>(table[off]),
                static_cast<uint16_t>(le(table, off + 2, 2)),
                Bytes(table.begin() + off, table.begin() + off + len),
                {},
                0};
    size_t p = off + len;
    // 6.1.3: the string set ends with a double NUL; an empty set is just the two NULs.
    if (p + 1 < table.size() && table[p] == std::byte{0} && table[p + 1] == std::byte{0}) {
      p += 2;
    } else {
      while (p < table.size() && table[p] != std::byte{0}) {
        std::string text;
        while (p < table.size() && table[p] != std::byte{0}) text += static_cast<char>(table[p++]);
        s.strings.push_back(text);
        ++p;  // its NUL
      }
      EXPECT_LT(p, table.size()) << "string set of type " << int{s.type} << " not terminated";
      ++p;  // the set's final NUL
    }
    s.total = p - off;
    out.push_back(s);
    off = p;
    if (s.type == 127) break;
  }
  EXPECT_EQ(off, table.size()) << "bytes after the end-of-table structure";
  return out;
}

std::vector<const Structure*> of_type(const std::vector<Structure>& all, uint8_t type) {
  std::vector<const Structure*> out;
  for (const Structure& s : all) {
    if (s.type == type) out.push_back(&s);
  }
  return out;
}

// The seed: vm0, 8 vCPUs as 2 sockets x 2 cores x 2 threads, 120 GiB below and above a hole.
SmbiosConfig seed_config() {
  SmbiosConfig cfg;
  cfg.vm_name = "vm0";
  cfg.uuid = std::array<uint8_t, 16>{0x9b, 0xc0, 0x2b, 0xdb, 0x58, 0xb3, 0x4b, 0xb0,
                                     0xb0, 0x0e, 0x31, 0x3b, 0xda, 0xe0, 0xac, 0x81};
  cfg.sockets = 2;
  cfg.cores = 2;
  cfg.threads = 2;
  cfg.ram_ranges = {{0, 3 * GiB}, {4 * GiB, 117 * GiB}};
  cfg.ram_size = 120 * GiB;
  return cfg;
}

TEST(Smbios, ThreeZeroEntryPoint) {
  const SmbiosBlob b = build_smbios(seed_config(), kTableGpa);
  ASSERT_EQ(b.entry_point.size(), kSmbiosEntryPointSize);
  const auto ep = std::span(b.entry_point).subspan(kSmbios3EntryOffset, 24);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ep.data()), 5), "_SM3_");
  EXPECT_EQ(le(ep, 6, 1), 24u);  // Entry Point Length
  EXPECT_EQ(sum(ep), 0);
  EXPECT_EQ(le(ep, 7, 1), 3u);  // 3.0.0
  EXPECT_EQ(le(ep, 8, 1), 0u);
  EXPECT_EQ(le(ep, 9, 1), 0u);
  EXPECT_EQ(le(ep, 10, 1), 1u);  // Entry Point Revision
  EXPECT_EQ(le(ep, 12, 4), b.table.size());
  EXPECT_EQ(le(ep, 16, 8), kTableGpa);
}

TEST(Smbios, TwoOneEntryPoint) {
  const SmbiosBlob b = build_smbios(seed_config(), kTableGpa);
  const auto ep = std::span(b.entry_point).subspan(kSmbios21EntryOffset, 0x1F);
  EXPECT_EQ(kSmbios21EntryOffset % 16, 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ep.data()), 4), "_SM_");
  EXPECT_EQ(le(ep, 5, 1), 0x1Fu);
  EXPECT_EQ(sum(ep), 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ep.data() + 0x10), 5), "_DMI_");
  EXPECT_EQ(sum(ep.subspan(0x10, 15)), 0);  // intermediate checksum
  EXPECT_EQ(le(ep, 6, 1), 3u);
  EXPECT_EQ(le(ep, 7, 1), 0u);
  EXPECT_EQ(le(ep, 0x1E, 1), 0x30u);  // BCD revision
  EXPECT_EQ(le(ep, 0x16, 2), b.table.size());
  EXPECT_EQ(le(ep, 0x18, 4), kTableGpa);
  const std::vector<Structure> all = parse(b.table);
  EXPECT_EQ(le(ep, 0x1C, 2), all.size());
  size_t largest = 0;
  for (const Structure& s : all) largest = std::max(largest, s.total);
  EXPECT_EQ(le(ep, 8, 2), largest);  // Maximum Structure Size, strings included
}

TEST(Smbios, EveryTypeWithItsSpecifiedLengthAndUniqueHandles) {
  const std::vector<Structure> all = parse(build_smbios(seed_config(), kTableGpa).table);
  const std::map<uint8_t, size_t> lengths = {{0, 0x18},  {1, 0x1B},  {3, 0x16},
                                             {4, 0x30},  {16, 0x17}, {17, 0x28},
                                             {19, 0x1F}, {32, 0x0B}, {127, 4}};
  std::set<uint16_t> handles;
  for (const Structure& s : all) {
    ASSERT_TRUE(lengths.contains(s.type)) << int{s.type};
    EXPECT_EQ(s.formatted.size(), lengths.at(s.type)) << "type " << int{s.type};
    EXPECT_TRUE(handles.insert(s.handle).second) << "handle reused: " << s.handle;
    for (const std::string& text : s.strings) EXPECT_FALSE(text.empty()) << int{s.type};
  }
  for (const auto& [type, len] : lengths) EXPECT_FALSE(of_type(all, type).empty()) << int{type};
  EXPECT_EQ(all.back().type, 127);
  EXPECT_EQ(all.back().total, 6u);  // header and the double NUL of an empty string set
}

TEST(Smbios, BiosInformationSaysVirtualMachine) {
  const std::vector<Structure> all = parse(build_smbios(seed_config(), kTableGpa).table);
  const Structure& t0 = *of_type(all, 0).at(0);
  EXPECT_EQ(t0.str(4), "minivmm");
  EXPECT_FALSE(t0.str(5).empty());             // version
  EXPECT_EQ(t0.str(8).size(), 10u);            // mm/dd/yyyy
  EXPECT_EQ(t0.field(0x0A, 8), 1u << 3);       // BIOS Characteristics are not supported
  EXPECT_TRUE(t0.field(0x13, 1) & (1u << 4));  // extension byte 2: virtual machine
}

TEST(Smbios, SystemInformationCarriesNameAndUuid) {
  const std::vector<Structure> all = parse(build_smbios(seed_config(), kTableGpa).table);
  const Structure& t1 = *of_type(all, 1).at(0);
  EXPECT_EQ(t1.str(4), "minivmm");
  EXPECT_EQ(t1.str(5), "vm0");
  // 7.2.1: 9bc02bdb-58b3-4bb0-b00e-313bdae0ac81 is stored db 2b c0 9b b3 58 b0 4b b0 0e ...
  const std::vector<uint8_t> expected = {0xdb, 0x2b, 0xc0, 0x9b, 0xb3, 0x58, 0xb0, 0x4b,
                                         0xb0, 0x0e, 0x31, 0x3b, 0xda, 0xe0, 0xac, 0x81};
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(t1.field(8 + i, 1), expected[i]) << i;
  EXPECT_EQ(t1.field(0x18, 1), 0x06u);  // Wake-up Type: Power Switch
}

TEST(Smbios, NoUuidAndNoNameLeaveFieldsEmpty) {
  SmbiosConfig cfg = seed_config();
  cfg.uuid.reset();
  cfg.vm_name.clear();
  const std::vector<Structure> all = parse(build_smbios(cfg, kTableGpa).table);
  const Structure& t1 = *of_type(all, 1).at(0);
  EXPECT_EQ(t1.field(5, 1), 0u);                                      // no Product Name string
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(t1.field(8 + i, 1), 0u);  // "not present"
}

TEST(Smbios, OneProcessorPerSocketWithTopology) {
  const std::vector<Structure> all = parse(build_smbios(seed_config(), kTableGpa).table);
  const auto cpus = of_type(all, 4);
  ASSERT_EQ(cpus.size(), 2u);
  for (size_t i = 0; i < cpus.size(); ++i) {
    const Structure& p = *cpus[i];
    EXPECT_EQ(p.str(4), "CPU " + std::to_string(i));
    EXPECT_EQ(p.field(5, 1), 3u);     // Central Processor
    EXPECT_EQ(p.field(6, 1), 0xFEu);  // see Processor Family 2
    EXPECT_EQ(p.field(0x28, 2), 1u);  // Processor Family 2: Other
    EXPECT_EQ(p.field(0x14, 2), 2000u);
    EXPECT_EQ(p.field(0x16, 2), 2000u);
    EXPECT_EQ(p.field(0x18, 1), 0x41u);  // populated, enabled
    EXPECT_EQ(p.field(0x23, 1), 2u);     // Core Count
    EXPECT_EQ(p.field(0x24, 1), 2u);     // Core Enabled
    EXPECT_EQ(p.field(0x25, 1), 4u);     // Thread Count, per socket
    EXPECT_EQ(p.field(0x2A, 2), 2u);
    EXPECT_EQ(p.field(0x2C, 2), 2u);
    EXPECT_EQ(p.field(0x2E, 2), 4u);
  }
}

TEST(Smbios, CountsAbove255UseTheWordFields) {
  SmbiosConfig cfg = seed_config();
  cfg.sockets = 1;
  cfg.cores = 300;
  cfg.threads = 2;
  const std::vector<Structure> all = parse(build_smbios(cfg, kTableGpa).table);
  const Structure& p = *of_type(all, 4).at(0);
  EXPECT_EQ(p.field(0x23, 1), 0xFFu);
  EXPECT_EQ(p.field(0x25, 1), 0xFFu);
  EXPECT_EQ(p.field(0x2A, 2), 300u);
  EXPECT_EQ(p.field(0x2E, 2), 600u);
}

TEST(Smbios, MemoryArrayDevicesAndMappedRanges) {
  const std::vector<Structure> all = parse(build_smbios(seed_config(), kTableGpa).table);
  const Structure& array = *of_type(all, 16).at(0);
  EXPECT_EQ(array.field(5, 1), 3u);  // Use: System memory
  EXPECT_EQ(array.field(7, 4), 120 * GiB / KiB);
  EXPECT_EQ(array.field(0x0F, 8), 0u);
  // 120 GiB in devices of at most 16 GiB: seven of 16 GiB and one of 8 GiB.
  const auto devices = of_type(all, 17);
  ASSERT_EQ(devices.size(), 8u);
  EXPECT_EQ(array.field(0x0D, 2), 8u);
  uint64_t total_mib = 0;
  for (size_t i = 0; i < devices.size(); ++i) {
    const Structure& d = *devices[i];
    EXPECT_EQ(d.field(4, 2), array.handle);
    EXPECT_EQ(d.str(0x10), "DIMM " + std::to_string(i));
    EXPECT_EQ(d.field(0x0C, 2) & 0x8000, 0u);  // MiB granularity
    total_mib += d.field(0x0C, 2);
  }
  EXPECT_EQ(devices.back()->field(0x0C, 2), 8192u);
  EXPECT_EQ(total_mib, 120 * 1024u);
  const auto ranges = of_type(all, 19);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0]->field(4, 4), 0u);
  EXPECT_EQ(ranges[0]->field(8, 4), 3 * GiB / KiB - 1);  // inclusive ending address
  EXPECT_EQ(ranges[1]->field(4, 4), 4 * GiB / KiB);
  EXPECT_EQ(ranges[1]->field(8, 4), 121 * GiB / KiB - 1);
  for (const Structure* r : ranges) {
    EXPECT_EQ(r->field(0x0C, 2), array.handle);
    EXPECT_EQ(r->field(0x0F, 8), 0u);  // extended fields unused below 4 TiB
  }
}

TEST(Smbios, HugeMemoryUsesTheExtendedFields) {
  SmbiosConfig cfg = seed_config();
  cfg.ram_ranges = {{0, 3 * GiB}, {4 * TiB, TiB}};
  cfg.ram_size = 3 * TiB;  // the capacity need not equal the mapped ranges
  const std::vector<Structure> all = parse(build_smbios(cfg, kTableGpa).table);
  const Structure& array = *of_type(all, 16).at(0);
  EXPECT_EQ(array.field(7, 4), 0x80000000u);  // see Extended Maximum Capacity
  EXPECT_EQ(array.field(0x0F, 8), 3 * TiB);
  EXPECT_EQ(of_type(all, 17).size(), 3 * TiB / (16 * GiB));
  const Structure& high = *of_type(all, 19).at(1);
  EXPECT_EQ(high.field(4, 4), 0xFFFFFFFFu);
  EXPECT_EQ(high.field(8, 4), 0xFFFFFFFFu);
  EXPECT_EQ(high.field(0x0F, 8), 4 * TiB);
  EXPECT_EQ(high.field(0x17, 8), 5 * TiB - 1);
}

TEST(Smbios, RejectsInconsistentInput) {
  auto fails = [](auto change, uint64_t gpa = kTableGpa) {
    SmbiosConfig cfg = seed_config();
    change(cfg);
    EXPECT_THROW(build_smbios(cfg, gpa), std::invalid_argument);
  };
  fails([](SmbiosConfig& c) { c.sockets = 0; });
  fails([](SmbiosConfig& c) { c.threads = 0; });
  fails([](SmbiosConfig& c) { c.cores = 0x8000; });
  fails([](SmbiosConfig& c) { c.ram_size = 0; });
  fails([](SmbiosConfig& c) { c.ram_ranges.clear(); });
  fails([](SmbiosConfig& c) { c.ram_ranges[1].first += 512; });                 // not KiB-aligned
  fails([](SmbiosConfig& c) { c.ram_ranges[1].first = GiB; });                  // overlaps
  fails([](SmbiosConfig& c) { std::swap(c.ram_ranges[0], c.ram_ranges[1]); });  // unsorted
  fails([](SmbiosConfig& c) { c.ram_ranges.push_back({~uint64_t{0} - 1023, 2048}); });
  fails([](SmbiosConfig& c) { c.vm_name = std::string("a\0b", 3); });
  fails([](SmbiosConfig& c) { c.sockets = 2000; });  // beyond the 64 KiB F segment
  fails([](SmbiosConfig&) {}, uint64_t{1} << 32);    // the 2.1 entry point holds 32 bits
}

}  // namespace
}  // namespace firmware
