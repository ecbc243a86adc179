#include "devices/legacy/i8042.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

#include "devices/bus/bus.h"
#include "tests/unit/fakes/fake_interrupt_line.h"

namespace {

using devices::Bus;
using devices::legacy::I8042;

constexpr uint8_t kStatusObf = 0x01, kStatusIbf = 0x02, kStatusSys = 0x04, kStatusUnlocked = 0x10,
                  kStatusAux = 0x20, kStatusTimeout = 0x40;
constexpr uint8_t kCtrKbdInt = 0x01, kCtrAuxInt = 0x02, kCtrKbdDis = 0x10, kCtrAuxDis = 0x20,
                  kCtrXlate = 0x40;

class I8042Test : public ::testing::Test {
 protected:
  I8042Test() {
    kbc_ = std::make_shared<I8042>(kbd_irq_, aux_irq_, [this] { ++resets_; });
    bus_.insert(kbc_->data_port(), I8042::kDataPort, 1);
    bus_.insert(kbc_->command_port(), I8042::kCommandPort, 1);
  }

  uint8_t inb(uint64_t port) {
    std::array<std::byte, 1> b{};
    EXPECT_TRUE(bus_.read(port, b));
    return std::to_integer<uint8_t>(b[0]);
  }
  void outb(uint64_t port, uint8_t value) {
    std::array<std::byte, 1> b{std::byte{value}};
    EXPECT_TRUE(bus_.write(port, b));
  }
  uint8_t status() { return inb(0x64); }
  void command(uint8_t cmd) {
    ASSERT_FALSE(status() & kStatusIbf);
    outb(0x64, cmd);
  }
  // Like Linux's i8042_wait_read(): the answer must already be there.
  uint8_t read_answer() {
    EXPECT_TRUE(status() & kStatusObf);
    return inb(0x60);
  }
  uint8_t read_ctr() {
    command(0x20);
    return read_answer();
  }
  void write_ctr(uint8_t value) {
    command(0x60);
    outb(0x60, value);
  }
  std::vector<uint8_t> drain() {
    std::vector<uint8_t> bytes;
    for (int i = 0; i < 64 && (status() & kStatusObf); ++i) bytes.push_back(inb(0x60));
    return bytes;
  }

  fakes::FakeInterruptLine kbd_irq_;
  fakes::FakeInterruptLine aux_irq_;
  int resets_ = 0;
  Bus bus_;
  std::shared_ptr<I8042> kbc_;
};

TEST_F(I8042Test, IdleControllerHasNothingToRead) {
  uint8_t s = status();
  EXPECT_FALSE(s & kStatusObf);
  EXPECT_FALSE(s & kStatusIbf);
  EXPECT_TRUE(s & kStatusUnlocked);  // no "Keylock active" warning from Linux
  EXPECT_TRUE(drain().empty());
}

TEST_F(I8042Test, SelfTestAnswers55) {
  command(0xAA);
  EXPECT_EQ(read_answer(), 0x55);
  EXPECT_FALSE(status() & kStatusObf);
}

TEST_F(I8042Test, InterfaceTestsReportNoError) {
  command(0xAB);
  EXPECT_EQ(read_answer(), 0x00);
  command(0xA9);
  EXPECT_EQ(read_answer(), 0x00);
}

TEST_F(I8042Test, CommandByteRoundTrip) {
  uint8_t initial = read_ctr();
  EXPECT_EQ(read_ctr(), initial);  // Linux reads it twice and wants them equal
  EXPECT_TRUE(status() & kStatusSys);
  write_ctr(kCtrXlate | kCtrKbdDis);
  EXPECT_EQ(read_ctr(), kCtrXlate | kCtrKbdDis);
  EXPECT_FALSE(status() & kStatusSys);
  write_ctr(initial);
  EXPECT_EQ(read_ctr(), initial);
}

TEST_F(I8042Test, PortEnableCommandsDriveCommandByteBits) {
  command(0xA7);
  EXPECT_TRUE(read_ctr() & kCtrAuxDis);
  command(0xA8);
  EXPECT_FALSE(read_ctr() & kCtrAuxDis);
  command(0xAD);
  EXPECT_TRUE(read_ctr() & kCtrKbdDis);
  command(0xAE);
  EXPECT_FALSE(read_ctr() & kCtrKbdDis);
}

TEST_F(I8042Test, OutputPortReadWrite) {
  command(0xD1);
  outb(0x60, 0xDF);  // A20 on, not in reset: what Linux's A20 code writes
  command(0xD0);
  EXPECT_EQ(read_answer(), 0xDF);
  EXPECT_EQ(resets_, 0);
}

TEST_F(I8042Test, ResetLinePulseCallsTheResetCallback) {
  command(0xFF);  // pulses no line
  EXPECT_EQ(resets_, 0);
  command(0xFE);
  EXPECT_EQ(resets_, 1);
  command(0xF0);  // pulses all four lines, reset among them
  EXPECT_EQ(resets_, 2);
  command(0xD1);
  outb(0x60, 0x02);  // output port with the reset line low
  EXPECT_EQ(resets_, 3);
}

TEST_F(I8042Test, CommandResponsesRaiseIrq1WhenEnabled) {
  write_ctr(kCtrXlate);
  command(0xAA);
  EXPECT_FALSE(kbd_irq_.level());
  inb(0x60);
  write_ctr(kCtrXlate | kCtrKbdInt);
  command(0xAA);
  EXPECT_TRUE(kbd_irq_.level());
  EXPECT_EQ(inb(0x60), 0x55);
  EXPECT_FALSE(kbd_irq_.level());
}

TEST_F(I8042Test, AuxLoopbackComesBackAsAuxDataOnIrq12) {
  write_ctr(kCtrXlate | kCtrAuxInt);
  command(0xD3);
  outb(0x60, 0xA5);
  EXPECT_EQ(status() & (kStatusObf | kStatusAux), kStatusObf | kStatusAux);
  EXPECT_TRUE(aux_irq_.level());
  EXPECT_FALSE(kbd_irq_.level());
  EXPECT_EQ(inb(0x60), 0xA5);
  EXPECT_FALSE(aux_irq_.level());
}

TEST_F(I8042Test, EmptyAuxPortTimesOut) {
  command(0xD4);
  outb(0x60, 0xF2);  // identify, sent to the mouse
  uint8_t s = status();
  EXPECT_EQ(s & (kStatusObf | kStatusAux | kStatusTimeout),
            kStatusObf | kStatusAux | kStatusTimeout);
  EXPECT_EQ(inb(0x60), 0xFE);
  EXPECT_FALSE(status() & (kStatusObf | kStatusTimeout));
}

TEST_F(I8042Test, KeyboardAnswersLikeAnIdleAtKeyboard) {
  write_ctr(kCtrXlate | kCtrKbdInt);
  outb(0x60, 0xFF);  // reset
  EXPECT_TRUE(kbd_irq_.level());
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xAA}));
  outb(0x60, 0xF2);  // identify, translated
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xAB, 0x41}));
  outb(0x60, 0xF5);
  outb(0x60, 0xED);  // LEDs, then their parameter
  outb(0x60, 0x00);
  outb(0x60, 0xF3);  // typematic rate, then its parameter
  outb(0x60, 0x20);
  outb(0x60, 0xF4);
  EXPECT_EQ(drain(), (std::vector<uint8_t>(6, 0xFA)));  // one per byte sent
  outb(0x60, 0xEE);
  EXPECT_EQ(drain(), std::vector<uint8_t>{0xEE});
  outb(0x60, 0x12);  // not a command
  EXPECT_EQ(drain(), std::vector<uint8_t>{0xFE});
  write_ctr(kCtrKbdInt);  // untranslated
  outb(0x60, 0xF2);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xAB, 0x83}));
}

TEST_F(I8042Test, EveryQueuedByteRaisesItsOwnEdge) {
  write_ctr(kCtrXlate | kCtrKbdInt);
  int before = kbd_irq_.assertions();
  outb(0x60, 0xF2);
  drain();
  EXPECT_EQ(kbd_irq_.assertions() - before, 3);
  EXPECT_FALSE(kbd_irq_.level());
}

TEST_F(I8042Test, ScancodeSetQueryAndChange) {
  outb(0x60, 0xF0);
  outb(0x60, 0x00);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xFA, 0x02}));
  outb(0x60, 0xF0);
  outb(0x60, 0x01);
  outb(0x60, 0xF0);
  outb(0x60, 0x00);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xFA, 0xFA, 0xFA, 0x01}));
}

TEST_F(I8042Test, OutputQueueIsBounded) {
  for (int i = 0; i < 1000; ++i) {
    command(0xD2);
    outb(0x60, static_cast<uint8_t>(i));
  }
  std::vector<uint8_t> bytes = drain();
  EXPECT_FALSE(bytes.empty());
  EXPECT_LE(bytes.size(), 16u);
  EXPECT_EQ(bytes[0], 0);
}

// The order Linux's i8042 driver probes in: flush, self-test, CTR, AUX detection with its IRQ
// test, then the keyboard.
TEST_F(I8042Test, LinuxProbeFindsControllerKeyboardAndAuxPort) {
  EXPECT_TRUE(drain().empty());
  command(0xAA);
  ASSERT_EQ(read_answer(), 0x55);
  uint8_t ctr = read_ctr();
  ASSERT_EQ(read_ctr(), ctr);
  ctr = (ctr | kCtrKbdDis) & ~(kCtrKbdInt | kCtrAuxInt);
  write_ctr(ctr);

  // i8042_check_aux: loopback, then the AUXDIS bit must follow 0xA7/0xA8.
  command(0xD3);
  outb(0x60, 0x5A);
  ASSERT_TRUE(status() & kStatusAux);
  ASSERT_EQ(read_answer(), 0x5A);
  command(0xA7);
  ASSERT_TRUE(read_ctr() & kCtrAuxDis);
  command(0xA8);
  ASSERT_FALSE(read_ctr() & kCtrAuxDis);
  // The AUX IRQ test: 0xA5 through the loopback must arrive on IRQ 12.
  ctr = (ctr & ~kCtrAuxDis) | kCtrAuxInt;
  write_ctr(ctr);
  command(0xD3);
  outb(0x60, 0xA5);
  EXPECT_TRUE(aux_irq_.level());
  EXPECT_EQ(inb(0x60), 0xA5);
  EXPECT_EQ(aux_irq_.assertions(), 1);

  // Keyboard port enabled with its interrupt; atkbd resets and identifies the keyboard.
  ctr = (ctr & ~kCtrKbdDis) | kCtrKbdInt;
  write_ctr(ctr);
  outb(0x60, 0xFF);
  EXPECT_TRUE(kbd_irq_.level());
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xAA}));
  outb(0x60, 0xF2);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xFA, 0xAB, 0x41}));
  EXPECT_EQ(resets_, 0);
}

}  // namespace
