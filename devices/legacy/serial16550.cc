#include "devices/legacy/serial16550.h"

#include <array>
#include <utility>

namespace devices::legacy {

namespace {

// Register offsets (PC16550D datasheet, Table II). DLAB=1 turns 0 and 1 into DLL and DLM.
constexpr uint64_t kRbrThr = 0;
constexpr uint64_t kIer = 1;
constexpr uint64_t kIirFcr = 2;
constexpr uint64_t kLcr = 3;
constexpr uint64_t kMcr = 4;
constexpr uint64_t kLsr = 5;
constexpr uint64_t kMsr = 6;
constexpr uint64_t kScr = 7;

// IER: bits 4-7 are always zero on a 16550A (Linux's probe writes them to tell UARTs apart).
constexpr uint8_t kIerRda = 0x01;
constexpr uint8_t kIerThre = 0x02;
constexpr uint8_t kIerRls = 0x04;
constexpr uint8_t kIerMsi = 0x08;
constexpr uint8_t kIerMask = 0x0F;

// IIR interrupt identification, highest priority first (Table IV); 0xC0 when FIFOs are on.
constexpr uint8_t kIirRls = 0x06;
constexpr uint8_t kIirRda = 0x04;
constexpr uint8_t kIirTimeout = 0x0C;
constexpr uint8_t kIirThre = 0x02;
constexpr uint8_t kIirMsi = 0x00;
constexpr uint8_t kIirNone = 0x01;
constexpr uint8_t kIirFifosEnabled = 0xC0;

// FCR: the other bits are only written while bit 0 is (or becomes) set.
constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;
constexpr uint8_t kFcrTrigger = 0xC0;

constexpr uint8_t kLcrDlab = 0x80;

constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrMask = 0x1F;

constexpr uint8_t kLsrDr = 0x01;
constexpr uint8_t kLsrOe = 0x02;
constexpr uint8_t kLsrThre = 0x20;
constexpr uint8_t kLsrTemt = 0x40;

constexpr uint8_t kMsrDcts = 0x01;
constexpr uint8_t kMsrDdsr = 0x02;
constexpr uint8_t kMsrTeri = 0x04;
constexpr uint8_t kMsrDdcd = 0x08;
constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;
// Outside loopback the host side is a terminal that is always ready: CTS, DSR and DCD on.
constexpr uint8_t kMsrHostLines = kMsrCts | kMsrDsr | kMsrDcd;

constexpr size_t kFifoDepth = 16;
// FCR bits 7:6 select the receiver trigger level.
constexpr std::array<size_t, 4> kRxTrigger{1, 4, 8, 14};

}  // namespace

Serial16550::Serial16550(InterruptLine& irq, OutputSink sink) : irq_(irq), sink_(std::move(sink)) {}

void Serial16550::read(uint64_t offset, std::span<std::byte> data) {
  // A wider access reaches consecutive registers, as the ISA bus splits it into byte cycles.
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) data[i] = std::byte{read_register(offset + i)};
}

void Serial16550::write(uint64_t offset, std::span<const std::byte> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    // Only offset 0 (THR, or DLL under DLAB) can transmit; other registers never wait behind a
    // sink that blocks.
    if (offset + i == kRbrThr) {
      write_data_register(data.subspan(i, 1));
      continue;
    }
    std::lock_guard lock(mutex_);
    write_register(offset + i, std::to_integer<uint8_t>(data[i]));
  }
}

void Serial16550::write_data_register(std::span<const std::byte> values) {
  std::lock_guard tx(tx_mutex_);
  tx_bytes_.clear();
  {
    std::lock_guard lock(mutex_);
    for (std::byte value : values)
      if (write_register(kRbrThr, std::to_integer<uint8_t>(value))) tx_bytes_.push_back(value);
  }
  if (!tx_bytes_.empty()) sink_(tx_bytes_);
}

size_t Serial16550::enqueue_input(std::span<const std::byte> input) {
  std::lock_guard lock(mutex_);
  size_t accepted = 0;
  for (; accepted < input.size() && host_input_.size() < kInputBufferSize; ++accepted) {
    host_input_.push_back(std::to_integer<uint8_t>(input[accepted]));
    refill_rx();
  }
  update_irq();
  return accepted;
}

uint8_t Serial16550::read_register(uint64_t offset) {
  bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case kRbrThr: {
      if (dlab) return dll_;
      if (rx_fifo_.empty()) return 0;
      uint8_t value = rx_fifo_.front();
      rx_fifo_.pop_front();
      refill_rx();
      update_irq();
      return value;
    }
    case kIer:
      return dlab ? dlm_ : ier_;
    case kIirFcr: {
      uint8_t id = pending_interrupt();
      // Reading IIR while THRE is the reported source clears it (Table IV).
      if (id == kIirThre) {
        thre_pending_ = false;
        update_irq();
      }
      return id | ((fcr_ & kFcrEnable) ? kIirFifosEnabled : 0);
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr: {
      uint8_t lsr = kLsrThre | kLsrTemt;
      if (!rx_fifo_.empty()) lsr |= kLsrDr;
      if (overrun_) lsr |= kLsrOe;
      // Reading LSR clears the error bits and with them the line status interrupt.
      overrun_ = false;
      update_irq();
      return lsr;
    }
    case kMsr: {
      uint8_t msr = modem_inputs() | msr_deltas_;
      msr_deltas_ = 0;
      update_irq();
      return msr;
    }
    case kScr:
      return scr_;
    default:
      return 0xFF;
  }
}

bool Serial16550::write_register(uint64_t offset, uint8_t value) {
  bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case kRbrThr:
      if (dlab) {
        dll_ = value;
        return false;
      }
      // Writing THR clears the THRE interrupt; the byte leaves at once, so THR is empty again
      // and THRE becomes pending anew. Driving the line through both states gives edge-triggered
      // interrupt controllers the fresh edge a real UART makes when its THR drains.
      thre_pending_ = false;
      update_irq();
      if (loopback()) transmit_in_loopback(value);
      thre_pending_ = true;
      update_irq();
      return !loopback();
    case kIer:
      if (dlab) {
        dlm_ = value;
        return false;
      }
      // ETBEI rising with THR empty makes THRE pending; Linux's startup test checks that it is
      // reasserted after IIR cleared it, and __start_tx relies on it to start transmitting.
      if ((value & kIerThre) && !(ier_ & kIerThre)) thre_pending_ = true;
      if (!(value & kIerThre)) thre_pending_ = false;
      ier_ = value & kIerMask;
      update_irq();
      return false;
    case kIirFcr:
      write_fcr(value);
      return false;
    case kLcr:
      lcr_ = value;
      return false;
    case kMcr:
      write_mcr(value);
      return false;
    case kScr:
      scr_ = value;
      return false;
    default:  // LSR and MSR are read-only (writing them is a factory test mode).
      return false;
  }
}

void Serial16550::transmit_in_loopback(uint8_t value) {
  // The transmitter's output is wired to the receiver; a full FIFO loses the byte (overrun).
  if (rx_fifo_.size() < rx_capacity())
    rx_fifo_.push_back(value);
  else
    overrun_ = true;
}

void Serial16550::write_fcr(uint8_t value) {
  bool enable = value & kFcrEnable;
  // Changing FCR0 resets both FIFOs; bit 1 resets the receiver FIFO (bit 2, the transmitter
  // FIFO, is always empty here).
  if (enable != bool(fcr_ & kFcrEnable) || (enable && (value & kFcrClearRx))) rx_fifo_.clear();
  fcr_ = enable ? (value & (kFcrEnable | kFcrTrigger)) : 0;
  refill_rx();
  update_irq();
}

void Serial16550::write_mcr(uint8_t value) {
  uint8_t before = modem_inputs();
  mcr_ = value & kMcrMask;
  uint8_t after = modem_inputs();
  // The delta bits record changes of the modem inputs, which in loopback are the MCR outputs
  // (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD); TERI records RI's trailing edge only.
  uint8_t changed = before ^ after;
  if (changed & kMsrCts) msr_deltas_ |= kMsrDcts;
  if (changed & kMsrDsr) msr_deltas_ |= kMsrDdsr;
  if (changed & kMsrDcd) msr_deltas_ |= kMsrDdcd;
  if ((before & kMsrRi) && !(after & kMsrRi)) msr_deltas_ |= kMsrTeri;
  refill_rx();  // host input flows again once loopback ends
  update_irq();
}

bool Serial16550::loopback() const { return mcr_ & kMcrLoop; }

size_t Serial16550::rx_capacity() const { return (fcr_ & kFcrEnable) ? kFifoDepth : 1; }

uint8_t Serial16550::modem_inputs() const {
  if (!loopback()) return kMsrHostLines;
  uint8_t mcr = mcr_;
  return static_cast<uint8_t>(((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) | ((mcr & 0x0C) << 4));
}

uint8_t Serial16550::pending_interrupt() const {
  if ((ier_ & kIerRls) && overrun_) return kIirRls;
  if ((ier_ & kIerRda) && !rx_fifo_.empty()) {
    // With FIFOs on, data below the trigger level is reported as a character timeout. The model
    // has no character clock, so the timeout is immediate: the guest never waits for it.
    if ((fcr_ & kFcrEnable) && rx_fifo_.size() < kRxTrigger[fcr_ >> 6]) return kIirTimeout;
    return kIirRda;
  }
  if ((ier_ & kIerThre) && thre_pending_) return kIirThre;
  if ((ier_ & kIerMsi) && msr_deltas_) return kIirMsi;
  return kIirNone;
}

void Serial16550::refill_rx() {
  // In loopback the serial input is disconnected: host bytes wait until it ends.
  if (loopback()) return;
  while (!host_input_.empty() && rx_fifo_.size() < rx_capacity()) {
    rx_fifo_.push_back(host_input_.front());
    host_input_.pop_front();
  }
}

void Serial16550::update_irq() {
  // On the PC the UART's INTR pin reaches the interrupt controller through a buffer enabled by
  // MCR OUT2. The datasheet forces the OUT2 pin inactive in loopback; the MCR bit is honored
  // there anyway (as other VMMs do) so that a guest's loopback self-test can use interrupts.
  bool level = (mcr_ & kMcrOut2) && pending_interrupt() != kIirNone;
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_.set_level(level);
}

}  // namespace devices::legacy
