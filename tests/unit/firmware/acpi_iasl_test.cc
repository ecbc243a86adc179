// Cross-checks against ACPICA, the code Linux's ACPI core is built from (Debian package
// acpica-tools): iasl disassembles every table without complaint, its compiler rebuilds the
// same bytes from that disassembly, and acpiexec loads the tables as an OS would, reporting
// any inconsistency between the FADT's legacy and extended fields.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "firmware/acpi_table.h"
#include "firmware/acpi_tables.h"
#include "firmware/slit.h"
#include "firmware/srat.h"
#include "tests/unit/firmware/external_tool.h"

namespace firmware {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run;
using testing::RunResult;
using testing::TempDir;
using testing::write_file;
using Table = std::vector<std::byte>;

constexpr uint64_t kBase = 0xE0000;

uint64_t le(const Table& t, size_t offset, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(t.at(offset + i))} << (8 * i);
  return v;
}

bool mentions_problem(const std::string& output) {
  for (const char* word : {"Warning", "Error", "Incorrect", "Invalid"}) {
    if (output.find(word) != std::string::npos) return true;
  }
  return false;
}

class AcpiIaslTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"iasl", "acpiexec"}) {
      ASSERT_EQ(run(dir_.path(), std::string(tool) + " -v").status, 0)
          << tool << " not found: install the acpica-tools package";
    }
    AcpiConfig cfg;
    cfg.apic_ids = {0, 1, 2, 3, 4, 5, 6, 7};
    cfg.ioapic_id = 8;
    cfg.pci_hole_start = 0xE0000000;
    cfg.pci_hole64_start = 0x2000000000;
    cfg.pci_hole64_size = 0x800000000;
    cfg.pci_routes = {{1, 0, 16}, {5, 0, 17}, {6, 0, 18}, {6, 1, 19}, {7, 0, 20}};
    // Two NUMA nodes as in the seed: even vCPUs and 1 GiB on node 0, odd vCPUs and the rest of
    // RAM, below the PCI hole and from 4 GiB, on node 1.
    SratConfig srat;
    for (uint32_t cpu = 0; cpu < 8; ++cpu) srat.cpus.push_back({cpu, cpu % 2});
    srat.memory = {{0, 0x40000000, 0}, {0x40000000, 0xA0000000, 1}, {0x100000000, 0x80000000, 1}};
    cfg.extra_tables = {build_srat(srat), build_slit({{10, 21}, {21, 10}})};
    blob_ = build_acpi_tables(cfg, kBase).bytes;
    // Follow the pointers from the RSDP as the guest does, keeping each table by signature.
    const Table& b = blob_;
    auto table_at = [&](uint64_t gpa) {
      const size_t off = gpa - kBase;
      return Table(b.begin() + off, b.begin() + off + le(b, off + 4, 4));
    };
    const uint64_t xsdt = le(b, 24, 8);
    tables_["XSDT"] = table_at(xsdt);
    tables_["RSDT"] = table_at(le(b, 16, 4));
    for (size_t off = kAcpiHeaderSize; off < tables_["XSDT"].size(); off += 8) {
      Table t = table_at(le(tables_["XSDT"], off, 8));
      tables_[std::string(reinterpret_cast<const char*>(t.data()), 4)] = t;
    }
    tables_["DSDT"] = table_at(le(tables_.at("FACP"), 140, 8));
    tables_["FACS"] = table_at(le(tables_.at("FACP"), 132, 8));
    for (const auto& [sig, t] : tables_) write_file(dir_.path() / (sig + ".dat"), t);
  }

  TempDir dir_;
  Table blob_;
  std::map<std::string, Table> tables_;
};

TEST_F(AcpiIaslTest, DisassemblesEveryTableCleanly) {
  for (const char* sig : {"DSDT", "FACP", "APIC", "XSDT", "RSDT", "FACS", "SRAT", "SLIT"}) {
    const RunResult r = run(dir_.path(), std::string("iasl -d ") + sig + ".dat");
    EXPECT_EQ(r.status, 0) << sig << ":\n" << r.output;
    EXPECT_FALSE(mentions_problem(r.output)) << sig << ":\n" << r.output;
    EXPECT_TRUE(fs::exists(dir_.path() / (std::string(sig) + ".dsl"))) << sig;
  }
}

// Read back through iasl's own decoding: the fields a guest's NUMA code uses.
TEST_F(AcpiIaslTest, DisassembledSratAndSlitShowTheNodes) {
  ASSERT_EQ(run(dir_.path(), "iasl -d SRAT.dat SLIT.dat").status, 0);
  const std::string srat = run(dir_.path(), "cat SRAT.dsl").output;
  const std::string slit = run(dir_.path(), "cat SLIT.dsl").output;
  for (const char* line : {"Apic ID : 07", "Proximity Domain Low(8) : 01",
                           "Base Address : 0000000100000000", "Address Length : 0000000080000000",
                           "Proximity Domain : 00000001", "Base Address : 0000000000100000"}) {
    EXPECT_NE(srat.find(line), std::string::npos) << line << " missing:\n" << srat;
  }
  EXPECT_NE(slit.find("Localities : 0000000000000002"), std::string::npos) << slit;
  EXPECT_NE(slit.find("Locality   1 : 15 0A"), std::string::npos) << slit;
}

TEST_F(AcpiIaslTest, RecompiledDisassemblyGivesTheSameBytes) {
  for (const char* sig : {"DSDT", "FACP", "APIC", "XSDT", "RSDT", "SRAT", "SLIT"}) {
    ASSERT_EQ(run(dir_.path(), std::string("iasl -d ") + sig + ".dat").status, 0) << sig;
    // -oa: no optimizations, so the compiler keeps the encodings it was given.
    const RunResult r = run(dir_.path(), std::string("iasl -oa -p ") + sig + "-rt " + sig + ".dsl");
    EXPECT_EQ(r.status, 0) << sig << ":\n" << r.output;
    EXPECT_NE(r.output.find("0 Errors, 0 Warnings"), std::string::npos) << sig << ":\n" << r.output;
    const Table& ours = tables_.at(sig);
    const Table theirs = read_file(dir_.path() / (std::string(sig) + "-rt.aml"));
    ASSERT_EQ(theirs.size(), ours.size()) << sig;
    // The compiler writes its own Creator ID and revision (header bytes 28-35) and so its own
    // checksum (byte 9); everything else must match.
    for (size_t i = 0; i < ours.size(); ++i) {
      if (i == kAcpiChecksumOffset || (i >= 28 && i < kAcpiHeaderSize)) continue;
      ASSERT_EQ(theirs[i], ours[i]) << sig << " differs at byte " << i;
    }
  }
}

TEST_F(AcpiIaslTest, AcpiexecLoadsTheTablesWithoutWarnings) {
  // SRAT and SLIT hold no AML; acpiexec still installs them, checking header and checksum.
  const RunResult r =
      run(dir_.path(), "acpiexec -b namespace FACP.dat DSDT.dat APIC.dat SRAT.dat SLIT.dat");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(mentions_problem(r.output)) << r.output;
  for (const char* name : {"PCI0", "_PRT", "ISA_", "COM1", "RTC_", "KBD_", "_S5_"}) {
    EXPECT_NE(r.output.find(name), std::string::npos) << name << " missing:\n" << r.output;
  }
}

TEST_F(AcpiIaslTest, AcpiexecNoticesAnInconsistentFadt) {
  // The harness's control: an X_PM1a_EVT_BLK that disagrees with PM1a_EVT_BLK must be reported,
  // or the clean run above proves nothing.
  Table fadt = tables_.at("FACP");
  fadt[152] = static_cast<std::byte>(static_cast<uint8_t>(fadt[152]) ^ 0x10);
  finish_table(fadt);
  write_file(dir_.path() / "BAD.dat", fadt);
  const RunResult r = run(dir_.path(), "acpiexec -b namespace BAD.dat DSDT.dat APIC.dat");
  EXPECT_TRUE(mentions_problem(r.output)) << r.output;
}

}  // namespace
}  // namespace firmware
