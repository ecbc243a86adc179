// Cross-check against dmidecode (Debian package dmidecode), the decoder users run in a guest:
// it reads a dump file in the layout `dmidecode --dump-bin` writes (the entry point at offset
// 0, the structure table at offset 32, which the entry point's table address names) and must
// decode both entry points and every structure without a complaint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "firmware/smbios.h"
#include "tests/unit/firmware/external_tool.h"

namespace firmware {
namespace {

using testing::run;
using testing::RunResult;
using testing::TempDir;
using testing::write_file;
using Bytes = std::vector<std::byte>;

constexpr uint64_t GiB = uint64_t{1} << 30;
constexpr size_t kDumpTableOffset = 32;  // where --dump-bin puts the table
constexpr size_t k21EntryLength = 0x1F;

// What dmidecode 3.4 prints about a table it finds wrong (seen on deliberately broken dumps:
// a wrong structure count, a short table length, a bad checksum, a bad structure length).
bool mentions_problem(std::string output) {
  std::transform(output.begin(), output.end(), output.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word :
       {"wrong", "invalid", "warning", "bad index", "out of spec", "truncated", "sorry"}) {
    if (output.find(word) != std::string::npos) return true;
  }
  return false;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A dump: one entry point at offset 0, the table at offset 32.
Bytes dump(std::span<const std::byte> entry_point, const Bytes& table) {
  Bytes out(entry_point.begin(), entry_point.end());
  out.resize(kDumpTableOffset);
  out.insert(out.end(), table.begin(), table.end());
  return out;
}

class SmbiosDmidecodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(run(dir_.path(), "dmidecode --version").status, 0)
        << "dmidecode not found: install the dmidecode package";
    SmbiosConfig cfg;
    cfg.vm_name = "vm0";
    cfg.uuid = std::array<uint8_t, 16>{0x9b, 0xc0, 0x2b, 0xdb, 0x58, 0xb3, 0x4b, 0xb0,
                                       0xb0, 0x0e, 0x31, 0x3b, 0xda, 0xe0, 0xac, 0x81};
    cfg.sockets = 2;
    cfg.cores = 2;
    cfg.threads = 2;
    cfg.ram_ranges = {{0, 3 * GiB}, {4 * GiB, 117 * GiB}};
    cfg.ram_size = 120 * GiB;
    blob_ = build_smbios(cfg, kDumpTableOffset);
    const auto ep = std::span<const std::byte>(blob_.entry_point);
    write_file(dir_.path() / "sm3.bin", dump(ep.subspan(kSmbios3EntryOffset, 24), blob_.table));
    write_file(dir_.path() / "sm21.bin",
               dump(ep.subspan(kSmbios21EntryOffset, k21EntryLength), blob_.table));
  }

  RunResult decode(const std::string& file, const std::string& options = "") {
    return run(dir_.path(), "dmidecode " + options + " --from-dump " + file);
  }

  TempDir dir_;
  SmbiosBlob blob_;
};

TEST_F(SmbiosDmidecodeTest, DecodesTheThreeZeroEntryPointCleanly) {
  const RunResult r = decode("sm3.bin");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(mentions_problem(r.output)) << r.output;
  for (const char* line :
       {"SMBIOS 3.0.0 present.", "Vendor: minivmm", "System is a virtual machine",
        "Product Name: vm0", "UUID: 9bc02bdb-58b3-4bb0-b00e-313bdae0ac81",
        "Socket Designation: CPU 1", "Core Count: 2", "Thread Count: 4", "Max Speed: 2000 MHz",
        "Maximum Capacity: 120 GB", "Number Of Devices: 8", "Locator: DIMM 7",
        "Ending Address: 0x01E3FFFFFFF", "Range Size: 117 GB", "Status: No errors detected",
        "End Of Table"}) {
    EXPECT_NE(r.output.find(line), std::string::npos) << line << " missing:\n" << r.output;
  }
  EXPECT_EQ(count(r.output, "DMI type 4,"), 2u);
  EXPECT_EQ(count(r.output, "DMI type 17,"), 8u);
  EXPECT_EQ(count(r.output, "DMI type 19,"), 2u);
}

TEST_F(SmbiosDmidecodeTest, DecodesTheTwoOneEntryPointCleanly) {
  const RunResult r = decode("sm21.bin");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(mentions_problem(r.output)) << r.output;
  EXPECT_NE(r.output.find("SMBIOS 3.0 present."), std::string::npos) << r.output;
  // The entry point's structure count and table length agree with what dmidecode walked.
  // Header types 0, 1, 3; 2 sockets; type 16; 8 devices; 2 ranges; types 32 and 127.
  const std::string summary =
      "18 structures occupying " + std::to_string(blob_.table.size()) + " bytes.";
  EXPECT_NE(r.output.find(summary), std::string::npos) << summary << "\n" << r.output;
  EXPECT_NE(r.output.find("UUID: 9bc02bdb-58b3-4bb0-b00e-313bdae0ac81"), std::string::npos);
}

TEST_F(SmbiosDmidecodeTest, KeywordsGiveWhatSysfsShows) {
  // The strings a guest sees in /sys/class/dmi/id/product_uuid and product_name.
  EXPECT_EQ(decode("sm3.bin", "-s system-uuid").output, "9bc02bdb-58b3-4bb0-b00e-313bdae0ac81\n");
  EXPECT_EQ(decode("sm3.bin", "-s system-product-name").output, "vm0\n");
  EXPECT_EQ(decode("sm21.bin", "-s system-manufacturer").output, "minivmm\n");
}

TEST_F(SmbiosDmidecodeTest, ComplainsAboutABrokenTable) {
  // The harness's control: dmidecode must notice a table cut short and a structure whose
  // length is wrong, or the clean runs above prove nothing.
  Bytes shorter = blob_.table;
  shorter.resize(shorter.size() - 10);
  const auto ep = std::span<const std::byte>(blob_.entry_point);
  Bytes entry(ep.begin() + kSmbios21EntryOffset, ep.begin() + kSmbios21EntryOffset + 0x1F);
  write_file(dir_.path() / "short.bin", dump(entry, shorter));
  EXPECT_TRUE(mentions_problem(decode("short.bin").output));
  Bytes misread = blob_.table;
  misread[1] = std::byte{0x10};  // type 0 claims 16 formatted bytes instead of 24
  write_file(dir_.path() / "misread.bin", dump(ep.subspan(kSmbios3EntryOffset, 24), misread));
  EXPECT_TRUE(mentions_problem(decode("misread.bin").output));
}

}  // namespace
}  // namespace firmware
