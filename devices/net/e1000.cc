#include "devices/net/e1000.h"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "devices/net/e1000_regs.h"

namespace devices::net {

using namespace e1000;

namespace {

constexpr uint32_t kRegisterMask = E1000::kMmioSize - 4;  // dword-aligned offsets in BAR0
constexpr uint32_t kIoAddress = 0;                        // SDM 13.1: IOADDR and IODATA
constexpr uint32_t kIoData = 4;
constexpr size_t kMinFrame = 60;  // without FCS; shorter frames are padded (IEEE 802.3 4.2.3.3)
constexpr size_t kFcsSize = 4;
constexpr size_t kHeaderSize = 14;
constexpr uint16_t kVlanTpidOffset = 12;
constexpr uint32_t kItrIntervalMask = 0xffff;  // SDM 13.4.18: bits 31:16 are reserved
constexpr uint32_t kDelayMask = 0xffff;        // RDTR, RADV, TADV: bits 15:0, the rest reserved
constexpr uint32_t kItrUnitsPerDelayUnit = 4;  // the delay timers count 1.024 us
constexpr std::chrono::nanoseconds kItrUnit{256};
// The least interval between two assertions, in ITR units (128 us, 7813 interrupts a second):
// QEMU's e1000 keeps this floor whatever ITR says, so guests see the same interrupt rate.
constexpr uint32_t kMinModerationInterval = 500;

bool is_64bit_counter_low(uint32_t offset) {
  return offset == kGorcl || offset == kGotcl || offset == kTorl || offset == kTotl;
}

uint32_t load_le32(std::span<const std::byte> data) {
  uint32_t v = 0;
  std::memcpy(&v, data.data(), 4);  // x86 hosts only: little-endian like the device
  return v;
}

pci::ConfigSpace make_config() {
  pci::ConfigSpace c(E1000::kVendorId, E1000::kDeviceId, 0x020000, 0);  // Ethernet controller
  c.set_subsystem(E1000::kVendorId, E1000::kSubsystemId);
  c.set_interrupt_pin(1);
  c.define_bar(E1000::kMmioBar, pci::BarKind::kMemory32, E1000::kMmioSize);
  c.define_bar(E1000::kIoBar, pci::BarKind::kIo, E1000::kIoSize);
  return c;
}

// The frame check sequence: the CRC-32 of IEEE 802.3 (reflected polynomial 0xEDB88320, which
// zlib's crc32 computes), appended least significant byte first. zlib's table-driven version
// matters: every received frame is summed while the driver leaves RCTL.SECRC clear.
uint32_t ethernet_crc(std::span<const std::byte> data) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

}  // namespace

E1000::E1000(const memory::GuestMemory& memory, InterruptLine& irq, std::array<uint8_t, 6> mac,
             NetBackend& backend, const TimerFactory& make_timer)
    : PciDevice(make_config()),
      memory_(memory),
      irq_(irq),
      mac_(mac),
      backend_(backend),
      regs_(kMmioSize / 4),
      eeprom_(mac, kDeviceId, kSubsystemId, kVendorId),
      moderation_timer_(make_timer([this] { moderation_timer_expired(); })) {
  {
    std::lock_guard lock(mutex_);
    reset_locked();
  }
  backend_.set_receiver([this](std::span<const std::byte> frame) { return receive(frame); });
}

E1000::~E1000() { backend_.set_receiver({}); }

void E1000::warn_once(bool& warned, const char* what) {
  if (warned) return;
  warned = true;
  spdlog::warn("e1000 {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}: {}", mac_[0], mac_[1], mac_[2],
               mac_[3], mac_[4], mac_[5], what);
}

// Power-on and software reset (CTRL.RST, SDM 13.4.1): registers return to their defaults and
// the receive address 0 is reloaded from the EEPROM.
void E1000::reset_locked() {
  std::fill(regs_.begin(), regs_.end(), 0);
  stats_ = {};
  phy_.reset();
  tx_.reset();
  reg(kRal0) = static_cast<uint32_t>(mac_[0] | mac_[1] << 8 | mac_[2] << 16 | mac_[3] << 24);
  reg(kRal0 + 4) = static_cast<uint32_t>(mac_[4] | mac_[5] << 8) | kRahAv;
  reg(kVet) = 0x8100;
  reg(kMdic) = kMdicReady;
  reg(kCtrl) = kCtrlSlu;
  update_interrupt_locked();
}

bool E1000::bus_master() const {
  return with_config(
      [](const pci::ConfigSpace& c) { return (c.command() & pci::kCommandBusMaster) != 0; });
}

void E1000::raise_locked(uint32_t causes) {
  reg(kIcr) |= causes & kIntMask;
  update_interrupt_locked();
}

// INTA# is asserted while an unmasked cause is pending (SDM 13.4.17-13.4.21), but, with ITR
// non-zero, no sooner than one interval after its previous assertion (SDM 13.4.18). It falls as
// soon as nothing unmasked is pending, so the driver never sees an interrupt with ICR empty.
void E1000::update_interrupt_locked() {
  const bool pending = (reg(kIcr) & reg(kIms)) != 0;
  if (pending == level_) return;
  if (pending) {
    const Timer::Clock::time_point now = moderation_timer_->now();
    const auto earliest = last_assertion_ + kItrUnit * moderation_interval_locked();
    if (now < earliest) {
      // One timer at a time: whatever arrives before it fires is asserted with it.
      if (!timer_armed_) moderation_timer_->arm(earliest);
      timer_armed_ = true;
      return;
    }
    last_assertion_ = now;
    tx_delay_requested_ = false;
  }
  level_ = pending;
  irq_.set_level(pending);
}

// In ITR units: the floor, ITR when larger, and the absolute delay timers of the causes pending:
// TADV when a transmit since the last interrupt asked for a delayed one (IDE), RADV when receive
// interrupts are delayed at all (RDTR non-zero). The packet timers (TIDV, RDTR) never end later
// than these and are not modelled.
uint32_t E1000::moderation_interval_locked() {
  uint32_t interval = std::max(kMinModerationInterval, reg(kItr) & kItrIntervalMask);
  const uint32_t pending = reg(kIcr) & reg(kIms);
  if (tx_delay_requested_ && (pending & (kIntTxdw | kIntTxqe)))
    interval = std::max(interval, (reg(kTadv) & kDelayMask) * kItrUnitsPerDelayUnit);
  if ((reg(kRdtr) & kDelayMask) != 0 && (pending & kIntRxt0))
    interval = std::max(interval, (reg(kRadv) & kDelayMask) * kItrUnitsPerDelayUnit);
  return interval;
}

void E1000::moderation_timer_expired() {
  std::lock_guard lock(mutex_);
  timer_armed_ = false;
  update_interrupt_locked();
}

void E1000::bar_read(int bar, uint64_t offset, std::span<std::byte> data) {
  std::fill(data.begin(), data.end(), std::byte{0});
  std::lock_guard lock(mutex_);
  uint32_t value = 0;
  if (bar == kMmioBar) {
    value = read_register_locked(static_cast<uint32_t>(offset) & kRegisterMask);
  } else if (bar == kIoBar && offset == kIoAddress) {
    value = io_address_;
  } else if (bar == kIoBar && offset == kIoData) {
    value = read_register_locked(io_address_ & kRegisterMask);
  } else {
    return;
  }
  const size_t shift = offset % 4;
  for (size_t i = 0; i < data.size() && shift + i < 4; ++i) {
    data[i] = static_cast<std::byte>(value >> (8 * (shift + i)));
  }
}

void E1000::bar_write(int bar, uint64_t offset, std::span<const std::byte> data) {
  bool rx_ready = false;
  std::vector<std::vector<std::byte>> frames;
  {
    std::lock_guard lock(mutex_);
    if (data.size() != 4 || offset % 4 != 0) {
      warn_once(warned_access_, "ignoring a register write that is not one aligned dword");
      return;
    }
    const uint32_t value = load_le32(data);
    if (bar == kMmioBar) {
      rx_ready = write_register_locked(static_cast<uint32_t>(offset), value);
    } else if (bar == kIoBar && offset == kIoAddress) {
      io_address_ = value;
    } else if (bar == kIoBar && offset == kIoData) {
      rx_ready = write_register_locked(io_address_ & kRegisterMask, value);
    }
    frames.swap(tx_out_);
  }
  // Outside the lock: the backend may answer a frame at once through receive() (slirp's ACK
  // reaches the ring before the guest resumes, as with QEMU), and new buffers take the frames
  // that waited for them at once too.
  for (const auto& frame : frames) backend_.send(frame);
  if (rx_ready) backend_.rx_ready();
}

std::vector<pci::PciDevice::QueuedRange> E1000::queued_writes(int bar) const {
  if (bar != kMmioBar) return {};
  return {{kRdt, 4}, {kIms, 4}, {kImc, 4}};
}

uint32_t E1000::read_register_locked(uint32_t offset) {
  if (offset >= kStatsBase && offset < kStatsEnd) return read_statistic_locked(offset);
  switch (offset) {
    case kStatus:
      return kStatusFd | kStatusLu | kStatusSpeed1000;
    case kEecd:
      return eeprom_.read_eecd();
    case kEerd:
      return eeprom_.read_eerd();
    case kIcr: {
      // Reading ICR clears it (SDM 13.4.17).
      const uint32_t value = reg(kIcr);
      reg(kIcr) = 0;
      update_interrupt_locked();
      return value;
    }
    case kIcs:
    case kImc:
      return 0;  // write-only
    default:
      return reg(offset);
  }
}

bool E1000::write_register_locked(uint32_t offset, uint32_t value) {
  if (offset >= kStatsBase && offset < kStatsEnd) return false;  // counters are read-only
  switch (offset) {
    case kCtrl:
      if (value & kCtrlRst) {
        reset_locked();
        return false;
      }
      if (value & kCtrlPhyRst) phy_.reset();
      reg(kCtrl) = value & ~(kCtrlRst | kCtrlPhyRst);
      return false;
    case kStatus:
      return false;
    case kEecd:
      eeprom_.write_eecd(value);
      return false;
    case kEerd:
      eeprom_.write_eerd(value);
      return false;
    case kMdic:
      reg(kMdic) = phy_.mdic(value);
      if (value & kMdicIntEnable) raise_locked(kIntMdac);
      return false;
    case kIcr:
      reg(kIcr) &= ~value;  // write 1 to clear
      update_interrupt_locked();
      return false;
    case kIcs:
      raise_locked(value);
      return false;
    case kIms:
      reg(kIms) |= value & kIntMask;
      update_interrupt_locked();
      return false;
    case kImc:
      reg(kIms) &= ~value;
      update_interrupt_locked();
      return false;
    case kItr:
      // A shorter interval may let a waiting interrupt through now.
      reg(kItr) = value;
      update_interrupt_locked();
      return false;
    case kRdbal:
    case kTdbal:
      reg(offset) = value & ~0xfu;  // 16-byte aligned (SDM 13.4.24, 13.4.35)
      return false;
    case kRdlen:
    case kTdlen:
      reg(offset) = value & 0x000fff80;  // a multiple of 128 bytes (SDM 13.4.26, 13.4.37)
      return false;
    case kRdh:
    case kTdh:
      reg(offset) = value & 0xffff;
      return false;
    case kRdt:
      reg(kRdt) = value & 0xffff;
      return true;
    case kRctl: {
      const bool enabling = !(reg(kRctl) & kRctlEn) && (value & kRctlEn);
      reg(kRctl) = value;
      return enabling;
    }
    case kTdt:
      reg(kTdt) = value & 0xffff;
      transmit_locked();
      return false;
    case kTctl:
      reg(kTctl) = value;
      transmit_locked();
      return false;
    default:
      reg(offset) = value;
      return false;
  }
}

// Statistics are cleared by reading; a 64-bit counter reads as its low then its high dword and
// is cleared when the high dword is read (SDM 13.7). Counters stick at their maximum.
uint32_t E1000::read_statistic_locked(uint32_t offset) {
  const size_t index = (offset - kStatsBase) / 4;
  if (is_64bit_counter_low(offset)) return static_cast<uint32_t>(stats_[index]);
  if (is_64bit_counter_low(offset - 4)) {
    const uint32_t high = static_cast<uint32_t>(stats_[index - 1] >> 32);
    stats_[index - 1] = 0;
    return high;
  }
  const uint32_t value = static_cast<uint32_t>(std::min<uint64_t>(stats_[index], 0xffffffff));
  stats_[index] = 0;
  return value;
}

void E1000::count(uint32_t offset, uint64_t amount) {
  uint64_t& counter = stats_[(offset - kStatsBase) / 4];
  counter = counter > UINT64_MAX - amount ? UINT64_MAX : counter + amount;
}

// Good-frame counters of one direction: the size buckets start at `bucket_base` (PRC64 or PTC64).
// Sizes count the FCS and the padding to the 64-byte minimum, as on the wire.
void E1000::count_frame(uint32_t bucket_base, std::span<const std::byte> frame) {
  const bool rx = bucket_base == kPrc64;
  const size_t wire = std::max(frame.size(), kMinFrame) + kFcsSize;
  constexpr size_t kBucketTops[] = {64, 127, 255, 511, 1023};
  uint32_t bucket = 5;  // 1024 and above
  for (uint32_t i = 0; i < 5; ++i) {
    if (wire <= kBucketTops[i]) {
      bucket = i;
      break;
    }
  }
  count(bucket_base + 4 * bucket);
  count(rx ? kGprc : kGptc);
  count(rx ? kTpr : kTpt);
  count(rx ? kGorcl : kGotcl, wire);
  count(rx ? kTorl : kTotl, wire);
  const auto first = std::to_integer<uint8_t>(frame[0]);
  if (first & 1) {
    const bool broadcast = std::all_of(frame.begin(), frame.begin() + 6,
                                       [](std::byte b) { return b == std::byte{0xff}; });
    count(broadcast ? (rx ? kBprc : kBptc) : (rx ? kMprc : kMptc));
  }
}

// Walks the transmit ring from TDH to TDT (SDM 3.4). At most one ring's worth of descriptors per
// doorbell; TDH or TDT outside the ring (CVE-2016-1981) stops the walk before it starts.
void E1000::transmit_locked() {
  if (!(reg(kTctl) & kTctlEn) || !bus_master()) return;
  const uint32_t size = reg(kTdlen) / static_cast<uint32_t>(kDescriptorSize);
  uint32_t head = reg(kTdh);
  const uint32_t tail = reg(kTdt);
  if (head == tail) return;
  if (size == 0 || head >= size || tail >= size) {
    warn_once(warned_tx_ring_, "transmit ring head or tail outside the ring; not transmitting");
    return;
  }
  const uint64_t base = static_cast<uint64_t>(reg(kTdbah)) << 32 | reg(kTdbal);
  TxEvents events;
  uint32_t causes = 0;
  const TxEngine::Sink sink = [this](std::span<const std::byte> frame) {
    count_frame(kPtc64, frame);
    tx_out_.emplace_back(frame.begin(), frame.end());
  };
  for (uint32_t budget = size; head != tail && budget > 0; --budget) {
    const uint64_t address = base + head * kDescriptorSize;
    std::array<std::byte, 16> descriptor;
    if (!memory_.read(address, descriptor)) {
      warn_once(warned_tx_ring_, "transmit descriptor outside guest RAM; transmit stopped");
      break;
    }
    tx_.process(descriptor, memory_, sink, events);
    const auto command = std::to_integer<uint8_t>(descriptor[11]);
    if (command & kTxCmdIde) tx_delay_requested_ = true;
    if (command & kTxCmdRs) {
      // Report status: set DD in the descriptor's status byte (SDM 3.3.3.2).
      const auto status =
          static_cast<uint8_t>(std::to_integer<uint8_t>(descriptor[12]) | kTxStatusDd);
      if (memory_.write_obj(address + 12, status)) causes |= kIntTxdw;
    }
    head = (head + 1) % size;
  }
  reg(kTdh) = head;
  if (head == tail) causes |= kIntTxqe;
  count(kTsctc, events.tso_contexts);
  count(kTsctfc, events.tso_failures);
  raise_locked(causes);
}

size_t E1000::rx_buffer_size_locked() {
  // RCTL.BSIZE, and the 16x sizes when BSEX is set (SDM 13.4.22); BSEX with BSIZE 00 is
  // reserved and treated as 2048.
  constexpr size_t kNormal[] = {2048, 1024, 512, 256};
  constexpr size_t kExtended[] = {2048, 16384, 8192, 4096};
  const uint32_t bsize = (reg(kRctl) >> kRctlBsizeShift) & 3;
  return (reg(kRctl) & kRctlBsex) ? kExtended[bsize] : kNormal[bsize];
}

// Destination address filtering (SDM 3.2.1): exact matches in RAL/RAH, the multicast table
// array hashed per RCTL.MO, and the promiscuous and broadcast enables.
bool E1000::accept_locked(std::span<const std::byte> frame) {
  const uint32_t rctl = reg(kRctl);
  uint8_t da[6];
  for (int i = 0; i < 6; ++i) da[i] = std::to_integer<uint8_t>(frame[i]);
  if ((rctl & kRctlVfe) && frame.size() >= kHeaderSize + 4) {
    const uint32_t tpid = std::to_integer<uint32_t>(frame[kVlanTpidOffset]) << 8 |
                          std::to_integer<uint32_t>(frame[kVlanTpidOffset + 1]);
    if (tpid == (reg(kVet) & 0xffff)) {
      const uint32_t vid =
          (std::to_integer<uint32_t>(frame[14]) << 8 | std::to_integer<uint32_t>(frame[15])) &
          0xfff;
      if (!(reg(kVfta + 4 * (vid >> 5)) >> (vid & 31) & 1)) return false;
    }
  }
  const bool broadcast = std::all_of(da, da + 6, [](uint8_t b) { return b == 0xff; });
  if (broadcast) return (rctl & kRctlBam) != 0;
  const bool multicast = (da[0] & 1) != 0;
  if (multicast ? (rctl & kRctlMpe) : (rctl & kRctlUpe)) return true;
  const uint32_t low = static_cast<uint32_t>(da[0] | da[1] << 8 | da[2] << 16 | da[3] << 24);
  const uint32_t high = static_cast<uint32_t>(da[4] | da[5] << 8);
  for (uint32_t i = 0; i < 16; ++i) {
    const uint32_t rah = reg(kRal0 + 8 * i + 4);
    if ((rah & kRahAv) && reg(kRal0 + 8 * i) == low && (rah & 0xffff) == high) return true;
  }
  if (!multicast) return false;
  // MO selects which 12 bits of the address index the 4096-bit table (SDM 13.4.22).
  const uint32_t mo = (rctl >> kRctlMoShift) & 3;
  const uint32_t shift = mo == 3 ? 0 : 4 - mo;
  const uint32_t hash = ((da[4] >> shift) | (static_cast<uint32_t>(da[5]) << (8 - shift))) & 0xfff;
  return (reg(kMta + 4 * (hash >> 5)) >> (hash & 31) & 1) != 0;
}

bool E1000::receive(std::span<const std::byte> frame) {
  std::lock_guard lock(mutex_);
  if (!(reg(kRctl) & kRctlEn) || !bus_master()) return true;  // a disabled receiver drops
  if (frame.size() < kHeaderSize) {
    count(kRuc);
    return true;
  }
  const size_t limit = (reg(kRctl) & kRctlLpe) ? kMaxLongFrame : kMaxNormalFrame;
  if (frame.size() > limit) {  // CVE-2012-6075: never store more than the driver allowed
    count(kRoc);
    return true;
  }
  if (!accept_locked(frame)) return true;

  const uint32_t ring = reg(kRdlen) / static_cast<uint32_t>(kDescriptorSize);
  uint32_t head = reg(kRdh);
  const uint32_t tail = reg(kRdt);
  if (ring == 0 || head >= ring || tail >= ring) {  // CVE-2016-1981
    warn_once(warned_rx_ring_, "receive ring head or tail outside the ring; dropping frames");
    count(kMpc);
    return true;
  }
  // The frame as it arrives: padded to the minimum, and with its FCS unless RCTL.SECRC.
  std::vector<std::byte> data;
  data.reserve(std::max(frame.size(), kMinFrame) + kFcsSize);
  data.assign(frame.begin(), frame.end());
  data.resize(std::max(data.size(), kMinFrame));
  if (!(reg(kRctl) & kRctlSecrc)) {
    const uint32_t crc = ethernet_crc(data);
    for (int i = 0; i < 4; ++i) data.push_back(static_cast<std::byte>(crc >> (8 * i)));
  }
  // A frame longer than one buffer spans several descriptors, EOP on the last (SDM 3.2.3).
  const size_t buffer = rx_buffer_size_locked();
  const uint32_t needed = static_cast<uint32_t>((data.size() + buffer - 1) / buffer);
  const uint32_t available = (tail + ring - head) % ring;  // descriptors the device owns
  if (needed >= ring) {  // could never fit: waiting would block the queue forever
    count(kMpc);
    return true;
  }
  if (available < needed) {
    count(kRnbc);
    return false;
  }
  const uint64_t base = static_cast<uint64_t>(reg(kRdbah)) << 32 | reg(kRdbal);
  bool stored = true;
  for (size_t done = 0; done < data.size();) {
    const uint64_t address = base + head * kDescriptorSize;
    const auto buffer_address = memory_.read_obj<uint64_t>(address);
    if (!buffer_address) {
      warn_once(warned_rx_ring_, "receive descriptor outside guest RAM; dropping frames");
      count(kMpc);
      return true;
    }
    const size_t chunk = std::min(buffer, data.size() - done);
    // Write-back of the descriptor's upper half: length, checksum, status, errors, special.
    std::array<std::byte, 8> upper{};
    uint16_t length = static_cast<uint16_t>(chunk);
    uint8_t status = kRxStatusDd | kRxStatusIxsm;
    uint8_t errors = 0;
    if (!memory_.write(*buffer_address, std::span(data).subspan(done, chunk))) {
      // The buffer is not RAM (e.g. a device's MMIO): end the frame here with an RX data error,
      // which the driver drops, and hand the descriptor back.
      length = 0;
      errors = kRxErrorRxe;
      stored = false;
      done = data.size();
    } else {
      done += chunk;
    }
    if (done == data.size()) status |= kRxStatusEop;
    std::memcpy(upper.data(), &length, 2);
    upper[4] = std::byte{status};
    upper[5] = std::byte{errors};
    memory_.write(address + 8, upper);
    head = (head + 1) % ring;
  }
  reg(kRdh) = head;
  if (stored) {
    count_frame(kPrc64, frame);
  } else {
    count(kRxerrc);
  }
  uint32_t causes = kIntRxt0;
  // RXDMT0 when the free descriptors fall to the threshold RCTL.RDMTS sets: 1/2, 1/4 or 1/8.
  const uint32_t rdmts = (reg(kRctl) >> kRctlRdmtsShift) & 3;
  if (rdmts < 3 && (tail + ring - head) % ring <= ring >> (rdmts + 1)) causes |= kIntRxdmt0;
  raise_locked(causes);
  return true;
}

}  // namespace devices::net
