// The PC's 8042 keyboard controller (IBM PS/2 Technical Reference; commands as Linux's i8042
// driver uses them): data port 0x60, status/command port 0x64, keyboard IRQ 1, AUX IRQ 12.
//
// What the guest finds: a PS/2 controller with an idle keyboard and an empty AUX (mouse) port.
// The keyboard answers its commands the way a real one does (ACK 0xFA, reset BAT 0xAA, ID
// 0xAB 0x83, shown as 0xAB 0x41 while the controller translates to scan code set 1) and never
// sends key codes; Linux registers "AT Translated Set 2 keyboard" without complaint. Bytes sent
// to the AUX device (command 0xD4) come back as 0xFE with the status timeout bit, which is what
// a controller reports for an empty port; Linux's psmouse then quietly finds no mouse.
// Controller commands complete at once, so the input buffer is never full (status IBF is 0).
// A20 (output port bit 1) is stored but has no effect: guest memory is always linear.
// Pulsing the CPU reset line (command 0xFE, any 0xF0-0xFE with bit 0 clear, or an output port
// write with bit 0 clear) calls the reset callback, outside the device lock.
//
// The interrupt lines follow the output buffer: IRQ 1 while it holds a keyboard/controller byte
// and command byte bit 0 is set, IRQ 12 for an AUX byte and bit 1. Both are dropped when the
// guest reads the byte, so each queued byte raises a fresh edge on the edge-triggered ISA lines.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>

#include "devices/bus/bus.h"
#include "devices/interrupt_line.h"

namespace devices::legacy {

class I8042 : public std::enable_shared_from_this<I8042> {
 public:
  static constexpr uint64_t kDataPort = 0x60;
  static constexpr uint64_t kCommandPort = 0x64;
  static constexpr uint32_t kKeyboardIrq = 1;
  static constexpr uint32_t kAuxIrq = 12;

  // The lines must outlive the controller. `reset` may run several times in a row (Linux pulses
  // the line up to ten times).
  I8042(InterruptLine& keyboard_irq, InterruptLine& aux_irq, std::function<void()> reset);

  // The two one-byte ports to insert on the PIO bus at kDataPort and kCommandPort (they are not
  // adjacent: 0x61 belongs to the PIT's speaker gate). Each keeps the controller alive, which
  // must itself be owned by a std::shared_ptr.
  std::shared_ptr<BusDevice> data_port();
  std::shared_ptr<BusDevice> command_port();

 private:
  class Port : public BusDevice {
   public:
    Port(I8042& owner, bool command) : owner_(owner), command_(command) {}
    void read(uint64_t offset, std::span<std::byte> data) override;
    void write(uint64_t offset, std::span<const std::byte> data) override;

   private:
    I8042& owner_;
    bool command_;
  };

  struct OutputByte {
    uint8_t value;
    bool aux;
    bool timeout;
  };

  uint8_t read_port(bool command);
  void write_port(bool command, uint8_t value);
  // These run with mutex_ held; they return true when the CPU reset line was pulsed.
  bool run_command(uint8_t command);
  bool write_data(uint8_t value);
  void keyboard_write(uint8_t value);
  void push_output(OutputByte byte);
  void update_irqs();

  InterruptLine& keyboard_irq_;
  InterruptLine& aux_irq_;
  std::function<void()> reset_;
  Port data_port_{*this, false};
  Port command_port_{*this, true};

  std::mutex mutex_;
  std::array<uint8_t, 32> ram_{};  // controller RAM; byte 0 is the command byte
  uint8_t output_port_;
  uint8_t pending_command_ = 0;   // controller command waiting for its data byte
  uint8_t keyboard_command_ = 0;  // keyboard command waiting for its parameter
  uint8_t scancode_set_ = 2;
  bool last_write_was_command_ = false;
  std::deque<OutputByte> output_;  // the front byte is in the output buffer
  uint8_t last_output_ = 0;
  bool keyboard_level_ = false;
  bool aux_level_ = false;
};

}  // namespace devices::legacy
