// The e1000's transmit path: legacy descriptors with checksum insertion, extended context and
// data descriptors with IP/TCP checksum offload, and TCP segmentation (8254x SDM 3.3-3.5). The
// resulting frames are checked against checksums computed here, independently of the device.
#include <gtest/gtest.h>

#include "tests/unit/devices/net/e1000_fixture.h"

namespace e1000_test {
namespace {

// Descriptor dwords 2 and 3 (SDM tables 3-8, 3-10, 3-12).
uint32_t legacy(size_t length, uint8_t cmd, uint8_t cso = 0) {
  return static_cast<uint32_t>(length) | uint32_t{cso} << 16 | uint32_t{cmd} << 24;
}
uint32_t data(size_t length, uint8_t cmd) {
  return static_cast<uint32_t>(length) | 1u << 20 | uint32_t{cmd} << 24;
}
constexpr uint8_t kEop = regs::kTxCmdEop, kRs = regs::kTxCmdRs, kDext = regs::kTxCmdDext;
constexpr uint8_t kTse = regs::kTxCmdTse;
constexpr uint32_t kPopts = uint32_t{regs::kTxPoptsIxsm | regs::kTxPoptsTxsm} << 8;

class E1000TxTest : public E1000Test {
 protected:
  // A context descriptor for Ethernet + IPv4 + TCP with 20-byte headers.
  void put_context(uint32_t index, uint8_t tucmd, uint32_t paylen, uint16_t mss) {
    const uint64_t ip = 14u | 24u << 8 | 33u << 16;  // IPCSS, IPCSO, IPCSE
    const uint64_t tcp = 34u | 50u << 8 | 0u << 16;  // TUCSS, TUCSO, TUCSE (to the end)
    put_descriptor(kTxRing, index, ip | tcp << 32,
                   paylen | uint32_t{static_cast<uint8_t>(tucmd | kDext)} << 24,
                   54u << 8 | uint32_t{mss} << 16);
  }
};

TEST_F(E1000TxTest, LegacyDescriptorsFormOneFrameWithInsertedChecksum) {
  setup_tx(8);
  wr(regs::kIms, regs::kIntTxdw);
  Bytes f = tcp_frame(300);
  put_be16(f, 24, static_cast<uint16_t>(~ones_sum(std::span(f).subspan(14, 20))));
  // Legacy IC: the device sums from CSS to the end into CSO; the field holds the pseudo-header.
  put_be16(f, 50, static_cast<uint16_t>(pseudo_sum(f, static_cast<uint32_t>(f.size() - 34))));
  put_bytes(kTxBuffers, f);
  put_descriptor(kTxRing, 0, kTxBuffers, legacy(100, 0), 0);
  put_descriptor(kTxRing, 1, kTxBuffers + 100,
                 legacy(f.size() - 100, kEop | kRs | regs::kTxCmdIc, 50), 34u << 8);
  wr(regs::kTdt, 2);

  ASSERT_EQ(backend.sent.size(), 1u);
  const Bytes& out = backend.sent[0];
  ASSERT_EQ(out.size(), f.size());
  EXPECT_TRUE(ip_checksum_ok(out));
  EXPECT_TRUE(tcp_checksum_ok(out));
  EXPECT_TRUE(std::equal(out.begin() + 54, out.end(), f.begin() + 54));
  EXPECT_EQ(rd(regs::kTdh), 2u);
  EXPECT_TRUE(descriptor(kTxRing, 1)[12] & regs::kTxStatusDd);
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(rd(regs::kIcr) & (regs::kIntTxdw | regs::kIntTxqe), regs::kIntTxdw | regs::kIntTxqe);
}

TEST_F(E1000TxTest, ContextAndDataDescriptorsOffloadIpAndTcpChecksums) {
  setup_tx(8);
  Bytes f = tcp_frame(500);
  // As Linux does for CHECKSUM_PARTIAL: IP checksum 0, TCP field seeded with the pseudo-header
  // including the length.
  put_be16(f, 50, static_cast<uint16_t>(pseudo_sum(f, static_cast<uint32_t>(f.size() - 34))));
  put_bytes(kTxBuffers, f);
  put_context(0, regs::kTxCtxIp | regs::kTxCtxTcp, 0, 0);
  put_descriptor(kTxRing, 1, kTxBuffers, data(f.size(), kDext | kEop | kRs), kPopts);
  wr(regs::kTdt, 2);

  ASSERT_EQ(backend.sent.size(), 1u);
  EXPECT_TRUE(ip_checksum_ok(backend.sent[0]));
  EXPECT_TRUE(tcp_checksum_ok(backend.sent[0]));
}

TEST_F(E1000TxTest, TsoCutsThePayloadIntoMssSegmentsWithTheirOwnHeaders) {
  setup_tx(8);
  constexpr size_t kPayload = 2500, kMss = 1000;
  Bytes f = tcp_frame(kPayload, 0x19);  // FIN | PSH | ACK: FIN and PSH only on the last segment
  // As Linux's e1000_tso: total length and IP checksum 0, TCP seeded without the length.
  put_be16(f, 16, 0);
  put_be16(f, 50, static_cast<uint16_t>(pseudo_sum(f, 0)));
  put_bytes(kTxBuffers, f);
  put_context(0, regs::kTxCtxIp | regs::kTxCtxTcp | kTse, kPayload, kMss);
  put_descriptor(kTxRing, 1, kTxBuffers, data(54 + 700, kDext | kTse), kPopts);
  put_descriptor(kTxRing, 2, kTxBuffers + 754, data(kPayload - 700, kDext | kTse | kEop | kRs),
                 kPopts);
  wr(regs::kTdt, 3);

  ASSERT_EQ(backend.sent.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const Bytes& s = backend.sent[i];
    const size_t payload = i < 2 ? kMss : kPayload - 2 * kMss;
    SCOPED_TRACE(i);
    ASSERT_EQ(s.size(), 54 + payload);
    EXPECT_EQ(be16(s, 16), 40 + payload) << "IP total length";
    EXPECT_EQ(be16(s, 18), 0x1234 + i) << "IP identification";
    EXPECT_EQ(be32(s, 38), 0x10000000u + i * kMss) << "TCP sequence";
    EXPECT_EQ(std::to_integer<int>(s[47]), i < 2 ? 0x10 : 0x19) << "TCP flags";
    EXPECT_TRUE(ip_checksum_ok(s));
    EXPECT_TRUE(tcp_checksum_ok(s));
    EXPECT_TRUE(std::equal(s.begin() + 54, s.end(), f.begin() + 54 + i * kMss));
  }
  EXPECT_EQ(rd(regs::kTsctc), 1u);
  EXPECT_EQ(rd(regs::kGptc), 3u);
}

TEST_F(E1000TxTest, TsoAndChecksumContextsAreKeptApart) {
  // A TSO context followed by a checksum-only context: the TSO packet after both still uses
  // the TSO parameters.
  setup_tx(8);
  Bytes f = tcp_frame(1500, 0x10);
  put_be16(f, 16, 0);
  put_be16(f, 50, static_cast<uint16_t>(pseudo_sum(f, 0)));
  put_bytes(kTxBuffers, f);
  put_context(0, regs::kTxCtxIp | regs::kTxCtxTcp | kTse, 1500, 500);
  put_context(1, regs::kTxCtxIp | regs::kTxCtxTcp, 0, 0);
  put_descriptor(kTxRing, 2, kTxBuffers, data(f.size(), kDext | kTse | kEop), kPopts);
  wr(regs::kTdt, 3);
  ASSERT_EQ(backend.sent.size(), 3u);
  for (const Bytes& s : backend.sent) EXPECT_TRUE(tcp_checksum_ok(s));
}

TEST_F(E1000TxTest, DisabledTransmitterSendsNothingUntilEnabled) {
  setup_tx(8);
  wr(regs::kTctl, 0);
  const Bytes f = tcp_frame(10);
  put_bytes(kTxBuffers, f);
  put_descriptor(kTxRing, 0, kTxBuffers, legacy(f.size(), kEop), 0);
  wr(regs::kTdt, 1);
  EXPECT_TRUE(backend.sent.empty());
  wr(regs::kTctl, regs::kTctlEn);
  EXPECT_EQ(backend.sent.size(), 1u);
}

TEST_F(E1000TxTest, BackendMayAnswerFromInsideSend) {
  backend.loopback = true;
  setup_rx(8, regs::kRctlEn | regs::kRctlSecrc | regs::kRctlUpe | regs::kRctlMpe | regs::kRctlBam);
  setup_tx(8);
  const Bytes f = tcp_frame(10);
  put_bytes(kTxBuffers, f);
  put_descriptor(kTxRing, 0, kTxBuffers, legacy(f.size(), kEop), 0);
  wr(regs::kTdt, 1);  // would deadlock if the frame were sent under the NIC's lock
  ASSERT_EQ(backend.sent.size(), 1u);
  EXPECT_EQ(rd(regs::kRdh), 1u);
  EXPECT_EQ(get_bytes(kRxBuffers, f.size()), f);
}

}  // namespace
}  // namespace e1000_test
