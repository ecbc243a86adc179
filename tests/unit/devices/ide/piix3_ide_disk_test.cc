// The PIIX3 IDE function with an ATA disk, driven through its ports: identity, PIO and DMA
// transfers, and the guest mistakes and attacks it must survive.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "devices/block/block_error.h"
#include "devices/pci/config_space.h"
#include "tests/unit/devices/ide/ide_harness.h"

namespace {

using namespace devices::ide;
using ide_test::Harness;
using ide_test::TempFile;

constexpr uint64_t kDiskSize = 4 << 20;  // 8192 sectors
constexpr uint64_t kSectors = kDiskSize / kSectorSize;

std::vector<uint8_t> file_bytes(const std::string& path, uint64_t offset, size_t n) {
  std::vector<uint8_t> out(n);
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
  return out;
}

std::vector<uint8_t> expected(uint64_t offset, size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = TempFile::pattern_byte(offset + i);
  return out;
}

class DiskTest : public ::testing::Test {
 protected:
  DiskTest() : file_(kDiskSize), h_(make_drives(file_.path(), false)) {}
  static Piix3Ide::Drives make_drives(const std::string& path, bool read_only) {
    Piix3Ide::Drives d;
    d[0][0] = ide_test::disk(ide_test::open_block(path), read_only);
    return d;
  }
  uint16_t identify_word(size_t i) {
    h_.ata28(0, 0, kCmdIdentify, 0, 0);
    EXPECT_EQ(h_.wait_ready(0) & kStatusDrq, kStatusDrq);
    const auto id = h_.read_data(0, 512);
    return static_cast<uint16_t>(id[2 * i] | id[2 * i + 1] << 8);
  }
  std::vector<uint8_t> ram(uint64_t gpa, size_t n) {
    std::vector<uint8_t> out(n);
    std::memcpy(out.data(), h_.ram().bytes().data() + gpa, n);
    return out;
  }

  TempFile file_;
  Harness h_;
};

TEST_F(DiskTest, PciIdentityAndDecodeEnables) {
  auto& ide = h_.ide();
  EXPECT_EQ(ide.config_read(devices::pci::kVendorId, 2), 0x8086u);
  EXPECT_EQ(ide.config_read(devices::pci::kDeviceId, 2), 0x7010u);
  EXPECT_EQ(ide.config_read(devices::pci::kClassCode, 4) & 0xffffff, 0x010180u);
  const auto bar = ide.with_config([](const auto& c) { return c.bar(Piix3Ide::kBusMasterBar); });
  ASSERT_TRUE(bar.has_value());
  EXPECT_EQ(bar->kind, devices::pci::BarKind::kIo);
  EXPECT_EQ(bar->size, 16u);
  // ata_piix refuses a channel whose IDETIM decode enable (bit 15) is clear.
  EXPECT_EQ(ide.config_read(0x41, 1) & 0x80, 0x80u);
  EXPECT_EQ(ide.config_read(0x43, 1) & 0x80, 0x80u);
}

TEST_F(DiskTest, IdentifyReportsSizesModelAndModes) {
  h_.ata28(0, 0, kCmdIdentify, 0, 0);
  EXPECT_TRUE(h_.irq(0).level());
  const auto id = h_.read_data(0, 512);
  auto word = [&](size_t i) { return static_cast<uint16_t>(id[2 * i] | id[2 * i + 1] << 8); };
  EXPECT_EQ(word(60) | word(61) << 16, kSectors);
  EXPECT_EQ(word(100) | word(101) << 16, kSectors);
  EXPECT_NE(word(83) & (1u << 10), 0u);  // LBA48
  EXPECT_NE(word(49) & (1u << 8), 0u);   // DMA
  EXPECT_EQ(word(63) & 7u, 7u);          // MWDMA 0-2
  EXPECT_EQ(word(88) & 0x3fu, 0x3fu);    // UDMA 0-5
  // Strings are byte-swapped per word: "MINIVMM HARDDISK" reads "IMINMV..." in memory order.
  EXPECT_EQ(id[54], 'I');
  EXPECT_EQ(id[55], 'M');
  EXPECT_EQ(id[20], 'N');
  EXPECT_EQ(id[21], 'S');
  // The status read acknowledges the interrupt; DRQ is gone after the 512 bytes.
  EXPECT_EQ(h_.inb(0, kRegStatusCommand) & (kStatusDrq | kStatusBsy), 0);
  EXPECT_FALSE(h_.irq(0).level());

  // SET FEATURES transfer mode MWDMA2, then UDMA5: IDENTIFY shows the selected one.
  h_.ata28(0, 0, kCmdSetFeatures, 0, 0x22, kFeatureSetTransferMode);
  EXPECT_EQ(h_.inb(0, kRegStatusCommand) & kStatusErr, 0);
  EXPECT_NE(identify_word(63) & (1u << 10), 0u);
  h_.ata28(0, 0, kCmdSetFeatures, 0, 0x45, kFeatureSetTransferMode);
  EXPECT_NE(identify_word(88) & (1u << 13), 0u);
  EXPECT_EQ(identify_word(63) & 0x700u, 0u);
  // An invalid mode is aborted.
  h_.ata28(0, 0, kCmdSetFeatures, 0, 0x47, kFeatureSetTransferMode);
  EXPECT_EQ(h_.inb(0, kRegStatusCommand) & kStatusErr, kStatusErr);
  EXPECT_EQ(h_.inb(0, kRegErrorFeature), kErrorAbrt);
}

TEST_F(DiskTest, PioReadSectorsAndMultiple) {
  h_.ata28(0, 0, kCmdReadSectors, 3, 2);
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(h_.wait_ready(0) & (kStatusDrq | kStatusErr), kStatusDrq);
    EXPECT_EQ(h_.read_data(0, 512), expected((3 + s) * 512ull, 512));
  }
  EXPECT_EQ(h_.wait_ready(0) & kStatusDrq, 0);

  // READ MULTIPLE needs SET MULTIPLE MODE first; then one DRQ block is 4 sectors.
  h_.ata28(0, 0, kCmdReadMultiple, 0, 8);
  EXPECT_EQ(h_.inb(0, kRegStatusCommand) & kStatusErr, kStatusErr);
  h_.ata28(0, 0, kCmdSetMultiple, 0, 3);  // not a power of two
  EXPECT_EQ(h_.inb(0, kRegStatusCommand) & kStatusErr, kStatusErr);
  h_.ata28(0, 0, kCmdSetMultiple, 0, 4);
  EXPECT_EQ(h_.inb(0, kRegStatusCommand) & kStatusErr, 0);
  h_.ata28(0, 0, kCmdReadMultiple, 100, 8);
  for (int b = 0; b < 2; ++b) {
    EXPECT_EQ(h_.wait_ready(0) & kStatusDrq, kStatusDrq);
    EXPECT_EQ(h_.read_data(0, 2048), expected((100 + 4 * b) * 512ull, 2048));
  }
  EXPECT_EQ(h_.wait_ready(0) & kStatusDrq, 0);
}

TEST_F(DiskTest, PioWriteSectorsExtReachesTheImage) {
  h_.ata48(0, 0, kCmdWriteSectorsExt, 5000, 2);
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(h_.wait_ready(0) & kStatusDrq, kStatusDrq);
    for (int i = 0; i < 256; ++i) h_.outw(0, static_cast<uint16_t>(s << 8 | i));
  }
  EXPECT_EQ(h_.wait_ready(0) & (kStatusDrq | kStatusErr), 0);
  h_.ata28(0, 0, kCmdFlushCache, 0, 0);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, 0);
  const auto data = file_bytes(file_.path(), 5001 * 512ull, 4);
  EXPECT_EQ(data, (std::vector<uint8_t>{0, 1, 1, 1}));
  // The neighbours are untouched.
  EXPECT_EQ(file_bytes(file_.path(), 5002 * 512ull, 512), expected(5002 * 512ull, 512));
}

TEST_F(DiskTest, DmaReadWithPrdsSpanningPages) {
  // Three regions: across a page boundary, an odd-sized middle, and the rest; 16 sectors.
  h_.put_prd(0x1000, 0x20f00, 0x300, false);
  h_.put_prd(0x1008, 0x30000, 0x1000, false);
  h_.put_prd(0x1010, 0x40000, 16 * 512 - 0x1300, true);
  h_.bm_prd(0, 0x1000);
  h_.bm_out(0, 0, 0x08);  // direction: to memory
  h_.ata28(0, 0, kCmdReadDma, 64, 16);
  EXPECT_FALSE(h_.irq(0).level());  // nothing moves before Start
  h_.bm_out(0, 0, 0x09);
  h_.wait_ready(0);
  EXPECT_EQ(h_.bm_in(0, 2) & 0x07, 0x04);  // interrupt, not active (exact table), no error
  EXPECT_TRUE(h_.irq(0).level());
  EXPECT_EQ(ram(0x20f00, 0x300), expected(64 * 512ull, 0x300));
  EXPECT_EQ(ram(0x30000, 0x1000), expected(64 * 512ull + 0x300, 0x1000));
  EXPECT_EQ(ram(0x40000, 16 * 512 - 0x1300), expected(64 * 512ull + 0x1300, 16 * 512 - 0x1300));
  h_.bm_out(0, 0, 0x08);
  h_.bm_out(0, 2, 0x04);  // clear the interrupt bit
  EXPECT_EQ(h_.bm_in(0, 2) & 0x04, 0);
  EXPECT_EQ(h_.inb(0, kRegStatusCommand) & (kStatusErr | kStatusDrq | kStatusBsy), 0);
}

TEST_F(DiskTest, DmaWriteExtThenLargerTableKeepsActive) {
  std::memset(h_.ram().bytes().data() + 0x50000, 0xab, 1024);
  h_.put_prd(0x2000, 0x50000, 1024, false);
  h_.put_prd(0x2008, 0x60000, 4096, true);  // more room than the transfer needs
  h_.bm_prd(0, 0x2000);
  h_.bm_out(0, 0, 0x01);  // Start before the command: the transfer begins with it
  h_.ata48(0, 0, kCmdWriteDmaExt, 8000, 2);
  h_.wait_ready(0);
  EXPECT_EQ(h_.bm_in(0, 2) & 0x07, 0x05);  // interrupt, still active: table not used up
  EXPECT_EQ(h_.inb(0, kRegStatusCommand) & kStatusErr, 0);
  EXPECT_EQ(file_bytes(file_.path(), 8000 * 512ull, 1024), std::vector<uint8_t>(1024, 0xab));
  EXPECT_EQ(file_bytes(file_.path(), 8002 * 512ull, 512), expected(8002 * 512ull, 512));
}

TEST_F(DiskTest, DmaOutsideRamIsRefused) {
  // A region past the end of RAM: nothing is transferred, the bus-master error bit and ABRT.
  h_.put_prd(0x1000, Harness::kRamSize - 512, 1024, true);
  h_.bm_prd(0, 0x1000);
  h_.ata28(0, 0, kCmdReadDma, 0, 2);
  h_.bm_out(0, 0, 0x09);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, kStatusErr);
  EXPECT_EQ(h_.inb(0, kRegErrorFeature), kErrorAbrt);
  EXPECT_EQ(h_.bm_in(0, 2) & 0x07, 0x06);
  EXPECT_EQ(ram(Harness::kRamSize - 512, 512), std::vector<uint8_t>(512, 0));
  h_.bm_out(0, 0, 0);
  h_.bm_out(0, 2, 0x06);

  // The table itself outside RAM, and a table shorter than the transfer.
  h_.bm_prd(0, 0xfffffff0);
  h_.ata28(0, 0, kCmdWriteDma, 0, 1);
  h_.bm_out(0, 0, 0x01);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, kStatusErr);
  EXPECT_EQ(h_.bm_in(0, 2) & 0x02, 0x02);
  h_.bm_out(0, 0, 0);
  h_.bm_out(0, 2, 0x06);
  h_.put_prd(0x1000, 0x8000, 512, true);
  h_.bm_prd(0, 0x1000);
  h_.ata28(0, 0, kCmdReadDma, 0, 4);
  h_.bm_out(0, 0, 0x09);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, kStatusErr);
  EXPECT_EQ(h_.bm_in(0, 2) & 0x02, 0x02);
  // The disk is unharmed and still works.
  EXPECT_EQ(file_bytes(file_.path(), 0, 512), expected(0, 512));
}

TEST_F(DiskTest, PrdTableWalkIsBounded) {
  // 8192 entries of 2 bytes without EOT, then entries of 64 KiB: a walk that went past 8192
  // entries would find enough room; the bounded one finds 16 KiB for a 32 KiB transfer.
  for (uint32_t i = 0; i < kMaxPrdEntries; ++i) h_.put_prd(0x100000 + 8 * i, 0x200000, 2, false);
  for (uint32_t i = 0; i < 8; ++i) h_.put_prd(0x110000 + 8 * i, 0x200000, 0, false);
  h_.bm_prd(0, 0x100000);
  h_.ata28(0, 0, kCmdReadDma, 0, 64);
  h_.bm_out(0, 0, 0x09);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, kStatusErr);
  EXPECT_EQ(h_.bm_in(0, 2) & 0x02, 0x02);
}

TEST_F(DiskTest, AddressesPastTheEndAndCountZero) {
  h_.ata28(0, 0, kCmdReadSectors, static_cast<uint32_t>(kSectors), 1);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, kStatusErr);
  EXPECT_EQ(h_.inb(0, kRegErrorFeature) & kErrorIdnf, kErrorIdnf);
  // Count 0 means 256 sectors (LBA28) and 65536 (LBA48): past the end here.
  h_.ata28(0, 0, kCmdReadVerify, static_cast<uint32_t>(kSectors - 255), 0);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, kStatusErr);
  h_.ata28(0, 0, kCmdReadVerify, static_cast<uint32_t>(kSectors - 256), 0);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, 0);
  h_.ata48(0, 0, kCmdReadDmaExt, 0, 0);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, kStatusErr);
  h_.ata48(0, 0, kCmdReadSectorsExt, uint64_t{1} << 47, 1);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, kStatusErr);
  // Count 0 with PIO over the last 256 sectors: the guest gets 256 DRQ blocks.
  h_.ata28(0, 0, kCmdReadSectors, static_cast<uint32_t>(kSectors - 256), 0);
  int blocks = 0;
  while ((h_.wait_ready(0) & kStatusDrq) != 0 && blocks < 300) {
    h_.read_data(0, 512);
    ++blocks;
  }
  EXPECT_EQ(blocks, 256);
}

TEST_F(DiskTest, DataPortOverrunsAreContained) {
  // Reading past the IDENTIFY block returns all ones and leaves the state alone.
  h_.ata28(0, 0, kCmdIdentify, 0, 0);
  h_.read_data(0, 512);
  EXPECT_EQ(h_.read_data(0, 64), std::vector<uint8_t>(64, 0xff));
  // Writing with no command is ignored; writing more than the DRQ block stores only the block.
  for (int i = 0; i < 1000; ++i) h_.outw(0, 0x5555);
  h_.ata28(0, 0, kCmdWriteSectors, 10, 1);
  std::byte big[4] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  for (int i = 0; i < 300; ++i) h_.ide().command_block(0)->write(kRegData, big);  // 1200 bytes
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, 0);
  h_.ata28(0, 0, kCmdFlushCache, 0, 0);
  h_.wait_ready(0);
  EXPECT_EQ(file_bytes(file_.path(), 10 * 512ull, 4), (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(file_bytes(file_.path(), 11 * 512ull, 512), expected(11 * 512ull, 512));
}

TEST_F(DiskTest, UnsupportedCommandsAbortAndHousekeepingCompletes) {
  for (uint8_t cmd : {uint8_t{0x00}, uint8_t{0xf8}, uint8_t{kCmdPacket},
                      uint8_t{kCmdIdentifyPacket}, uint8_t{0xb0}}) {
    h_.ata28(0, 0, cmd, 0, 0);
    EXPECT_EQ(h_.inb(0, kRegStatusCommand) & kStatusErr, kStatusErr) << int{cmd};
    EXPECT_EQ(h_.inb(0, kRegErrorFeature), kErrorAbrt);
  }
  for (uint8_t cmd : {uint8_t{kCmdIdleImmediate}, uint8_t{kCmdStandbyImmediate},
                      uint8_t{kCmdFlushCacheExt}, uint8_t{kCmdCheckPowerMode}}) {
    h_.ata28(0, 0, cmd, 0, 0);
    EXPECT_EQ(h_.wait_ready(0) & kStatusErr, 0) << int{cmd};
  }
  EXPECT_EQ(h_.inb(0, kRegCount), 0xff);  // CHECK POWER MODE: active
}

TEST_F(DiskTest, SoftResetAndAbsentDevices) {
  h_.ata28(0, 0, kCmdReadSectors, 0, 1);
  h_.control(0, kControlSrst);
  EXPECT_EQ(h_.alt_status(0) & kStatusBsy, kStatusBsy);
  h_.control(0, 0);
  h_.ide().drain();
  EXPECT_EQ(h_.inb(0, kRegStatusCommand), kStatusDrdy | kStatusDsc);  // no DRQ left over
  EXPECT_EQ(h_.inb(0, kRegCount), 1);
  EXPECT_EQ(h_.inb(0, kRegLbaMid), 0);
  EXPECT_EQ(h_.inb(0, kRegErrorFeature), 1);
  // Device 1 is absent: its status reads 0 and commands to it are ignored.
  h_.outb(0, kRegDevice, 0xf0);
  h_.outb(0, kRegStatusCommand, kCmdIdentify);
  EXPECT_EQ(h_.inb(0, kRegStatusCommand), 0);
  // An empty channel reads 0 everywhere.
  EXPECT_EQ(h_.inb(1, kRegStatusCommand), 0);
  h_.outb(1, kRegCount, 0x55);
  EXPECT_EQ(h_.inb(1, kRegCount), 0);
  // nIEN masks the interrupt line.
  h_.control(0, kControlNien);
  h_.ata28(0, 0, kCmdIdleImmediate, 0, 0);
  EXPECT_FALSE(h_.irq(0).level());
}

TEST(DiskReadOnly, WritesAreAborted) {
  TempFile file(kDiskSize);
  Piix3Ide::Drives d;
  d[1][0] = ide_test::disk(ide_test::open_block(file.path()), true);
  Harness h(std::move(d));
  h.ata28(1, 0, kCmdWriteSectors, 0, 1);
  EXPECT_EQ(h.inb(1, kRegStatusCommand) & (kStatusErr | kStatusDrq), kStatusErr);
  EXPECT_EQ(h.inb(1, kRegErrorFeature), kErrorAbrt);
  h.ata28(1, 0, kCmdReadSectors, 0, 1);
  EXPECT_EQ(h.wait_ready(1) & kStatusDrq, kStatusDrq);
  EXPECT_EQ(h.read_data(1, 512), expected(0, 512));
  EXPECT_GT(h.irq(1).assertions(), 0);
}

// An image whose reads and writes fail on the host.
class FailingImage : public devices::block::Image {
 public:
  std::string_view format() const override { return "failing"; }
  uint64_t size() const override { return kDiskSize; }
  bool read_only() const override { return false; }
  void readv(uint64_t, devices::block::ReadVec) override {
    throw devices::block::IoError(EIO, "injected read error");
  }
  void writev(uint64_t, devices::block::WriteVec) override {
    throw devices::block::IoError(ENOSPC, "injected write error");
  }
  void flush() override {}
  void discard(uint64_t, uint64_t) override {}
  void write_zeroes(uint64_t, uint64_t) override {}
};

TEST(DiskHostErrors, BecomeAtaErrors) {
  Piix3Ide::Drives d;
  d[0][0] = ide_test::disk(
      std::make_shared<devices::block::BlockDevice>(std::make_unique<FailingImage>()));
  Harness h(std::move(d));
  h.ata28(0, 0, kCmdReadSectors, 0, 1);
  EXPECT_EQ(h.wait_ready(0) & (kStatusErr | kStatusDrq), kStatusErr);
  EXPECT_EQ(h.inb(0, kRegErrorFeature), kErrorUnc);
  h.put_prd(0x1000, 0x8000, 512, true);
  h.bm_prd(0, 0x1000);
  h.ata28(0, 0, kCmdWriteDma, 0, 1);
  h.bm_out(0, 0, 0x01);
  EXPECT_EQ(h.wait_ready(0) & kStatusErr, kStatusErr);
  EXPECT_EQ(h.inb(0, kRegErrorFeature), kErrorAbrt);
  EXPECT_EQ(h.bm_in(0, 2) & 0x05, 0x04);  // interrupt set, no longer active
}

}  // namespace

namespace {

TEST(DiskQcow2, DmaWritesKeepTheImageConsistent) {
  const TempFile file(0);
  ASSERT_EQ(std::system(("qemu-img create -q -f qcow2 " + file.path() + " 4M").c_str()), 0)
      << "qemu-img (qemu-utils) is required";
  std::vector<uint8_t> written(32 * 512);
  for (size_t i = 0; i < written.size(); ++i) written[i] = static_cast<uint8_t>(i * 13 + 1);
  {
    Piix3Ide::Drives d;
    d[0][0] =
        ide_test::disk(std::make_shared<devices::block::BlockDevice>(devices::block::open_image(
            file.path(), {"qcow2", false, devices::block::CacheMode::kWriteback})));
    Harness h(std::move(d));
    std::memcpy(h.ram().bytes().data() + 0x30000, written.data(), written.size());
    h.put_prd(0x1000, 0x30000, 0x1800, false);  // crosses the 64 KiB cluster size of the image
    h.put_prd(0x1008, 0x31800, static_cast<uint32_t>(written.size() - 0x1800), true);
    h.bm_prd(0, 0x1000);
    h.ata28(0, 0, kCmdWriteDma, 120, 32);  // sectors 120..151 straddle the first cluster
    h.bm_out(0, 0, 0x01);
    EXPECT_EQ(h.wait_ready(0) & kStatusErr, 0);
    h.bm_out(0, 0, 0);
    h.ata28(0, 0, kCmdFlushCacheExt, 0, 0);
    EXPECT_EQ(h.wait_ready(0) & kStatusErr, 0);
    h.ata28(0, 0, kCmdReadSectors, 120, 32);
    std::vector<uint8_t> back;
    for (int s = 0; s < 32; ++s) {
      EXPECT_EQ(h.wait_ready(0) & kStatusDrq, kStatusDrq);
      const auto block = h.read_data(0, 512);
      back.insert(back.end(), block.begin(), block.end());
    }
    EXPECT_EQ(back, written);
  }
  EXPECT_EQ(std::system(("qemu-img check -q " + file.path()).c_str()), 0);
}

}  // namespace
