// The Intel 82540EM gigabit Ethernet controller (8086:100e), the NIC QEMU calls "e1000", as a
// PCI function: BAR0 is the 128 KiB register window, BAR1 the 64-byte I/O window (IOADDR at 0,
// IODATA at 4; 8254x SDM 13.1). Registers and descriptors follow the "PCI/PCI-X Family of Gigabit
// Ethernet Controllers Software Developer's Manual" (8254x SDM).
//
// Interrupt moderation (ITR, SDM 13.4.18): INTA# is asserted at most once per interval, in 256 ns
// units. Causes keep collecting in ICR meanwhile, and a timer asserts the line when the interval
// ends if an unmasked cause is still pending. The interval is ITR's, but never under 128 us (as
// with QEMU's e1000, so guests see the same interrupt rates), and stretched to the absolute
// delay timers TADV and RADV when the causes pending asked for them. Linux programs ITR by
// default (InterruptThrottleRate, 4000 to 20000 interrupts/s), and every interrupt costs its
// driver about five register exits, so this is what keeps a busy NIC's exits bounded.
// Threads: the device's lock is taken by vCPU threads (registers), the backend's receive path
// and the timer's callback (the event loop); the timer is armed with the lock held, which is
// safe because arming never calls back.
//
// Simplifications, all invisible to Linux's e1000 driver:
// - the packet delay timers (RDTR, TIDV) are not applied: within the interval above, every
//   cause is signalled at once;
// - no receive checksum offload: received descriptors carry IXSM ("ignore checksum");
// - no VLAN tag insertion or stripping; tagged frames are filtered by VFTA when RCTL.VFE is set;
// - sub-dword register accesses are reads of the whole dword (side effects included) and
//   ignored writes.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "devices/interrupt_line.h"
#include "devices/net/e1000_eeprom.h"
#include "devices/net/e1000_phy.h"
#include "devices/net/e1000_tx.h"
#include "devices/net/net_backend.h"
#include "devices/pci/pci_device.h"
#include "devices/timer.h"
#include "memory/guest_memory.h"

namespace devices::net {

class E1000 final : public pci::PciDevice {
 public:
  static constexpr int kMmioBar = 0;
  static constexpr uint64_t kMmioSize = 128 * 1024;
  static constexpr int kIoBar = 1;
  static constexpr uint64_t kIoSize = 64;
  static constexpr uint16_t kVendorId = 0x8086;
  static constexpr uint16_t kDeviceId = 0x100e;
  static constexpr uint16_t kSubsystemId = 0x001e;  // "PRO/1000 MT Desktop Adapter"
  // Receive frame limits without FCS: 1518, a VLAN-tagged frame of 1522 bytes with its FCS,
  // unless RCTL.LPE, then the 16 KiB jumbo limit (SDM 3.2.2, "long packet enable"). Linux's
  // driver relies on it: with LPE clear its receive buffers hold 1522 bytes, though RCTL says
  // 2048, and the FCS is stored with the frame.
  static constexpr size_t kMaxNormalFrame = 1518;
  static constexpr size_t kMaxLongFrame = 16 * 1024;

  // `memory`, `irq` (INTA#) and `backend` must outlive the device. The constructor installs the
  // device as the backend's receiver; the destructor detaches it. `make_timer` makes the
  // moderation timer, which the device owns.
  E1000(const memory::GuestMemory& memory, InterruptLine& irq, std::array<uint8_t, 6> mac,
        NetBackend& backend, const TimerFactory& make_timer);
  ~E1000() override;

  void bar_read(int bar, uint64_t offset, std::span<std::byte> data) override;
  void bar_write(int bar, uint64_t offset, std::span<const std::byte> data) override;
  // Posted writes that the guest reads back before it relies on them, so that queuing them saves
  // their exits and changes nothing it can see:
  // - RDT: Linux's driver hands buffers back every 16 frames it takes (E1000_RX_BUFFER_WRITE)
  //   and ends each poll by unmasking and reading STATUS, an exit that delivers the queue (QEMU
  //   queues RDT too). Until then the ring only looks as full as it was, and the backend keeps
  //   what does not fit.
  // - IMS and IMC: the driver masks on every interrupt and unmasks after every poll, each time
  //   followed by a read of STATUS to flush the write (E1000_WRITE_FLUSH), as PCI's posted
  //   writes require; queued, that read delivers them. Two of the five exits an interrupt
  //   costs (ICR, IMC, STATUS, IMS, STATUS), in every direction. A driver that never reads back
  //   gets its mask changed by the event loop's backstop instead, within 100 ms.
  std::vector<QueuedRange> queued_writes(int bar) const override;

  // A frame from the network (the backend's thread). False when the receive ring has too few
  // free buffers right now; true when the frame was stored or deliberately dropped.
  bool receive(std::span<const std::byte> frame);

 private:
  uint32_t& reg(uint32_t offset) { return regs_[offset / 4]; }
  uint32_t read_register_locked(uint32_t offset);
  // Returns true when the guest gave the receiver new buffers (the backend should retry).
  bool write_register_locked(uint32_t offset, uint32_t value);
  uint32_t read_statistic_locked(uint32_t offset);
  void count(uint32_t offset, uint64_t amount = 1);
  void count_frame(uint32_t bucket_base, std::span<const std::byte> frame);
  void reset_locked();
  void raise_locked(uint32_t causes);
  void update_interrupt_locked();
  void moderation_timer_expired();
  uint32_t moderation_interval_locked();
  bool bus_master() const;
  void transmit_locked();
  bool accept_locked(std::span<const std::byte> frame);
  size_t rx_buffer_size_locked();
  void warn_once(bool& warned, const char* what);

  const memory::GuestMemory& memory_;
  InterruptLine& irq_;
  const std::array<uint8_t, 6> mac_;
  NetBackend& backend_;

  std::mutex mutex_;
  std::vector<uint32_t> regs_;  // the register file, one dword per 4 bytes of BAR0
  e1000::Eeprom eeprom_;
  e1000::Phy phy_;
  e1000::TxEngine tx_;
  // Frames the ring gave up under the lock, for bar_write to send once it has let go of it.
  std::vector<std::vector<std::byte>> tx_out_;
  std::array<uint64_t, 64> stats_{};  // 0x4000..0x40FC; 64-bit counters live at their low half
  uint32_t io_address_ = 0;
  bool level_ = false;
  Timer::Clock::time_point last_assertion_{};  // when INTA# last went up
  bool timer_armed_ = false;
  bool tx_delay_requested_ = false;  // a descriptor with IDE went out since the last assertion
  bool warned_tx_ring_ = false;
  bool warned_rx_ring_ = false;
  bool warned_access_ = false;
  std::unique_ptr<Timer> moderation_timer_;  // last: its callback uses everything above
};

}  // namespace devices::net
