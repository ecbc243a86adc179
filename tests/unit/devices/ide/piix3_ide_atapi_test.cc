// The ATAPI CD-ROM behind the PIIX3 IDE function: the packet commands Linux's sr driver and
// udev send, an empty tray, and ATA commands aimed at a packet device.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/unit/devices/ide/ide_harness.h"

namespace {

using namespace devices::ide;
using ide_test::Harness;
using ide_test::TempFile;

constexpr uint64_t kBlocks = 300;

class CdTest : public ::testing::Test {
 protected:
  // Primary: a disk at unit 0 and the CD at unit 1, as in the seed configuration.
  explicit CdTest(bool with_medium = true)
      : disk_(1 << 20), iso_(kBlocks * kCdSectorSize), h_(drives(with_medium)) {}
  Piix3Ide::Drives drives(bool with_medium) {
    Piix3Ide::Drives d;
    d[0][0] = ide_test::disk(ide_test::open_block(disk_.path()));
    d[0][1] = ide_test::cdrom(with_medium ? ide_test::open_block(iso_.path(), true) : nullptr);
    return d;
  }

  // Sends a packet with PIO (or DMA) and a byte count limit; returns the status after it.
  uint8_t packet(std::vector<uint8_t> cdb, bool dma = false, uint16_t limit = 0xfffe) {
    cdb.resize(12);
    h_.outb(0, kRegDevice, 0x10);
    h_.outb(0, kRegErrorFeature, dma ? 1 : 0);
    h_.outb(0, kRegLbaMid, static_cast<uint8_t>(limit));
    h_.outb(0, kRegLbaHigh, static_cast<uint8_t>(limit >> 8));
    h_.outb(0, kRegStatusCommand, kCmdPacket);
    EXPECT_EQ(h_.alt_status(0) & kStatusDrq, kStatusDrq);
    EXPECT_EQ(h_.inb(0, kRegCount), kReasonCod);
    for (size_t i = 0; i < 12; i += 2) h_.outw(0, static_cast<uint16_t>(cdb[i] | cdb[i + 1] << 8));
    return h_.wait_ready(0);
  }
  // Reads every DRQ block of a PIO data-in packet command.
  std::vector<uint8_t> pio_data() {
    std::vector<uint8_t> out;
    for (int guard = 0; guard < 1000 && (h_.wait_ready(0) & kStatusDrq) != 0; ++guard) {
      EXPECT_EQ(h_.inb(0, kRegCount), kReasonIo);
      const size_t n = h_.inb(0, kRegLbaMid) | h_.inb(0, kRegLbaHigh) << 8;
      auto chunk = h_.read_data(0, n);
      chunk.resize(n);
      out.insert(out.end(), chunk.begin(), chunk.end());
    }
    EXPECT_EQ(h_.inb(0, kRegCount), kReasonIo | kReasonCod);
    return out;
  }
  // The sense key/ASC after a command, read with REQUEST SENSE.
  std::pair<uint8_t, uint8_t> sense() {
    EXPECT_EQ(packet({0x03, 0, 0, 0, 18}) & kStatusErr, 0);
    const auto s = pio_data();
    return {static_cast<uint8_t>(s.at(2) & 0x0f), s.at(12)};
  }

  TempFile disk_, iso_;
  Harness h_;
};

class EmptyCdTest : public CdTest {
 protected:
  EmptyCdTest() : CdTest(false) {}
};

TEST_F(CdTest, IdentifiesAsPacketDevice) {
  // IDENTIFY DEVICE: aborted, with the ATAPI signature in LBA mid/high.
  h_.outb(0, kRegDevice, 0x10);
  h_.outb(0, kRegStatusCommand, kCmdIdentify);
  EXPECT_EQ(h_.inb(0, kRegStatusCommand) & kStatusErr, kStatusErr);
  EXPECT_EQ(h_.inb(0, kRegLbaMid), 0x14);
  EXPECT_EQ(h_.inb(0, kRegLbaHigh), 0xeb);
  h_.outb(0, kRegStatusCommand, kCmdIdentifyPacket);
  const auto id = h_.read_data(0, 512);
  EXPECT_EQ(id[1] >> 6, 2);    // ATAPI
  EXPECT_EQ(id[1] & 0x1f, 5);  // CD-ROM
  EXPECT_NE(id[99] & 1, 0);    // word 49 bit 8: DMA
  // After a soft reset both signatures are visible, one per device.
  h_.control(0, kControlSrst);
  h_.control(0, 0);
  h_.outb(0, kRegDevice, 0x00);
  EXPECT_EQ(h_.inb(0, kRegLbaMid), 0x00);
  h_.outb(0, kRegDevice, 0x10);
  EXPECT_EQ(h_.inb(0, kRegLbaMid), 0x14);
  EXPECT_EQ(h_.inb(0, kRegLbaHigh), 0xeb);
}

TEST_F(CdTest, InquiryCapacityAndToc) {
  EXPECT_EQ(packet({0x00}) & kStatusErr, 0);  // TEST UNIT READY
  EXPECT_EQ(packet({0x12, 0, 0, 0, 36}) & kStatusErr, 0);
  const auto inq = pio_data();
  ASSERT_EQ(inq.size(), 36u);
  EXPECT_EQ(inq[0], 0x05);
  EXPECT_EQ(inq[1], 0x80);
  // Vendor (8 bytes) and product (16): the drive's model, as QEMU reports it.
  EXPECT_EQ(std::string(inq.begin() + 8, inq.begin() + 32), "QEMU    MINIVMM DVD-ROM ");
  packet({0x25});
  const auto cap = pio_data();
  ASSERT_EQ(cap.size(), 8u);
  EXPECT_EQ(cap[2] << 8 | cap[3], kBlocks - 1);
  EXPECT_EQ(cap[6] << 8 | cap[7], 2048);
  packet({0x43, 0, 0, 0, 0, 0, 0, 0, 100});  // READ TOC format 0
  const auto toc = pio_data();
  ASSERT_EQ(toc.size(), 20u);
  EXPECT_EQ(toc[6], 1);      // track 1
  EXPECT_EQ(toc[14], 0xaa);  // lead-out
  EXPECT_EQ(toc[18] << 8 | toc[19], kBlocks);
  packet({0x51, 0, 0, 0, 0, 0, 0, 0, 34});  // READ DISC INFORMATION
  EXPECT_EQ(pio_data().size(), 34u);
  packet({0x46, 0, 0, 0, 0, 0, 0, 0, 255});  // GET CONFIGURATION
  const auto conf = pio_data();
  EXPECT_EQ(conf[6] << 8 | conf[7], 0x0008);    // current profile: CD-ROM
  packet({0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 255});  // MODE SENSE(10) capabilities
  const auto mode = pio_data();
  ASSERT_GT(mode.size(), 10u);
  EXPECT_EQ(mode[8], 0x2a);
  packet({0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8});  // GET EVENT STATUS NOTIFICATION, media
  const auto ev = pio_data();
  ASSERT_EQ(ev.size(), 8u);
  EXPECT_EQ(ev[5] & 2, 2);  // media present
}

TEST_F(CdTest, ReadPioInChunksAndDma) {
  // READ(10) of 3 blocks from LBA 5 with a 2048-byte limit: three DRQ blocks.
  EXPECT_EQ(packet({0x28, 0, 0, 0, 0, 5, 0, 0, 3}, false, 2048) & kStatusErr, 0);
  auto data = pio_data();
  ASSERT_EQ(data.size(), 3 * 2048u);
  for (size_t i = 0; i < data.size(); i += 517)
    EXPECT_EQ(data[i], TempFile::pattern_byte(5 * 2048 + i));
  // An odd limit smaller than a block still moves the data, in pieces.
  packet({0x28, 0, 0, 0, 0, 7, 0, 0, 1}, false, 1001);
  data = pio_data();
  ASSERT_EQ(data.size(), 2048u);
  EXPECT_EQ(data[2047], TempFile::pattern_byte(7 * 2048 + 2047));

  // READ(12) by DMA into two PRD regions.
  h_.put_prd(0x1000, 0x10000, 4096, false);
  h_.put_prd(0x1008, 0x20000, 2048, true);
  h_.bm_prd(0, 0x1000);
  packet({0xa8, 0, 0, 0, 0, 10, 0, 0, 0, 3}, true);
  h_.bm_out(0, 0, 0x09);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, 0);
  EXPECT_EQ(h_.bm_in(0, 2) & 0x07, 0x04);
  EXPECT_EQ(h_.inb(0, kRegCount), kReasonIo | kReasonCod);
  const auto* ram = reinterpret_cast<const uint8_t*>(h_.ram().bytes().data());
  EXPECT_EQ(ram[0x10000], TempFile::pattern_byte(10 * 2048));
  EXPECT_EQ(ram[0x20000 + 2047], TempFile::pattern_byte(13 * 2048 - 1));
}

TEST_F(CdTest, ErrorsCarrySense) {
  EXPECT_EQ(packet({0x28, 0, 0, 0, 1, 0x2c, 0, 0, 1}) & kStatusErr, kStatusErr);  // LBA 300
  EXPECT_EQ(h_.inb(0, kRegErrorFeature) >> 4, kSenseIllegalRequest);
  EXPECT_EQ(sense(), std::make_pair(kSenseIllegalRequest, kAscLbaOutOfRange));
  EXPECT_EQ(packet({0x2a, 0, 0, 0, 0, 0, 0, 0, 1}) & kStatusErr, kStatusErr);  // WRITE(10)
  EXPECT_EQ(sense(), std::make_pair(kSenseDataProtect, kAscWriteProtected));
  EXPECT_EQ(packet({0xff}) & kStatusErr, kStatusErr);
  EXPECT_EQ(sense(), std::make_pair(kSenseIllegalRequest, kAscInvalidOpcode));
  // A locked tray does not open; unlocked it does, and the medium is gone.
  packet({0x1e, 0, 0, 0, 1});
  EXPECT_EQ(packet({0x1b, 0, 0, 0, 2}) & kStatusErr, kStatusErr);
  packet({0x1e, 0, 0, 0, 0});
  EXPECT_EQ(packet({0x1b, 0, 0, 0, 2}) & kStatusErr, 0);
  EXPECT_EQ(packet({0x00}) & kStatusErr, kStatusErr);
  EXPECT_EQ(sense(), std::make_pair(kSenseNotReady, kAscMediumNotPresent));
}

TEST_F(EmptyCdTest, ReportsNoMedium) {
  for (auto cdb : std::vector<std::vector<uint8_t>>{
           {0x00}, {0x25}, {0x28, 0, 0, 0, 0, 0, 0, 0, 1}, {0x43, 0, 0, 0, 0, 0, 0, 0, 12}}) {
    EXPECT_EQ(packet(cdb) & kStatusErr, kStatusErr) << int{cdb[0]};
    EXPECT_EQ(h_.inb(0, kRegErrorFeature) >> 4, kSenseNotReady);
    EXPECT_EQ(sense(), std::make_pair(kSenseNotReady, kAscMediumNotPresent));
  }
  // INQUIRY and GET CONFIGURATION work without a medium.
  EXPECT_EQ(packet({0x12, 0, 0, 0, 36}) & kStatusErr, 0);
  EXPECT_EQ(pio_data().size(), 36u);
  packet({0x46, 0, 0, 0, 0, 0, 0, 0, 255});
  const auto conf = pio_data();
  EXPECT_EQ(conf[6] << 8 | conf[7], 0);  // no current profile
}

TEST_F(EmptyCdTest, AtaCommandsAreAborted) {
  // The CVE-2015-6855 class: ATA data commands sent to a packet device with no medium.
  for (uint8_t cmd : {uint8_t{kCmdReadSectors}, uint8_t{kCmdReadDma}, uint8_t{kCmdWriteSectors},
                      uint8_t{kCmdReadVerify}, uint8_t{kCmdSetMultiple}, uint8_t{kCmdFlushCache},
                      uint8_t{kCmdReadMultiple}, uint8_t{0xf8}, uint8_t{0x27}, uint8_t{0x70}}) {
    h_.ata28(0, 1, cmd, 0, 0);
    EXPECT_EQ(h_.inb(0, kRegStatusCommand) & (kStatusErr | kStatusDrq | kStatusBsy), kStatusErr)
        << int{cmd};
    EXPECT_EQ(h_.inb(0, kRegErrorFeature), kErrorAbrt);
    EXPECT_EQ(h_.read_data(0, 4), std::vector<uint8_t>(4, 0xff));
  }
  // A packet longer than 12 bytes: the extra words are dropped.
  h_.outb(0, kRegDevice, 0x10);
  h_.outb(0, kRegStatusCommand, kCmdPacket);
  for (int i = 0; i < 64; ++i) h_.outw(0, 0);
  EXPECT_EQ(h_.wait_ready(0) & kStatusErr, kStatusErr);  // TEST UNIT READY: no medium
}

}  // namespace
