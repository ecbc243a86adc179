// A hostile guest against the e1000 (the item 3): ring indices outside the ring
// (CVE-2016-1981), zero-length and oversized descriptors, TSO with MSS 0 (CVE-2015-6815), a
// packet whose descriptors never end (CVE-2021-20257), frames larger than the driver allowed
// (CVE-2012-6075), and buffers that point at MMIO instead of RAM. The device must not crash,
// hang, or touch anything outside RAM, and must keep working once the guest behaves.
#include <gtest/gtest.h>

#include "tests/unit/devices/net/e1000_fixture.h"

namespace e1000_test {
namespace {

uint32_t legacy(size_t length, uint8_t cmd) {
  return static_cast<uint32_t>(length) | uint32_t{cmd} << 24;
}
constexpr uint8_t kEop = regs::kTxCmdEop, kRs = regs::kTxCmdRs;

class E1000HostileTest : public E1000Test {
 protected:
  // A well-formed frame sent through descriptor `index`: proves the device still works.
  void expect_good_send(uint32_t index, uint32_t ring) {
    const Bytes f = tcp_frame(64);
    put_bytes(kTxBuffers, f);
    put_descriptor(kTxRing, index, kTxBuffers, legacy(f.size(), kEop | kRs), 0);
    const size_t before = backend.sent.size();
    wr(regs::kTdt, (index + 1) % ring);
    ASSERT_EQ(backend.sent.size(), before + 1);
    EXPECT_EQ(backend.sent.back(), f);
  }
  Bytes frame_to_us(size_t size) {
    Bytes f(size);
    for (int i = 0; i < 6; ++i) f[i] = std::byte(kMac[i]);
    put_be16(f, 12, 0x0800);
    return f;
  }
};

TEST_F(E1000HostileTest, TransmitTailOrHeadOutsideTheRingIsIgnored) {
  setup_tx(8);
  const Bytes f = tcp_frame(64);
  put_bytes(kTxBuffers, f);
  for (uint32_t i = 0; i < 8; ++i)
    put_descriptor(kTxRing, i, kTxBuffers, legacy(f.size(), kEop), 0);
  wr(regs::kTdt, 100);  // past the 8-descriptor ring
  EXPECT_TRUE(backend.sent.empty());
  EXPECT_EQ(rd(regs::kTdh), 0u);
  wr(regs::kTdh, 0xffff);
  wr(regs::kTdt, 3);
  EXPECT_TRUE(backend.sent.empty());
  // Back inside the ring, transmit resumes.
  wr(regs::kTdh, 0);
  wr(regs::kTdt, 0);
  expect_good_send(0, 8);
}

TEST_F(E1000HostileTest, ReceiveTailOrHeadOutsideTheRingDropsTheFrame) {
  setup_rx(8);
  wr(regs::kRdt, 1000);
  EXPECT_TRUE(deliver(frame_to_us(100))) << "dropped, not left queued forever";
  EXPECT_EQ(rd(regs::kRdh), 0u);
  EXPECT_EQ(descriptor(kRxRing, 0)[12], 0) << "nothing written back";
  wr(regs::kRdt, 4);
  wr(regs::kRdh, 9);
  EXPECT_TRUE(deliver(frame_to_us(100)));
  EXPECT_EQ(rd(regs::kMpc), 2u);
  wr(regs::kRdh, 0);
  EXPECT_TRUE(deliver(frame_to_us(100)));
  EXPECT_EQ(rd(regs::kRdh), 1u);
}

TEST_F(E1000HostileTest, ZeroLengthDescriptorsAreSkipped) {
  setup_tx(8);
  // A ring of zero-length end-of-packet descriptors: consumed, nothing sent.
  for (uint32_t i = 0; i < 7; ++i) put_descriptor(kTxRing, i, kTxBuffers, legacy(0, kEop | kRs), 0);
  wr(regs::kTdt, 7);
  EXPECT_TRUE(backend.sent.empty());
  EXPECT_EQ(rd(regs::kTdh), 7u);
  // A zero-length descriptor inside a packet contributes nothing.
  const Bytes f = tcp_frame(100);
  put_bytes(kTxBuffers, f);
  put_descriptor(kTxRing, 7, kTxBuffers, legacy(50, 0), 0);
  put_descriptor(kTxRing, 0, kNotRam, legacy(0, 0), 0);
  put_descriptor(kTxRing, 1, kTxBuffers + 50, legacy(f.size() - 50, kEop), 0);
  wr(regs::kTdt, 2);
  ASSERT_EQ(backend.sent.size(), 1u);
  EXPECT_EQ(backend.sent[0], f);
}

TEST_F(E1000HostileTest, OversizedDescriptorsDropThePacket) {
  setup_tx(8);
  // A data descriptor of 1 MiB - 1 (its 20-bit maximum), inside RAM: over the 64 KiB limit.
  put_descriptor(kTxRing, 0, kTxBuffers,
                 0xfffff | 1u << 20 | uint32_t{kEop | regs::kTxCmdDext} << 24, 0);
  // A 65535-byte legacy frame: larger than any frame the device sends.
  put_descriptor(kTxRing, 1, kTxBuffers, legacy(0xffff, kEop), 0);
  wr(regs::kTdt, 2);
  EXPECT_TRUE(backend.sent.empty());
  EXPECT_EQ(rd(regs::kTdh), 2u);
  expect_good_send(2, 8);
}

TEST_F(E1000HostileTest, TsoWithMssZeroIsRefused) {
  setup_tx(8);
  const Bytes f = tcp_frame(3000);
  put_bytes(kTxBuffers, f);
  const uint8_t tucmd = regs::kTxCtxIp | regs::kTxCtxTcp | regs::kTxCmdTse | regs::kTxCmdDext;
  put_descriptor(kTxRing, 0, 14u | 24u << 8 | 33u << 16 | uint64_t{34u | 50u << 8} << 32,
                 3000u | uint32_t{tucmd} << 24, 54u << 8 | 0u << 16);  // MSS 0
  put_descriptor(kTxRing, 1, kTxBuffers,
                 static_cast<uint32_t>(f.size()) | 1u << 20 |
                     uint32_t{kEop | regs::kTxCmdTse | regs::kTxCmdDext} << 24,
                 3u << 8);
  wr(regs::kTdt, 2);
  EXPECT_TRUE(backend.sent.empty());
  EXPECT_EQ(rd(regs::kTdh), 2u);
  EXPECT_EQ(rd(regs::kTsctfc), 1u);
  expect_good_send(2, 8);
}

TEST_F(E1000HostileTest, ChainWithoutEndIsBoundedPerDoorbellAndInSize) {
  constexpr uint32_t kRing = 256;
  setup_tx(kRing);
  for (uint32_t i = 0; i < kRing; ++i) put_descriptor(kTxRing, i, kTxBuffers, legacy(4096, 0), 0);
  // The guest keeps ringing with the whole ring full of descriptors that never end the packet:
  // each doorbell walks at most the ring, and the packet never grows past 64 KiB.
  uint32_t tail = 0;
  for (int doorbell = 0; doorbell < 20; ++doorbell) {
    tail = (tail + kRing - 1) % kRing;
    wr(regs::kTdt, tail);
    EXPECT_EQ(rd(regs::kTdh), tail);
  }
  EXPECT_TRUE(backend.sent.empty());
  // The end finally comes: the overlong packet is dropped, and the next one goes out intact.
  put_descriptor(kTxRing, tail, kTxBuffers, legacy(4096, kEop), 0);
  wr(regs::kTdt, (tail + 1) % kRing);
  EXPECT_TRUE(backend.sent.empty());
  expect_good_send((tail + 1) % kRing, kRing);
}

TEST_F(E1000HostileTest, FramesLongerThanTheDriverAllowedAreDropped) {
  // Without LPE, nothing over 1522 bytes with its FCS reaches the buffers, whatever RCTL.BSIZE
  // says: Linux's are 1522 bytes long.
  setup_rx(8);
  EXPECT_TRUE(deliver(frame_to_us(4000)));
  EXPECT_TRUE(deliver(frame_to_us(1519)));
  EXPECT_EQ(rd(regs::kRdh), 0u);
  EXPECT_EQ(rd(regs::kRoc), 2u);
  EXPECT_TRUE(deliver(frame_to_us(1518)));
  EXPECT_EQ(rd(regs::kRdh), 1u);
  // As Linux runs it, the FCS stored too: the longest frame fills exactly 1522 bytes.
  setup_rx(8, regs::kRctlEn | regs::kRctlBam);
  EXPECT_TRUE(deliver(frame_to_us(1519)));
  EXPECT_TRUE(deliver(frame_to_us(1518)));
  EXPECT_EQ(rd(regs::kRdh), 1u);
  const auto d = descriptor(kRxRing, 0);
  EXPECT_EQ(d[8] | d[9] << 8, 1522);
  EXPECT_EQ(get_bytes(kRxBuffers + 1522, 16), Bytes(16));
  EXPECT_EQ(rd(regs::kRoc), 1u);
  // With LPE, nothing over 16 KiB, and nothing a ring of 256-byte buffers cannot hold (waiting
  // for it would block every later frame).
  setup_rx(8, regs::kRctlEn | regs::kRctlSecrc | regs::kRctlLpe | 3u << regs::kRctlBsizeShift);
  EXPECT_TRUE(deliver(frame_to_us(20000)));
  EXPECT_TRUE(deliver(frame_to_us(4000)));
  EXPECT_EQ(rd(regs::kRdh), 0u);
  EXPECT_EQ(rd(regs::kRoc), 1u);
  EXPECT_EQ(rd(regs::kMpc), 1u);
  // No byte past the buffers the ring hands out was written.
  EXPECT_EQ(get_bytes(kRxBuffers + 256, 16), Bytes(16));
}

TEST_F(E1000HostileTest, TransmitBufferAtMmioDropsThePacketAndMovesOn) {
  setup_tx(8);
  put_descriptor(kTxRing, 0, kNotRam, legacy(100, kEop | kRs), 0);
  put_descriptor(kTxRing, 1, kRamSize - 10, legacy(100, kEop | kRs), 0);  // straddles RAM's end
  wr(regs::kTdt, 2);
  EXPECT_TRUE(backend.sent.empty());
  EXPECT_EQ(rd(regs::kTdh), 2u);
  EXPECT_TRUE(descriptor(kTxRing, 0)[12] & regs::kTxStatusDd) << "handed back to the driver";
  expect_good_send(2, 8);
}

TEST_F(E1000HostileTest, ReceiveBufferAtMmioReportsAnErrorAndMovesOn) {
  setup_rx(8);
  put_descriptor(kRxRing, 0, kNotRam, 0, 0);
  EXPECT_TRUE(deliver(frame_to_us(100)));
  const auto d = descriptor(kRxRing, 0);
  EXPECT_TRUE(d[12] & regs::kRxStatusDd);
  EXPECT_TRUE(d[12] & regs::kRxStatusEop);
  EXPECT_EQ(d[13], regs::kRxErrorRxe);
  EXPECT_EQ(rd(regs::kRdh), 1u);
  EXPECT_EQ(rd(regs::kRxerrc), 1u);
  EXPECT_EQ(rd(regs::kGprc), 0u);
  EXPECT_TRUE(deliver(frame_to_us(100)));
  EXPECT_EQ(rd(regs::kGprc), 1u);
}

TEST_F(E1000HostileTest, RingsOutsideRamStopWithoutLooping) {
  wr(regs::kTdbal, static_cast<uint32_t>(kNotRam));
  wr(regs::kTdlen, 4096);
  wr(regs::kTctl, regs::kTctlEn);
  wr(regs::kTdt, 200);
  EXPECT_TRUE(backend.sent.empty());
  EXPECT_EQ(rd(regs::kTdh), 0u);

  wr(regs::kRdbal, static_cast<uint32_t>(kNotRam));
  wr(regs::kRdlen, 4096);
  wr(regs::kRdt, 100);
  wr(regs::kRctl, regs::kRctlEn | regs::kRctlSecrc);
  EXPECT_TRUE(deliver(frame_to_us(100)));
  EXPECT_EQ(rd(regs::kRdh), 0u);
  EXPECT_EQ(rd(regs::kMpc), 1u);
}

TEST_F(E1000HostileTest, OddSizedAndMisalignedRegisterAccessesAreHarmless) {
  std::array<std::byte, 2> two{std::byte{0xff}, std::byte{0xff}};
  nic.bar_write(devices::net::E1000::kMmioBar, regs::kIms + 1, two);
  EXPECT_EQ(rd(regs::kIms), 0u);
  nic.bar_read(devices::net::E1000::kMmioBar, devices::net::E1000::kMmioSize - 2, two);
  std::array<std::byte, 4> four{};
  nic.bar_read(devices::net::E1000::kIoBar, 60, four);
  nic.bar_write(devices::net::E1000::kIoBar, 60, four);
  EXPECT_TRUE(rd(regs::kStatus) & regs::kStatusLu);
}

}  // namespace
}  // namespace e1000_test
