#include "devices/net/e1000_tx.h"

#include <algorithm>

#include "devices/net/e1000_regs.h"

namespace devices::net::e1000 {
namespace {

uint16_t le16(const std::array<std::byte, 16>& d, size_t at) {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(d[at]) |
                               std::to_integer<uint16_t>(d[at + 1]) << 8);
}
uint32_t le32(const std::array<std::byte, 16>& d, size_t at) {
  return le16(d, at) | static_cast<uint32_t>(le16(d, at + 2)) << 16;
}
uint64_t le64(const std::array<std::byte, 16>& d, size_t at) {
  return le32(d, at) | static_cast<uint64_t>(le32(d, at + 4)) << 32;
}
uint8_t byte_at(const std::array<std::byte, 16>& d, size_t at) {
  return std::to_integer<uint8_t>(d[at]);
}

// Network-order fields of the packet; accesses past its end are skipped, so a context whose
// offsets point outside the frame changes nothing.
uint32_t get_be(std::span<const std::byte> f, size_t at, size_t n) {
  uint32_t v = 0;
  if (at + n > f.size()) return 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | std::to_integer<uint32_t>(f[at + i]);
  return v;
}
void put_be(std::span<std::byte> f, size_t at, size_t n, uint32_t v) {
  if (at + n > f.size()) return;
  for (size_t i = 0; i < n; ++i) f[at + n - 1 - i] = static_cast<std::byte>(v >> (8 * i));
}

// The Internet checksum (RFC 1071) of f[start, end] with `end` inclusive and 0 meaning the end
// of the frame, plus `extra`, stored complemented at `offset` (SDM 3.3.6: IPCSS/IPCSO/IPCSE and
// TUCSS/TUCSO/TUCSE). The field's old contents are summed too: that is how the driver seeds the
// pseudo-header. A UDP checksum of 0 is sent as 0xFFFF (RFC 768).
void insert_checksum(std::span<std::byte> f, size_t start, size_t offset, size_t end,
                     uint32_t extra, bool udp) {
  const size_t stop = (end == 0 || end >= f.size()) ? f.size() : end + 1;
  if (start >= stop || offset + 2 > f.size()) return;
  uint64_t sum = extra;
  for (size_t i = start; i < stop; i += 2) {
    sum += std::to_integer<uint32_t>(f[i]) << 8;
    if (i + 1 < stop) sum += std::to_integer<uint32_t>(f[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t result = static_cast<uint16_t>(~sum);
  if (udp && result == 0) result = 0xffff;
  put_be(f, offset, 2, result);
}

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr size_t kIpv6HeaderSize = 40;

}  // namespace

void TxEngine::reset() {
  checksum_context_ = {};
  tso_context_ = {};
  packet_.clear();
  started_ = extended_ = tse_ = legacy_checksum_ = broken_ = false;
  popts_ = legacy_css_ = legacy_cso_ = 0;
}

void TxEngine::process(const std::array<std::byte, 16>& d, const memory::GuestMemory& memory,
                       const Sink& sink, TxEvents& events) {
  const uint8_t cmd = byte_at(d, 11);
  if (!(cmd & kTxCmdDext)) {
    // Legacy descriptor (SDM 3.3.3): CSO and CSS count on the packet's last descriptor.
    if (!started_) {
      started_ = true;
      extended_ = false;
    }
    append(memory, le64(d, 0), le16(d, 8));
    if (cmd & kTxCmdEop) {
      legacy_checksum_ = (cmd & kTxCmdIc) != 0;
      legacy_cso_ = byte_at(d, 10);
      legacy_css_ = byte_at(d, 13);
      finish(sink, events);
    }
    return;
  }
  const uint8_t type = byte_at(d, 10) >> 4;
  if (type == kTxTypeContext) {
    // Context descriptor (SDM 3.3.6): it only records the offload parameters.
    Context c{byte_at(d, 0), byte_at(d, 1), le16(d, 2),     byte_at(d, 4), byte_at(d, 5),
              le16(d, 6),    cmd,           byte_at(d, 13), le16(d, 14)};
    ((cmd & kTxCmdTse) ? tso_context_ : checksum_context_) = c;
    return;
  }
  if (type != kTxTypeData) return;  // reserved types carry nothing (SDM table 3-9)
  // Data descriptor (SDM 3.3.7): TSE and POPTS count on the packet's first descriptor.
  if (!started_) {
    started_ = true;
    extended_ = true;
    tse_ = (cmd & kTxCmdTse) != 0;
    popts_ = byte_at(d, 13);
  }
  append(memory, le64(d, 0), le32(d, 8) & 0xfffff);
  if (cmd & kTxCmdEop) finish(sink, events);
}

void TxEngine::append(const memory::GuestMemory& memory, uint64_t address, uint32_t length) {
  if (length == 0 || broken_) return;
  if (length > kMaxPacket - packet_.size()) {
    broken_ = true;
    packet_.clear();
    return;
  }
  const size_t old = packet_.size();
  packet_.resize(old + length);
  // GuestMemory refuses buffers outside RAM (a device's MMIO, or nothing): drop the packet.
  if (!memory.read(address, std::span(packet_).subspan(old))) {
    broken_ = true;
    packet_.clear();
  }
}

void TxEngine::finish(const Sink& sink, TxEvents& events) {
  if (broken_ || packet_.size() < kMinFrame) {
    ++events.dropped;
  } else if (extended_ && tse_) {
    segment(sink, events);
  } else if (packet_.size() > kMaxFrame) {
    ++events.dropped;
  } else {
    std::span<std::byte> f(packet_);
    if (extended_) {
      const Context& c = checksum_context_;
      if (popts_ & kTxPoptsIxsm) insert_checksum(f, c.ipcss, c.ipcso, c.ipcse, 0, false);
      if (popts_ & kTxPoptsTxsm) {
        insert_checksum(f, c.tucss, c.tucso, c.tucse, 0, !(c.tucmd & kTxCtxTcp));
      }
    } else if (legacy_checksum_) {
      insert_checksum(f, legacy_css_, legacy_cso_, 0, 0, false);
    }
    sink(f);
  }
  packet_.clear();
  started_ = extended_ = tse_ = legacy_checksum_ = broken_ = false;
}

// TCP segmentation (SDM 3.5): the first HDRLEN bytes are the header template; the rest is cut
// into MSS-sized payloads, and each frame gets its own lengths, IP ID, sequence number, flags
// and checksums (SDM 3.5.4, "IP and TCP/UDP headers"). PAYLEN is not trusted: the payload is
// what the descriptors actually carried.
void TxEngine::segment(const Sink& sink, TxEvents& events) {
  const Context& c = tso_context_;
  const size_t header = c.hdrlen;
  // An MSS of 0 would never make progress (CVE-2015-6815); a header longer than the packet, or
  // segments larger than a frame, cannot be built.
  if (c.mss == 0 || header < kMinFrame || header > packet_.size() || header + c.mss > kMaxFrame) {
    ++events.tso_failures;
    ++events.dropped;
    return;
  }
  const bool ipv4 = (c.tucmd & kTxCtxIp) != 0;
  const bool tcp = (c.tucmd & kTxCtxTcp) != 0;
  const std::span<const std::byte> packet(packet_);
  const size_t payload = packet.size() - header;
  const uint32_t ip_id = get_be(packet, c.ipcss + 4u, 2);
  const uint32_t sequence = get_be(packet, c.tucss + 4u, 4);

  std::vector<std::byte> frame;
  frame.reserve(header + c.mss);
  uint32_t index = 0;
  for (size_t offset = 0;; ++index) {
    const size_t length = std::min<size_t>(c.mss, payload - offset);
    const bool last = offset + length >= payload;
    frame.assign(packet.begin(), packet.begin() + static_cast<ptrdiff_t>(header));
    frame.insert(frame.end(), packet.begin() + static_cast<ptrdiff_t>(header + offset),
                 packet.begin() + static_cast<ptrdiff_t>(header + offset + length));
    std::span<std::byte> f(frame);
    const uint32_t size = static_cast<uint32_t>(f.size());
    if (ipv4) {
      put_be(f, c.ipcss + 2u, 2, size - c.ipcss);  // total length
      put_be(f, c.ipcss + 4u, 2, ip_id + index);   // identification
    } else {
      put_be(f, c.ipcss + 4u, 2, size - c.ipcss - static_cast<uint32_t>(kIpv6HeaderSize));
    }
    if (tcp) {
      put_be(f, c.tucss + 4u, 4, sequence + static_cast<uint32_t>(offset));
      if (!last && c.tucss + 13u < f.size()) {
        f[c.tucss + 13u] &= ~std::byte{kTcpFin | kTcpPsh};
      }
    } else {
      put_be(f, c.tucss + 4u, 2, size - c.tucss);  // UDP length
    }
    if (popts_ & kTxPoptsIxsm) insert_checksum(f, c.ipcss, c.ipcso, c.ipcse, 0, false);
    // The driver seeds the pseudo-header without the length; each segment adds its own.
    if (popts_ & kTxPoptsTxsm) {
      insert_checksum(f, c.tucss, c.tucso, c.tucse, size - c.tucss, !tcp);
    }
    sink(f);
    offset += length;
    if (last) break;
  }
  ++events.tso_contexts;
}

}  // namespace devices::net::e1000
