// The SRAT and SLIT as a guest's ACPI NUMA code reads them: field offsets from ACPI 6.5
// sections 5.2.16 and 5.2.17.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "firmware/acpi_table.h"
#include "firmware/slit.h"
#include "firmware/srat.h"

namespace firmware {
namespace {

using Table = std::vector<std::byte>;

uint64_t le(const Table& t, size_t offset, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(t.at(offset + i))} << (8 * i);
  return v;
}

constexpr uint64_t GiB = uint64_t{1} << 30;

// The seed's machine: node 0 with 16 GiB and CPUs 0, 2, 4, 6; node 1 with 104 GiB and the odd
// CPUs; guest RAM below a PCI hole at 3.5 GiB and the rest from 4 GiB.
SratConfig seed_config() {
  SratConfig cfg;
  for (uint32_t cpu = 0; cpu < 8; ++cpu) cfg.cpus.push_back({cpu, cpu % 2});
  const uint64_t below = 3 * GiB + GiB / 2;
  cfg.memory = {
      {0, below, 0}, {4 * GiB, 16 * GiB - below, 0}, {4 * GiB + 16 * GiB - below, 104 * GiB, 1}};
  return cfg;
}

struct MemoryEntry {
  uint64_t base, size;
  uint32_t node, flags;
};

// Walks the affinity structures after the 48-byte SRAT header by their Length fields.
void parse_srat(const Table& t, std::vector<SratCpu>& cpus, std::vector<MemoryEntry>& mem) {
  for (size_t off = 48; off < t.size(); off += le(t, off + 1, 1)) {
    const uint64_t type = le(t, off, 1);
    if (type == 0) {
      ASSERT_EQ(le(t, off + 1, 1), 16u);
      EXPECT_EQ(le(t, off + 4, 4), 1u);  // Flags: Enabled
      const uint32_t node = static_cast<uint32_t>(le(t, off + 2, 1) | le(t, off + 9, 3) << 8);
      cpus.push_back({static_cast<uint32_t>(le(t, off + 3, 1)), node});
    } else {
      ASSERT_EQ(type, 1u);
      ASSERT_EQ(le(t, off + 1, 1), 40u);
      mem.push_back({le(t, off + 8, 8), le(t, off + 16, 8),
                     static_cast<uint32_t>(le(t, off + 2, 4)),
                     static_cast<uint32_t>(le(t, off + 28, 4))});
    }
  }
}

TEST(Srat, HeaderLengthAndChecksum) {
  const Table t = build_srat(seed_config());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.data()), 4), "SRAT");
  EXPECT_EQ(le(t, 8, 1), 3u);  // Revision
  // 48-byte header, 8 processor entries of 16 bytes, 4 memory entries of 40 (the first range
  // is split around 640K-1M).
  EXPECT_EQ(t.size(), 48u + 8 * 16 + 4 * 40);
  EXPECT_EQ(le(t, 4, 4), t.size());
  EXPECT_EQ(acpi_checksum(t), 0);
  EXPECT_EQ(le(t, 36, 4), 1u);  // "must be 1 for backward compatibility"
  EXPECT_EQ(le(t, 40, 8), 0u);
}

TEST(Srat, EveryCpuAndRangeWithItsNode) {
  std::vector<SratCpu> cpus;
  std::vector<MemoryEntry> mem;
  parse_srat(build_srat(seed_config()), cpus, mem);
  ASSERT_EQ(cpus.size(), 8u);
  for (uint32_t i = 0; i < 8; ++i) {
    EXPECT_EQ(cpus[i].apic_id, i);
    EXPECT_EQ(cpus[i].node, i % 2);
  }
  ASSERT_EQ(mem.size(), 4u);
  const uint64_t below = 3 * GiB + GiB / 2;
  EXPECT_EQ(mem[0].base, 0u);
  EXPECT_EQ(mem[0].size, 640u * 1024);
  EXPECT_EQ(mem[1].base, 1u << 20);
  EXPECT_EQ(mem[1].size, below - (1u << 20));
  EXPECT_EQ(mem[2].base, 4 * GiB);
  EXPECT_EQ(mem[2].size, 16 * GiB - below);
  EXPECT_EQ(mem[3].base, 20 * GiB - below);
  EXPECT_EQ(mem[3].size, 104 * GiB);
  uint64_t node0 = 0;
  for (const MemoryEntry& m : mem) {
    EXPECT_EQ(m.flags, 1u);  // enabled, not hot-pluggable, not non-volatile
    if (m.node == 0) node0 += m.size;
  }
  EXPECT_EQ(node0, 16 * GiB - (384u << 10));  // all of node 0 but the legacy hole
  EXPECT_EQ(mem[3].node, 1u);
}

TEST(Srat, WideProximityDomainsAndSmallRanges) {
  SratConfig cfg;
  cfg.cpus = {{3, 0x123456}};
  // A range ending inside the legacy hole keeps only its part below 640 KiB; one inside the
  // hole keeps nothing; one above is untouched.
  cfg.memory = {{0, 700 << 10, 0x123456}, {(1 << 20) + 4096, 8192, 7}};
  std::vector<SratCpu> cpus;
  std::vector<MemoryEntry> mem;
  parse_srat(build_srat(cfg), cpus, mem);
  ASSERT_EQ(cpus.size(), 1u);
  EXPECT_EQ(cpus[0].node, 0x123456u);
  EXPECT_EQ(cpus[0].apic_id, 3u);
  ASSERT_EQ(mem.size(), 2u);
  EXPECT_EQ(mem[0].node, 0x123456u);
  EXPECT_EQ(mem[0].size, 640u << 10);
  EXPECT_EQ(mem[1].base, (1u << 20) + 4096);
  EXPECT_EQ(mem[1].node, 7u);
}

TEST(Srat, RejectsInconsistentInput) {
  SratConfig cfg = seed_config();
  cfg.cpus.clear();
  EXPECT_THROW(build_srat(cfg), std::invalid_argument);
  cfg = seed_config();
  cfg.memory.clear();
  EXPECT_THROW(build_srat(cfg), std::invalid_argument);
  cfg = seed_config();
  cfg.cpus[0].apic_id = 255;  // would need an x2APIC affinity structure
  EXPECT_THROW(build_srat(cfg), std::invalid_argument);
  cfg = seed_config();
  cfg.memory.push_back({GiB, GiB, 1});  // overlaps node 0's first range
  EXPECT_THROW(build_srat(cfg), std::invalid_argument);
  cfg = seed_config();
  cfg.memory.push_back({~uint64_t{0} - 4095, 8192, 1});
  EXPECT_THROW(build_srat(cfg), std::invalid_argument);
  cfg = seed_config();
  cfg.memory.push_back({200 * GiB, 0, 1});
  EXPECT_THROW(build_srat(cfg), std::invalid_argument);
}

TEST(Slit, HoldsTheMatrixRowByRow) {
  const std::vector<std::vector<uint8_t>> d = {{10, 21, 31}, {21, 10, 255}, {32, 255, 10}};
  const Table t = build_slit(d);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.data()), 4), "SLIT");
  EXPECT_EQ(le(t, 8, 1), 1u);  // Revision
  ASSERT_EQ(t.size(), kAcpiHeaderSize + 8 + 9);
  EXPECT_EQ(le(t, 4, 4), t.size());
  EXPECT_EQ(acpi_checksum(t), 0);
  EXPECT_EQ(le(t, 36, 8), 3u);  // Number of System Localities
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = 0; j < 3; ++j) EXPECT_EQ(le(t, 44 + 3 * i + j, 1), d[i][j]) << i << "," << j;
  }
}

// The exception's message, so that a test can check which entry it names.
std::string slit_error(const std::vector<std::vector<uint8_t>>& d) {
  try {
    build_slit(d);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(Slit, RejectsInvalidMatricesNamingTheEntry) {
  EXPECT_NE(slit_error({}), "no error");
  EXPECT_NE(slit_error({{10, 20}, {20}}).find("row 1"), std::string::npos);
  EXPECT_NE(slit_error({{10, 20}}).find("row 0"), std::string::npos);
  EXPECT_NE(slit_error({{10, 20}, {20, 11}}).find("distance[1][1]"), std::string::npos);
  EXPECT_NE(slit_error({{10, 10}, {20, 10}}).find("distance[0][1]"), std::string::npos);
  EXPECT_NE(slit_error({{10, 20}, {5, 10}}).find("distance[1][0]"), std::string::npos);
  EXPECT_EQ(slit_error({{10}}), "no error");
  EXPECT_EQ(slit_error({{10, 11}, {255, 10}}), "no error");
}

}  // namespace
}  // namespace firmware
