// The e1000's registers, EEPROM, PHY, interrupts, receive path, filters and statistics, driven
// through BAR0 as Linux's e1000 driver drives them.
#include "devices/net/e1000.h"

#include <gtest/gtest.h>

#include <chrono>

#include "tests/unit/devices/net/e1000_fixture.h"

namespace e1000_test {
namespace {

using devices::net::E1000;

// A frame to `dst` from 52:55:0a:00:02:02 with an IPv4 ethertype and `size` bytes in all.
Bytes frame_to(std::array<uint8_t, 6> dst, size_t size = 100) {
  Bytes f(size);
  for (int i = 0; i < 6; ++i) {
    f[i] = std::byte(dst[i]);
    f[6 + i] = std::byte(0x50 + i);
  }
  put_be16(f, 12, 0x0800);
  for (size_t i = 14; i < size; ++i) f[i] = std::byte(static_cast<uint8_t>(i * 7));
  return f;
}
constexpr std::array<uint8_t, 6> kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr std::array<uint8_t, 6> kOtherUnicast = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};
constexpr std::array<uint8_t, 6> kMulticast = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};

class E1000RegisterTest : public E1000Test {
 protected:
  // Bit-bangs a Microwire READ as Linux's e1000_read_eeprom does for the 82540 (e1000_hw.c):
  // request, select, opcode 110 and 6 address bits out, 16 data bits in, deselect.
  uint16_t microwire_read(uint32_t address) {
    uint32_t eecd = rd(regs::kEecd) | regs::kEecdReq;
    wr(regs::kEecd, eecd);
    EXPECT_TRUE(rd(regs::kEecd) & regs::kEecdGnt);
    eecd &= ~(regs::kEecdDi | regs::kEecdSk);
    eecd |= regs::kEecdCs;
    wr(regs::kEecd, eecd);
    const uint32_t command = 0b110u << 6 | address;
    for (int bit = 8; bit >= 0; --bit) {
      eecd = (command >> bit & 1) ? eecd | regs::kEecdDi : eecd & ~regs::kEecdDi;
      wr(regs::kEecd, eecd);
      wr(regs::kEecd, eecd | regs::kEecdSk);
      wr(regs::kEecd, eecd);
    }
    eecd &= ~regs::kEecdDi;
    wr(regs::kEecd, eecd);
    uint16_t data = 0;
    for (int i = 0; i < 16; ++i) {
      wr(regs::kEecd, eecd | regs::kEecdSk);
      data = static_cast<uint16_t>(data << 1 | ((rd(regs::kEecd) & regs::kEecdDo) ? 1 : 0));
      wr(regs::kEecd, eecd);
    }
    wr(regs::kEecd, eecd & ~(regs::kEecdCs | regs::kEecdReq));
    return data;
  }

  uint32_t mdic_read(uint32_t phy, uint32_t reg) {
    wr(regs::kMdic, regs::kMdicOpRead | phy << 21 | reg << 16);
    return rd(regs::kMdic);
  }
};

TEST_F(E1000Test, PciIdentityAndBars) {
  EXPECT_EQ(nic.config_read(devices::pci::kVendorId, 2), 0x8086u);
  EXPECT_EQ(nic.config_read(devices::pci::kDeviceId, 2), 0x100eu);
  EXPECT_EQ(nic.config_read(devices::pci::kClassCode, 4) & 0xffffff, 0x020000u);
  EXPECT_EQ(nic.config_read(devices::pci::kInterruptPin, 1), 1u);
  const auto state = nic.decode_state();
  ASSERT_TRUE(state.bars[0]);
  EXPECT_EQ(state.bars[0]->kind, devices::pci::BarKind::kMemory32);
  EXPECT_EQ(state.bars[0]->size, 128u * 1024);
  ASSERT_TRUE(state.bars[1]);
  EXPECT_EQ(state.bars[1]->kind, devices::pci::BarKind::kIo);
  EXPECT_EQ(state.bars[1]->size, 64u);
}

TEST_F(E1000Test, LinkIsUpAtGigabitFullDuplex) {
  const uint32_t status = rd(regs::kStatus);
  EXPECT_TRUE(status & regs::kStatusLu);
  EXPECT_TRUE(status & regs::kStatusFd);
  EXPECT_EQ((status >> 6) & 3, 2u);  // 1000 Mb/s
}

TEST_F(E1000Test, IoBarReachesTheRegistersThroughIoaddrAndIodata) {
  std::array<std::byte, 4> b;
  uint32_t addr = regs::kStatus;
  std::memcpy(b.data(), &addr, 4);
  nic.bar_write(E1000::kIoBar, 0, b);
  nic.bar_read(E1000::kIoBar, 4, b);
  uint32_t value;
  std::memcpy(&value, b.data(), 4);
  EXPECT_EQ(value, rd(regs::kStatus));
  // And a write through IODATA lands in the register.
  addr = regs::kRdbal;
  std::memcpy(b.data(), &addr, 4);
  nic.bar_write(E1000::kIoBar, 0, b);
  value = 0x12340;
  std::memcpy(b.data(), &value, 4);
  nic.bar_write(E1000::kIoBar, 4, b);
  EXPECT_EQ(rd(regs::kRdbal), 0x12340u);
}

TEST_F(E1000Test, ReceiveAddressZeroHoldsTheMac) {
  EXPECT_EQ(rd(regs::kRal0), 0x12005452u);
  EXPECT_EQ(rd(regs::kRal0 + 4), 0x80005634u);
}

TEST_F(E1000Test, EepromThroughEerdHoldsMacAndChecksum) {
  uint16_t sum = 0;
  std::array<uint16_t, 64> words{};
  for (uint32_t i = 0; i < 64; ++i) {
    wr(regs::kEerd, i << 8 | regs::kEerdStart);
    const uint32_t v = rd(regs::kEerd);
    ASSERT_TRUE(v & regs::kEerdDone);
    words[i] = static_cast<uint16_t>(v >> 16);
    sum = static_cast<uint16_t>(sum + words[i]);
  }
  EXPECT_EQ(sum, 0xbaba);
  EXPECT_EQ(words[0], 0x5452);
  EXPECT_EQ(words[1], 0x1200);
  EXPECT_EQ(words[2], 0x5634);
}

TEST_F(E1000RegisterTest, EepromThroughBitBangedEecdMatchesEerd) {
  EXPECT_TRUE(rd(regs::kEecd) & regs::kEecdPres);
  uint16_t sum = 0;
  for (uint32_t i = 0; i < 64; ++i) {
    const uint16_t word = microwire_read(i);
    wr(regs::kEerd, i << 8 | regs::kEerdStart);
    EXPECT_EQ(word, rd(regs::kEerd) >> 16) << "word " << i;
    sum = static_cast<uint16_t>(sum + word);
  }
  EXPECT_EQ(sum, 0xbaba);
}

TEST_F(E1000RegisterTest, PhyReportsM88IdAndLinkUp) {
  const uint32_t id1 = mdic_read(1, 2);
  const uint32_t id2 = mdic_read(1, 3);
  EXPECT_TRUE(id1 & regs::kMdicReady);
  EXPECT_FALSE(id1 & regs::kMdicError);
  EXPECT_EQ(((id1 & 0xffff) << 16 | (id2 & 0xfff0)), 0x01410c20u);  // M88E1011_I_PHY_ID
  const uint32_t bmsr = mdic_read(1, 1) & 0xffff;
  EXPECT_TRUE(bmsr & (1u << 2)) << "link status";
  EXPECT_TRUE(bmsr & (1u << 5)) << "auto-negotiation complete";
  // Another PHY address answers with an error.
  EXPECT_TRUE(mdic_read(2, 1) & regs::kMdicError);
}

TEST_F(E1000RegisterTest, PhyResetSelfClearsAndWritesStick) {
  wr(regs::kMdic, regs::kMdicOpWrite | 1u << 21 | 4u << 16 | 0x0de1);  // advertisement
  EXPECT_EQ(mdic_read(1, 4) & 0xffff, 0x0de1u);
  wr(regs::kMdic, regs::kMdicOpWrite | 1u << 21 | 0u << 16 | 0x9140);  // BMCR reset
  EXPECT_FALSE(mdic_read(1, 0) & 0x8000);
  // The read-only ID stays.
  wr(regs::kMdic, regs::kMdicOpWrite | 1u << 21 | 2u << 16 | 0x1234);
  EXPECT_EQ(mdic_read(1, 2) & 0xffff, 0x0141u);
}

TEST_F(E1000Test, InterruptLineFollowsIcrAndIms) {
  wr(regs::kIcs, regs::kIntLsc);
  EXPECT_FALSE(irq.level()) << "masked";
  wr(regs::kIms, regs::kIntLsc | regs::kIntRxt0);
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(rd(regs::kIms), regs::kIntLsc | regs::kIntRxt0);
  wr(regs::kImc, regs::kIntLsc);
  EXPECT_FALSE(irq.level());
  clock.advance(std::chrono::microseconds(128));  // interrupts are 128 us apart at least
  wr(regs::kIms, regs::kIntLsc);
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(rd(regs::kIcr), regs::kIntLsc);  // read to clear
  EXPECT_FALSE(irq.level());
  EXPECT_EQ(rd(regs::kIcr), 0u);
}

TEST_F(E1000Test, SoftwareResetRestoresDefaults) {
  wr(regs::kIms, regs::kIntLsc);
  wr(regs::kIcs, regs::kIntLsc);
  wr(regs::kRdlen, 4096);
  ASSERT_TRUE(irq.level());
  wr(regs::kCtrl, regs::kCtrlRst);
  EXPECT_FALSE(irq.level());
  EXPECT_EQ(rd(regs::kIms), 0u);
  EXPECT_EQ(rd(regs::kRdlen), 0u);
  EXPECT_FALSE(rd(regs::kCtrl) & regs::kCtrlRst);
  EXPECT_EQ(rd(regs::kRal0), 0x12005452u);
}

TEST_F(E1000Test, ReceivedFrameLandsInTheRingWithAnInterrupt) {
  setup_rx(8);
  wr(regs::kIms, regs::kIntRxt0);
  const Bytes f = frame_to(kMac, 300);
  EXPECT_TRUE(deliver(f));
  EXPECT_EQ(get_bytes(kRxBuffers, f.size()), f);
  const auto d = descriptor(kRxRing, 0);
  EXPECT_EQ(d[8] | d[9] << 8, 300);
  EXPECT_EQ(d[12] & (regs::kRxStatusDd | regs::kRxStatusEop),
            regs::kRxStatusDd | regs::kRxStatusEop);
  EXPECT_EQ(d[13], 0);
  EXPECT_EQ(rd(regs::kRdh), 1u);
  EXPECT_TRUE(irq.level());
  EXPECT_TRUE(rd(regs::kIcr) & regs::kIntRxt0);
}

TEST_F(E1000Test, ShortFramesArePaddedAndFcsIsAppendedUnlessStripped) {
  setup_rx(8, regs::kRctlEn);  // no SECRC: the FCS stays
  Bytes f = frame_to(kMac, 42);
  EXPECT_TRUE(deliver(f));
  const auto d = descriptor(kRxRing, 0);
  EXPECT_EQ(d[8] | d[9] << 8, 64);  // 60 bytes padded + 4 FCS
  Bytes stored = get_bytes(kRxBuffers, 64);
  // The FCS is the CRC-32 of the 60 bytes: the CRC over frame + FCS has the fixed residue.
  uint32_t crc = 0xffffffff;
  for (std::byte b : stored) {
    crc ^= std::to_integer<uint32_t>(b);
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  EXPECT_EQ(crc, 0xdebb20e3u);
  EXPECT_EQ(stored[50], std::byte{0});
}

TEST_F(E1000Test, RingFullRefusesAndRdtWriteAsksForARetry) {
  setup_rx(8);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(deliver(frame_to(kMac)));
  EXPECT_FALSE(deliver(frame_to(kMac))) << "RDH reached RDT: no free buffer";
  const int before = backend.ready_calls;
  wr(regs::kRdt, 3);
  EXPECT_GT(backend.ready_calls, before);
  EXPECT_TRUE(deliver(frame_to(kMac)));
  EXPECT_EQ(rd(regs::kRnbc), 1u);
}

TEST_F(E1000Test, LongFrameSpansBuffersOnlyWithLongPacketEnable) {
  setup_rx(8, regs::kRctlEn | regs::kRctlSecrc | regs::kRctlLpe | 3u << regs::kRctlBsizeShift);
  const Bytes f = frame_to(kMac, 600);  // 256-byte buffers: three descriptors
  EXPECT_TRUE(deliver(f));
  EXPECT_EQ(rd(regs::kRdh), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    const auto d = descriptor(kRxRing, i);
    EXPECT_EQ(d[8] | d[9] << 8, i < 2 ? 256 : 88);
    EXPECT_EQ((d[12] & regs::kRxStatusEop) != 0, i == 2);
    EXPECT_EQ(get_bytes(kRxBuffers + 0x4000 * i, d[8] | d[9] << 8),
              Bytes(f.begin() + 256 * i, f.begin() + 256 * i + (d[8] | d[9] << 8)));
  }
}

TEST_F(E1000Test, BufferSizeExtensionGivesLargeBuffers) {
  // BSEX with BSIZE 01 is 16384 bytes: a 9000-byte jumbo frame takes one descriptor.
  setup_rx(8, regs::kRctlEn | regs::kRctlSecrc | regs::kRctlLpe | regs::kRctlBsex |
                  1u << regs::kRctlBsizeShift);
  EXPECT_TRUE(deliver(frame_to(kMac, 9000)));
  EXPECT_EQ(rd(regs::kRdh), 1u);
}

TEST_F(E1000Test, FiltersUnicastBroadcastMulticastAndPromiscuous) {
  setup_rx(32, regs::kRctlEn | regs::kRctlSecrc);
  auto received = [this](std::array<uint8_t, 6> dst) {
    const uint32_t before = rd(regs::kRdh);
    EXPECT_TRUE(deliver(frame_to(dst)));
    return rd(regs::kRdh) != before;
  };
  EXPECT_TRUE(received(kMac));
  EXPECT_FALSE(received(kOtherUnicast));
  EXPECT_FALSE(received(kBroadcast)) << "BAM clear";
  EXPECT_FALSE(received(kMulticast));

  wr(regs::kRctl, regs::kRctlEn | regs::kRctlSecrc | regs::kRctlBam);
  EXPECT_TRUE(received(kBroadcast));

  // The multicast table, hashed with MO=00 on bits 47:36 as Linux's e1000_hash_mc_addr does.
  const uint32_t hash = (kMulticast[4] >> 4 | kMulticast[5] << 4) & 0xfff;
  wr(regs::kMta + 4 * (hash >> 5), 1u << (hash & 31));
  EXPECT_TRUE(received(kMulticast));
  EXPECT_FALSE(received({0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}));

  // A second exact address in RAL/RAH 1.
  wr(regs::kRal0 + 8, 0xaa005452);
  wr(regs::kRal0 + 12, 0x0000ccbb | regs::kRahAv);
  EXPECT_TRUE(received(kOtherUnicast));
  EXPECT_FALSE(received({0x52, 0x54, 0x00, 0x99, 0x99, 0x99}));

  wr(regs::kRctl, regs::kRctlEn | regs::kRctlSecrc | regs::kRctlUpe);
  EXPECT_TRUE(received({0x52, 0x54, 0x00, 0x99, 0x99, 0x99})) << "unicast promiscuous";
  EXPECT_FALSE(received({0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}));
  wr(regs::kRctl, regs::kRctlEn | regs::kRctlSecrc | regs::kRctlMpe);
  EXPECT_TRUE(received({0x01, 0x00, 0x5e, 0x00, 0x00, 0x01})) << "multicast promiscuous";
}

TEST_F(E1000Test, VlanFilterDropsTagsNotInVfta) {
  setup_rx(8, regs::kRctlEn | regs::kRctlSecrc | regs::kRctlVfe);
  Bytes tagged = frame_to(kMac);
  put_be16(tagged, 12, 0x8100);
  put_be16(tagged, 14, 5);  // VLAN 5
  EXPECT_TRUE(deliver(tagged));
  EXPECT_EQ(rd(regs::kRdh), 0u);
  wr(regs::kVfta, 1u << 5);
  EXPECT_TRUE(deliver(tagged));
  EXPECT_EQ(rd(regs::kRdh), 1u);
}

TEST_F(E1000Test, StatisticsCountAndClearOnRead) {
  setup_rx(8);
  ASSERT_TRUE(deliver(frame_to(kMac, 100)));
  ASSERT_TRUE(deliver(frame_to(kBroadcast, 200)));
  EXPECT_EQ(rd(regs::kGprc), 2u);
  EXPECT_EQ(rd(regs::kGprc), 0u) << "read to clear";
  EXPECT_EQ(rd(regs::kBprc), 1u);
  EXPECT_EQ(rd(regs::kTpr), 2u);
  EXPECT_EQ(rd(regs::kPrc64 + 4), 1u);  // 104 bytes on the wire: 65..127
  EXPECT_EQ(rd(regs::kPrc64 + 8), 1u);  // 204 bytes: 128..255
  EXPECT_EQ(rd(regs::kGorcl), 308u);    // 104 + 204: the FCS counts
  EXPECT_EQ(rd(regs::kGorch), 0u);
  EXPECT_EQ(rd(regs::kGorcl), 0u) << "reading the high dword cleared the counter";

  setup_tx(8);
  const Bytes f = tcp_frame(100);
  put_bytes(kTxBuffers, f);
  put_descriptor(kTxRing, 0, kTxBuffers, static_cast<uint32_t>(f.size()) | 0x0b000000u, 0);
  wr(regs::kTdt, 1);
  EXPECT_EQ(rd(regs::kGptc), 1u);
  EXPECT_EQ(rd(regs::kTpt), 1u);
  EXPECT_EQ(rd(regs::kGotcl), f.size() + 4);
  EXPECT_EQ(rd(regs::kGptc), 0u);
}

}  // namespace
}  // namespace e1000_test
