// The 82540EM's transmit data path: assembling a packet from legacy or extended descriptors,
// the checksum offloads and TCP segmentation (8254x SDM sections 3.3-3.5). It sees one
// descriptor at a time, already copied out of the ring; the E1000 walks the ring and writes the
// status back. Not synchronized: the E1000 owns one under its lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "memory/guest_memory.h"

namespace devices::net::e1000 {

// What happened while processing descriptors, for the statistics registers.
struct TxEvents {
  uint64_t tso_contexts = 0;  // TSCTC: TSO packets segmented
  uint64_t tso_failures = 0;  // TSCTFC: TSO packets refused (bad MSS or header length)
  uint64_t dropped = 0;       // packets dropped: too long, too short, or a buffer outside RAM
};

class TxEngine {
 public:
  // The largest packet a chain of descriptors may build, TSO included: 64 KiB, as for Linux's
  // GSO packets. Bytes past it are dropped with the packet, so a chain without EOP
  // (CVE-2021-20257) costs no more than this buffer.
  static constexpr size_t kMaxPacket = 64 * 1024;
  // The largest frame handed to the backend: the 82540EM's 16 KiB jumbo limit (SDM 3.3.1).
  static constexpr size_t kMaxFrame = 16 * 1024;
  static constexpr size_t kMinFrame = 14;  // an Ethernet header

  using Sink = std::function<void(std::span<const std::byte> frame)>;

  // Processes one descriptor; every frame it completes goes to `sink`.
  void process(const std::array<std::byte, 16>& descriptor, const memory::GuestMemory& memory,
               const Sink& sink, TxEvents& events);
  void reset();

 private:
  // An offload context (SDM 3.3.6). A TSO context and a checksum-only context are kept apart:
  // drivers interleave them, and reusing one for the other corrupts checksums.
  struct Context {
    uint8_t ipcss = 0, ipcso = 0;
    uint16_t ipcse = 0;
    uint8_t tucss = 0, tucso = 0;
    uint16_t tucse = 0;
    uint8_t tucmd = 0;
    uint8_t hdrlen = 0;
    uint16_t mss = 0;
  };

  void append(const memory::GuestMemory& memory, uint64_t address, uint32_t length);
  void finish(const Sink& sink, TxEvents& events);
  void segment(const Sink& sink, TxEvents& events);

  Context checksum_context_;
  Context tso_context_;
  std::vector<std::byte> packet_;
  bool started_ = false;  // the packet's first descriptor has been seen
  bool extended_ = false;
  bool tse_ = false;
  uint8_t popts_ = 0;
  bool legacy_checksum_ = false;
  uint8_t legacy_css_ = 0, legacy_cso_ = 0;
  bool broken_ = false;  // too long, or a buffer outside RAM: drop at EOP
};

}  // namespace devices::net::e1000
