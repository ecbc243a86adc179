// A 16550A UART (TI/NS PC16550D datasheet), the PC's COM1: I/O ports 0x3F8-0x3FF, ISA IRQ 4.
//
// Transmission is instantaneous: a byte written to THR goes straight to the output sink, so THR
// and the transmitter are always empty (LSR THRE and TEMT stay set). The THRE interrupt still
// follows the datasheet's rules (Table IV): it becomes pending each time THR empties (after
// every THR write, and when ETBEI goes from 0 to 1 with THR empty, as Linux's 8250 driver
// expects in its startup test), and is cleared by reading IIR while it is the reported source or
// by writing THR. The receiver is the 16-byte FIFO (1 byte with FIFOs off) fed from a bounded
// host-side buffer. PE/FE/BI never occur; OE only in loopback mode, where THR feeds the receiver.
//
// Locking: `mutex_` guards the registers; the interrupt line is driven with it held so that two
// vCPUs can never apply stale levels out of order (the line adapter is an ioctl that never calls
// back into the device). The sink may block on a slow terminal, so it is never called with
// `mutex_` held: `tx_mutex_`, taken before `mutex_` for writes to offset 0 only, serializes
// transmissions so that the sink sees bytes in the order the guest wrote them, while other
// registers, reads and enqueue_input (the event loop) carry on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "devices/bus/bus.h"
#include "devices/interrupt_line.h"

namespace devices::legacy {

class Serial16550 : public BusDevice {
 public:
  using OutputSink = std::function<void(std::span<const std::byte>)>;

  static constexpr uint64_t kCom1Base = 0x3F8;
  static constexpr uint64_t kPortCount = 8;
  static constexpr uint32_t kCom1Irq = 4;
  // Host input waiting behind the UART's own receive FIFO.
  static constexpr size_t kInputBufferSize = 4096;

  // `irq` must outlive the device. `sink` gets every transmitted byte, in order, never dropped,
  // one or more per call; it may block.
  Serial16550(InterruptLine& irq, OutputSink sink);

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;
  // Successive byte writes to offset 0 (THR, or DLL under DLAB), as KVM queues them when it
  // coalesces them: what they transmit reaches the sink in one call.
  void write_data_register(std::span<const std::byte> values);

  // Thread-safe. Queues bytes for the guest to receive; returns how many were taken, fewer than
  // input.size() when the buffer is full (the caller retries the rest later).
  size_t enqueue_input(std::span<const std::byte> input);

 private:
  // All of these run with mutex_ held.
  uint8_t read_register(uint64_t offset);
  // Returns true when `value` is to be transmitted to the sink.
  bool write_register(uint64_t offset, uint8_t value);
  void transmit_in_loopback(uint8_t value);
  void write_fcr(uint8_t value);
  void write_mcr(uint8_t value);
  bool loopback() const;
  size_t rx_capacity() const;
  uint8_t modem_inputs() const;
  uint8_t pending_interrupt() const;
  void refill_rx();
  void update_irq();

  InterruptLine& irq_;
  OutputSink sink_;
  std::mutex tx_mutex_;              // taken before mutex_ for offset 0, held across the sink call
  std::vector<std::byte> tx_bytes_;  // guarded by tx_mutex_
  std::mutex mutex_;

  uint8_t ier_ = 0;
  uint8_t fcr_ = 0;  // FIFO enable and receiver trigger bits only
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t scr_ = 0;
  uint8_t dll_ = 0x0C;  // 9600 baud; the divisor is stored, never divided by (CVE-2016-8669)
  uint8_t dlm_ = 0;
  uint8_t msr_deltas_ = 0;
  bool overrun_ = false;
  bool thre_pending_ = false;
  bool irq_level_ = false;
  std::deque<uint8_t> rx_fifo_;
  std::deque<uint8_t> host_input_;
};

}  // namespace devices::legacy
