#include "devices/legacy/i8042.h"

#include <utility>

namespace devices::legacy {

namespace {

// Status register (port 0x64 read).
constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystem = 0x04;
constexpr uint8_t kStatusCommand = 0x08;   // last write went to port 0x64
constexpr uint8_t kStatusUnlocked = 0x10;  // keyboard not inhibited by the key lock
constexpr uint8_t kStatusAuxData = 0x20;
constexpr uint8_t kStatusTimeout = 0x40;

// Command byte (controller RAM byte 0).
constexpr uint8_t kCtrKeyboardInt = 0x01;
constexpr uint8_t kCtrAuxInt = 0x02;
constexpr uint8_t kCtrSystem = 0x04;
constexpr uint8_t kCtrKeyboardDisable = 0x10;
constexpr uint8_t kCtrAuxDisable = 0x20;
constexpr uint8_t kCtrTranslate = 0x40;
// As a BIOS leaves it after POST: keyboard interrupt and translation on, AUX port disabled.
constexpr uint8_t kCtrDefault = kCtrKeyboardInt | kCtrSystem | kCtrAuxDisable | kCtrTranslate;

// Output port: bit 0 is the CPU reset line (active low), bit 1 the A20 gate.
constexpr uint8_t kOutputPortDefault = 0x03;
constexpr uint8_t kOutputPortNotReset = 0x01;

// Controller commands.
constexpr uint8_t kCmdReadRamFirst = 0x20;  // 0x20 reads the command byte
constexpr uint8_t kCmdReadRamLast = 0x3F;
constexpr uint8_t kCmdWriteRamFirst = 0x60;  // 0x60 writes the command byte
constexpr uint8_t kCmdWriteRamLast = 0x7F;
constexpr uint8_t kCmdDisableAux = 0xA7;
constexpr uint8_t kCmdEnableAux = 0xA8;
constexpr uint8_t kCmdTestAux = 0xA9;
constexpr uint8_t kCmdSelfTest = 0xAA;
constexpr uint8_t kCmdTestKeyboard = 0xAB;
constexpr uint8_t kCmdDisableKeyboard = 0xAD;
constexpr uint8_t kCmdEnableKeyboard = 0xAE;
constexpr uint8_t kCmdReadOutputPort = 0xD0;
constexpr uint8_t kCmdWriteOutputPort = 0xD1;
constexpr uint8_t kCmdWriteKeyboardOutput = 0xD2;
constexpr uint8_t kCmdWriteAuxOutput = 0xD3;  // AUX loopback
constexpr uint8_t kCmdWriteAux = 0xD4;
constexpr uint8_t kCmdPulseFirst = 0xF0;  // 0xF0-0xFF: bits 3:0 low pulse output port lines

constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kInterfaceOk = 0x00;

// Keyboard commands and answers.
constexpr uint8_t kKbdSetLeds = 0xED;
constexpr uint8_t kKbdEcho = 0xEE;
constexpr uint8_t kKbdScancodeSet = 0xF0;
constexpr uint8_t kKbdIdentify = 0xF2;
constexpr uint8_t kKbdTypematic = 0xF3;
constexpr uint8_t kKbdEnable = 0xF4;
constexpr uint8_t kKbdSetAllMakeBreak = 0xFA;  // last of the parameterless 0xF4-0xFA group
constexpr uint8_t kKbdReset = 0xFF;
constexpr uint8_t kKbdAck = 0xFA;
constexpr uint8_t kKbdResend = 0xFE;
constexpr uint8_t kKbdBatPassed = 0xAA;
constexpr uint8_t kKbdId = 0xAB;
constexpr uint8_t kKbdIdSecond = 0x83;
constexpr uint8_t kKbdIdSecondTranslated = 0x41;

// What a device behind an empty port "answers", with the timeout status bit.
constexpr uint8_t kNoDevice = 0xFE;

// The controller and the keyboard buffer a few bytes; a guest that never reads cannot grow it.
constexpr size_t kOutputDepth = 16;

void drive(InterruptLine& line, bool& current, bool level) {
  if (current == level) return;
  current = level;
  line.set_level(level);
}

}  // namespace

void I8042::Port::read(uint64_t, std::span<std::byte> data) {
  for (auto& b : data) b = std::byte{owner_.read_port(command_)};
}

void I8042::Port::write(uint64_t, std::span<const std::byte> data) {
  for (auto b : data) owner_.write_port(command_, std::to_integer<uint8_t>(b));
}

I8042::I8042(InterruptLine& keyboard_irq, InterruptLine& aux_irq, std::function<void()> reset)
    : keyboard_irq_(keyboard_irq),
      aux_irq_(aux_irq),
      reset_(std::move(reset)),
      output_port_(kOutputPortDefault) {
  ram_[0] = kCtrDefault;
}

std::shared_ptr<BusDevice> I8042::data_port() { return {shared_from_this(), &data_port_}; }

std::shared_ptr<BusDevice> I8042::command_port() { return {shared_from_this(), &command_port_}; }

uint8_t I8042::read_port(bool command) {
  std::lock_guard lock(mutex_);
  if (command) {
    uint8_t status = kStatusUnlocked;
    if (ram_[0] & kCtrSystem) status |= kStatusSystem;
    if (last_write_was_command_) status |= kStatusCommand;
    if (!output_.empty()) {
      status |= kStatusOutputFull;
      if (output_.front().aux) status |= kStatusAuxData;
      if (output_.front().timeout) status |= kStatusTimeout;
    }
    return status;
  }
  // An empty output buffer still reads as the byte it last held.
  if (output_.empty()) return last_output_;
  last_output_ = output_.front().value;
  output_.pop_front();
  // Drop both lines so that the next byte, if any, raises a new edge.
  drive(keyboard_irq_, keyboard_level_, false);
  drive(aux_irq_, aux_level_, false);
  update_irqs();
  return last_output_;
}

void I8042::write_port(bool command, uint8_t value) {
  bool reset;
  {
    std::lock_guard lock(mutex_);
    last_write_was_command_ = command;
    reset = command ? run_command(value) : write_data(value);
    update_irqs();
  }
  // Outside the lock: the VMM may tear the machine down or reset this very device.
  if (reset) reset_();
}

bool I8042::run_command(uint8_t command) {
  // A new command abandons one still waiting for its data byte.
  pending_command_ = 0;
  if (command >= kCmdReadRamFirst && command <= kCmdReadRamLast) {
    push_output({ram_[command - kCmdReadRamFirst], false, false});
    return false;
  }
  if ((command >= kCmdWriteRamFirst && command <= kCmdWriteRamLast) ||
      (command >= kCmdWriteOutputPort && command <= kCmdWriteAux)) {
    pending_command_ = command;
    return false;
  }
  if (command >= kCmdPulseFirst) return !(command & kOutputPortNotReset);
  switch (command) {
    case kCmdDisableAux:
      ram_[0] |= kCtrAuxDisable;
      break;
    case kCmdEnableAux:
      ram_[0] &= ~kCtrAuxDisable;
      break;
    case kCmdTestAux:
    case kCmdTestKeyboard:
      push_output({kInterfaceOk, false, false});
      break;
    case kCmdSelfTest:
      push_output({kSelfTestPassed, false, false});
      break;
    case kCmdDisableKeyboard:
      ram_[0] |= kCtrKeyboardDisable;
      break;
    case kCmdEnableKeyboard:
      ram_[0] &= ~kCtrKeyboardDisable;
      break;
    case kCmdReadOutputPort:
      push_output({output_port_, false, false});
      break;
    default:  // unknown commands are ignored, as the 8042 does
      break;
  }
  return false;
}

bool I8042::write_data(uint8_t value) {
  uint8_t command = pending_command_;
  pending_command_ = 0;
  if (command >= kCmdWriteRamFirst && command <= kCmdWriteRamLast) {
    ram_[command - kCmdWriteRamFirst] = value;
    return false;
  }
  switch (command) {
    case kCmdWriteOutputPort:
      output_port_ = value;
      return !(value & kOutputPortNotReset);
    case kCmdWriteKeyboardOutput:
      push_output({value, false, false});
      return false;
    case kCmdWriteAuxOutput:
      push_output({value, true, false});
      return false;
    case kCmdWriteAux:
      push_output({kNoDevice, true, true});
      return false;
    default:
      // Data with no command pending goes to the keyboard; writing it re-enables a disabled
      // keyboard interface on the 8042, so the command is always delivered.
      keyboard_write(value);
      return false;
  }
}

void I8042::keyboard_write(uint8_t value) {
  auto answer = [this](uint8_t byte) { push_output({byte, false, false}); };
  if (keyboard_command_ != 0) {
    // The parameter byte of a previous command.
    uint8_t command = keyboard_command_;
    keyboard_command_ = 0;
    answer(kKbdAck);
    if (command == kKbdScancodeSet) {
      if (value == 0)
        answer(scancode_set_);  // the query; reported untranslated
      else if (value <= 3)
        scancode_set_ = value;
    }
    return;
  }
  switch (value) {
    case kKbdSetLeds:
    case kKbdTypematic:
    case kKbdScancodeSet:
      answer(kKbdAck);
      keyboard_command_ = value;
      break;
    case kKbdEcho:
      answer(kKbdEcho);
      break;
    case kKbdIdentify:
      answer(kKbdAck);
      answer(kKbdId);
      answer((ram_[0] & kCtrTranslate) ? kKbdIdSecondTranslated : kKbdIdSecond);
      break;
    case kKbdReset:
      scancode_set_ = 2;
      answer(kKbdAck);
      answer(kKbdBatPassed);
      break;
    default:
      // Enable, disable, set defaults and the set-3 key type commands just acknowledge;
      // anything else asks the host to resend.
      answer(value >= kKbdEnable && value <= kKbdSetAllMakeBreak ? kKbdAck : kKbdResend);
      break;
  }
}

void I8042::push_output(OutputByte byte) {
  if (output_.size() < kOutputDepth) output_.push_back(byte);
}

void I8042::update_irqs() {
  bool keyboard = false;
  bool aux = false;
  if (!output_.empty()) {
    if (output_.front().aux)
      aux = ram_[0] & kCtrAuxInt;
    else
      keyboard = ram_[0] & kCtrKeyboardInt;
  }
  drive(keyboard_irq_, keyboard_level_, keyboard);
  drive(aux_irq_, aux_level_, aux);
}

}  // namespace devices::legacy
