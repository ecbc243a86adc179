// The PC's MC146818 real-time clock and its 128 bytes of CMOS RAM: index port 0x70 (bit 7, the
// NMI mask, is ignored), data port 0x71, ISA IRQ 8.
//
// What is modelled (Motorola MC146818A datasheet):
// - The time registers show the host's UTC time plus an offset, in BCD or binary (register B
//   DM) and in 24- or 12-hour form (register B bit 1). Writing them moves the offset, so a
//   guest's `hwclock -w` reads back. While register B SET is on, or register A's divider is held
//   in reset, the registers are frozen and writes are collected; the clock restarts from them.
// - Register A: UIP always reads 0 (the registers are computed, never mid-update), so Linux's
//   wait-for-UIP loops end at once. Rate bits drive the periodic flag.
// - Register C: IRQF/PF/AF/UF, cleared on read. UF is set once per second, AF when the alarm
//   registers match (0xC0-0xFF is "don't care"), PF at the rate register A selects. IRQ 8 is
//   asserted while IRQF is set, i.e. while an enabled flag is pending. Linux's rtc-cmos emulates
//   update interrupts (hwclock) with the alarm, so the alarm must fire: a timer thread owned
//   by the device wakes at the next second or periodic tick only while an enabled flag is due.
// - Register D: VRT (valid RAM and time) always set.
// Not modelled: the square-wave output, daylight-saving (DSE) adjustment, the day-of-week
// register as an independent counter (it is derived from the date), divider time bases other
// than 32.768 kHz (they run at the normal rate).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <thread>

#include "devices/bus/bus.h"
#include "devices/interrupt_line.h"

namespace devices::legacy {

class CmosRtc : public BusDevice {
 public:
  // The host's current time; tests pass a fixed or stepped clock.
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  static constexpr uint64_t kIoBase = 0x70;
  static constexpr uint64_t kPortCount = 2;
  static constexpr uint32_t kIrq = 8;

  // `irq` must outlive the device. Starts the timer thread; the destructor stops it.
  explicit CmosRtc(
      InterruptLine& irq, Clock clock = [] { return std::chrono::system_clock::now(); });

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

  // Records the RAM size where PC firmware looks for it: 0x30/0x31 KiB above 1 MiB (at most
  // 0xFFFF), 0x34/0x35 64 KiB units above 16 MiB below the PCI hole, 0x5B-0x5D 64 KiB units
  // above 4 GiB. `ram_below_4g` is the RAM from address 0 up to the PCI hole.
  void set_memory_size(uint64_t ram_below_4g, uint64_t ram_above_4g);

 private:
  using TimePoint = std::chrono::system_clock::time_point;

  // All of these run with mutex_ held.
  uint8_t read_register(uint8_t index, TimePoint now);
  void write_register(uint8_t index, uint8_t value, TimePoint now);
  bool divider_running() const;
  bool updating() const;
  std::chrono::nanoseconds shifted_host_time(TimePoint now) const;
  std::time_t guest_seconds(TimePoint now) const;
  std::chrono::nanoseconds periodic_period() const;
  int64_t periodic_tick(TimePoint now) const;
  void latch_time(std::time_t t);
  void commit_time(TimePoint now);
  bool alarm_matches(std::time_t t) const;
  void advance(TimePoint now);
  void update_irq();
  std::optional<std::chrono::nanoseconds> next_wakeup(TimePoint now) const;
  void run_timer(std::stop_token stop);
  void rearm_timer();

  InterruptLine& irq_;
  Clock clock_;
  std::mutex mutex_;
  std::condition_variable_any timer_wake_;
  bool timer_rearm_ = false;

  std::array<uint8_t, 128> cmos_{};
  uint8_t index_ = 0;
  // Guest time is host time plus phase_ (under a second, so that a time the guest writes starts
  // on a whole second) plus offset_seconds_. Whole seconds are kept apart because a nanosecond
  // time_point spans only the years 1678-2262, and the registers can name years 0-9999.
  std::chrono::nanoseconds phase_{};
  int64_t offset_seconds_ = 0;
  uint8_t flags_ = 0;            // register C's PF, AF, UF
  std::time_t last_update_ = 0;  // guest second of the last update cycle
  int64_t last_periodic_tick_ = 0;
  bool irq_level_ = false;

  std::jthread timer_;  // last: starts once everything above exists, stops first
};

}  // namespace devices::legacy
