#include "devices/legacy/serial16550.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "devices/bus/bus.h"
#include "tests/unit/fakes/fake_interrupt_line.h"

namespace {

using devices::Bus;
using devices::legacy::Serial16550;

constexpr uint64_t kBase = Serial16550::kCom1Base;

// Register offsets and bits, spelled as a driver spells them (PC16550D datasheet).
constexpr uint64_t kRbr = 0, kThr = 0, kDll = 0, kIer = 1, kDlm = 1, kIir = 2, kFcr = 2, kLcr = 3,
                   kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;
constexpr uint8_t kIerRda = 0x01, kIerThre = 0x02, kIerRls = 0x04, kIerMsi = 0x08;
constexpr uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
constexpr uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kLcrDlab = 0x80, kLcr8N1 = 0x03;

class Serial16550Test : public ::testing::Test {
 protected:
  Serial16550Test() {
    uart_ = std::make_shared<Serial16550>(irq_, [this](std::span<const std::byte> bytes) {
      std::lock_guard lock(sent_mutex_);
      for (auto b : bytes) sent_.push_back(std::to_integer<uint8_t>(b));
    });
    bus_.insert(uart_, kBase, Serial16550::kPortCount);
  }

  uint8_t in(uint64_t reg) {
    std::array<std::byte, 1> b{};
    EXPECT_TRUE(bus_.read(kBase + reg, b));
    return std::to_integer<uint8_t>(b[0]);
  }
  void out(uint64_t reg, uint8_t value) {
    std::array<std::byte, 1> b{std::byte{value}};
    EXPECT_TRUE(bus_.write(kBase + reg, b));
  }
  size_t send_to_guest(const std::string& text) {
    return uart_->enqueue_input(std::as_bytes(std::span(text.data(), text.size())));
  }
  std::vector<uint8_t> sent() {
    std::lock_guard lock(sent_mutex_);
    return sent_;
  }

  // Linux 8250 size_fifo(): count how many of 256 looped-back bytes the receiver keeps.
  int measure_fifo() {
    uint8_t old_lcr = in(kLcr);
    out(kLcr, 0);
    uint8_t old_fcr = in(kIir);
    uint8_t old_mcr = in(kMcr);
    out(kFcr, 0x07);
    out(kMcr, kMcrLoop);
    out(kLcr, kLcrDlab);
    uint8_t old_dll = in(kDll), old_dlm = in(kDlm);
    out(kDll, 1);
    out(kDlm, 0);
    out(kLcr, kLcr8N1);
    for (int i = 0; i < 256; ++i) out(kThr, static_cast<uint8_t>(i));
    int count = 0;
    for (; (in(kLsr)&kLsrDr) && count < 256; ++count) EXPECT_EQ(in(kRbr), count);
    out(kFcr, old_fcr);
    out(kMcr, old_mcr);
    out(kLcr, kLcrDlab);
    out(kDll, old_dll);
    out(kDlm, old_dlm);
    out(kLcr, old_lcr);
    return count;
  }

  // The decision tree of Linux's 8250 autoconfig()/autoconfig_16550a(), step by step.
  std::string probe_like_linux() {
    uint8_t scratch = in(kIer);
    out(kIer, 0);
    uint8_t scratch2 = in(kIer)&0x0F;
    out(kIer, 0x0F);
    uint8_t scratch3 = in(kIer)&0x0F;
    out(kIer, scratch);
    if (scratch2 != 0 || scratch3 != 0x0F) return "no UART (IER test)";

    uint8_t save_mcr = in(kMcr);
    uint8_t save_lcr = in(kLcr);
    out(kMcr, kMcrLoop | 0x0A);
    uint8_t status = in(kMsr)&0xF0;
    out(kMcr, save_mcr);
    if (status != 0x90) return "no UART (loopback test)";

    out(kLcr, 0xBF);  // EFR access, which is FCR on a 16550A
    out(kFcr, 0);
    out(kLcr, 0);
    out(kFcr, 0x01);
    std::string type;
    switch (in(kIir) >> 6) {
      case 0:
        type = "8250/16450";
        break;
      case 1:
        type = "unknown";
        break;
      case 2:
        type = "16550";
        break;
      default:
        type = probe_16550a_variant();
        break;
    }
    out(kLcr, save_lcr);
    out(kMcr, save_mcr);
    out(kFcr, 0x01);  // clear FIFOs
    out(kFcr, 0x07);
    out(kFcr, 0);
    in(kRbr);
    out(kIer, 0);
    return type;
  }

  std::string probe_16550a_variant() {
    out(kLcr, 0x80);
    if (in(kIir) == 0) return "ST16650 (EFR with DLAB)";
    out(kLcr, 0xBF);
    if (in(kIir) == 0) return "EFR UART";
    out(kLcr, 0);
    uint8_t mcr = in(kMcr);
    out(kLcr, 0xE0);
    uint8_t excr1 = in(kIir);
    if (!((excr1 ^ mcr) & kMcrLoop)) {
      out(kLcr, 0);
      out(kMcr, mcr ^ kMcrLoop);
      out(kLcr, 0xE0);
      excr1 = in(kIir);
      out(kLcr, 0);
      out(kMcr, mcr);
      if ((excr1 ^ mcr) & kMcrLoop) return "NS16550A";
    }
    out(kLcr, 0);
    out(kFcr, 0x21);
    uint8_t iir1 = in(kIir) >> 5;
    out(kFcr, 0x01);
    out(kLcr, 0x80);
    out(kFcr, 0x21);
    uint8_t iir2 = in(kIir) >> 5;
    out(kFcr, 0x01);
    out(kLcr, 0);
    if (iir1 == 6 && iir2 == 7) return "TI16750";
    uint8_t ier = in(kIer);
    out(kIer, ier & ~0x40);
    if (!(in(kIer)&0x40)) {
      out(kIer, ier | 0x40);
      if (in(kIer)&0x40) return "XScale";
    }
    out(kIer, ier);
    if (measure_fifo() == 64) return "U6_16550A";
    return "16550A";
  }

  fakes::FakeInterruptLine irq_;
  std::mutex sent_mutex_;
  std::vector<uint8_t> sent_;
  Bus bus_;
  std::shared_ptr<Serial16550> uart_;
};

TEST_F(Serial16550Test, LinuxAutoconfigDetects16550A) {
  EXPECT_EQ(probe_like_linux(), "16550A");
  // The probe's loopback bytes never reach the terminal, and no interrupt fired.
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(irq_.assertions(), 0);
  EXPECT_NE(in(kLsr), 0xFF);  // Linux's "LSR safety check"
}

TEST_F(Serial16550Test, FifoHoldsSixteenBytes) { EXPECT_EQ(measure_fifo(), 16); }

TEST_F(Serial16550Test, ScratchRegisterHoldsAnyByte) {
  for (uint8_t v : {0xA5, 0x5A, 0x00, 0xFF}) {
    out(kScr, v);
    EXPECT_EQ(in(kScr), v);
  }
}

TEST_F(Serial16550Test, DlabSwitchesOffsetsZeroAndOneToTheDivisorLatch) {
  out(kIer, kIerRda);
  out(kLcr, kLcrDlab | kLcr8N1);
  out(kDll, 0x34);
  out(kDlm, 0x12);
  EXPECT_EQ(in(kDll), 0x34);
  EXPECT_EQ(in(kDlm), 0x12);
  out(kLcr, kLcr8N1);
  EXPECT_EQ(in(kIer), kIerRda);
  EXPECT_EQ(in(kLcr), kLcr8N1);
  out(kLcr, kLcrDlab);
  EXPECT_EQ(in(kDll), 0x34);
  EXPECT_TRUE(sent().empty());
}

TEST_F(Serial16550Test, DivisorZeroIsHarmless) {
  // CVE-2016-8669: a zero divisor must not fault the device model.
  out(kLcr, kLcrDlab);
  out(kDll, 0);
  out(kDlm, 0);
  out(kLcr, kLcr8N1);
  out(kThr, 'k');
  EXPECT_EQ(sent(), std::vector<uint8_t>{'k'});
  EXPECT_EQ(in(kLsr) & (kLsrThre | kLsrTemt), kLsrThre | kLsrTemt);
  ASSERT_EQ(send_to_guest("r"), 1u);
  EXPECT_EQ(in(kRbr), 'r');
}

TEST_F(Serial16550Test, LoopbackReturnsTransmittedBytesAndMirrorsModemLines) {
  out(kMcr, kMcrLoop | kMcrDtr | kMcrOut1);
  EXPECT_EQ(in(kMsr)&0xF0, 0x60);  // DTR->DSR, OUT1->RI
  out(kMcr, kMcrLoop | kMcrRts | kMcrOut2);
  EXPECT_EQ(in(kMsr)&0xF0, 0x90);  // RTS->CTS, OUT2->DCD
  out(kThr, 'a');
  EXPECT_TRUE(in(kLsr)&kLsrDr);
  EXPECT_EQ(in(kRbr), 'a');
  EXPECT_FALSE(in(kLsr)&kLsrDr);
  EXPECT_TRUE(sent().empty());

  // Host input waits while the serial input is disconnected, and arrives afterwards.
  ASSERT_EQ(send_to_guest("z"), 1u);
  EXPECT_FALSE(in(kLsr)&kLsrDr);
  out(kMcr, 0);
  EXPECT_TRUE(in(kLsr)&kLsrDr);
  EXPECT_EQ(in(kRbr), 'z');
  // Outside loopback the terminal side shows CTS, DSR and DCD.
  EXPECT_EQ(in(kMsr)&0xF0, 0xB0);
}

TEST_F(Serial16550Test, LoopbackOverrunSetsOeAndLineStatusInterrupt) {
  out(kFcr, 0x01);
  out(kMcr, kMcrLoop | kMcrOut2);
  out(kIer, kIerRls);
  for (int i = 0; i < 17; ++i) out(kThr, static_cast<uint8_t>('A' + i));
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(in(kIir), 0xC6);
  EXPECT_EQ(in(kLsr) & (kLsrOe | kLsrDr), kLsrOe | kLsrDr);
  EXPECT_FALSE(irq_.level());
  EXPECT_FALSE(in(kLsr)&kLsrOe);  // cleared by the read
  std::string received;
  while (in(kLsr)&kLsrDr) received.push_back(static_cast<char>(in(kRbr)));
  EXPECT_EQ(received, "ABCDEFGHIJKLMNOP");  // the 17th byte was lost
}

TEST_F(Serial16550Test, ThreInterruptRaisedOnEnableClearedByIirAndReasserted) {
  out(kMcr, kMcrOut2);
  EXPECT_FALSE(irq_.level());
  out(kIer, kIerThre);
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(in(kIir), 0x02);
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(in(kIir), 0x01);
  // Linux's startup test: turning ETBEI off and on again reasserts THRE while THR is empty.
  out(kIer, 0);
  out(kIer, kIerThre);
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(in(kIir), 0x02);
  EXPECT_EQ(irq_.history(), (std::vector<bool>{true, false, true, false}));
}

TEST_F(Serial16550Test, ThrWriteClearsThreAndRaisesItAgainWithAnEdge) {
  out(kMcr, kMcrOut2);
  out(kIer, kIerThre);
  ASSERT_TRUE(irq_.level());
  size_t before = irq_.history().size();
  out(kThr, 'x');
  std::vector<bool> history = irq_.history();
  ASSERT_EQ(history.size(), before + 2);
  EXPECT_FALSE(history[before]);
  EXPECT_TRUE(history[before + 1]);
  EXPECT_EQ(sent(), std::vector<uint8_t>{'x'});
  // Disabling ETBEI withdraws the pending interrupt.
  out(kIer, 0);
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(in(kIir), 0x01);
}

TEST_F(Serial16550Test, ReceiveRaisesDataAvailableUntilDrained) {
  out(kFcr, 0xC1);  // FIFO on, trigger level 14
  out(kMcr, kMcrOut2);
  out(kIer, kIerRda);
  EXPECT_FALSE(irq_.level());
  ASSERT_EQ(send_to_guest("hello"), 5u);
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(in(kIir), 0xCC);  // fewer than 14 bytes: character timeout
  EXPECT_TRUE(in(kLsr)&kLsrDr);
  std::string received;
  for (int i = 0; i < 5; ++i) received.push_back(static_cast<char>(in(kRbr)));
  EXPECT_EQ(received, "hello");
  EXPECT_FALSE(in(kLsr)&kLsrDr);
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(in(kIir), 0xC1);

  out(kFcr, 0x01);  // trigger level 1
  ASSERT_EQ(send_to_guest("!"), 1u);
  EXPECT_EQ(in(kIir), 0xC4);
  EXPECT_EQ(in(kRbr), '!');
}

TEST_F(Serial16550Test, HostInputIsBoundedAndAcceptedPartially) {
  std::vector<std::byte> input(3 * Serial16550::kInputBufferSize);
  for (size_t i = 0; i < input.size(); ++i) input[i] = std::byte(i * 7 % 251);
  std::span<const std::byte> all(input);
  size_t accepted = uart_->enqueue_input(all);
  EXPECT_GE(accepted, Serial16550::kInputBufferSize);
  EXPECT_LT(accepted, input.size());
  EXPECT_EQ(uart_->enqueue_input(all.subspan(accepted)), 0u);

  EXPECT_EQ(in(kRbr), std::to_integer<uint8_t>(input[0]));
  EXPECT_EQ(uart_->enqueue_input(all.subspan(accepted)), 1u);
  ++accepted;

  std::vector<std::byte> received{input[0]};
  while (in(kLsr)&kLsrDr) received.push_back(std::byte{in(kRbr)});
  ASSERT_EQ(received.size(), accepted);
  EXPECT_TRUE(std::equal(received.begin(), received.end(), input.begin()));
}

TEST_F(Serial16550Test, Out2GatesTheInterruptLine) {
  out(kIer, kIerThre);
  EXPECT_EQ(in(kIer), kIerThre);
  EXPECT_FALSE(irq_.level());  // pending, but OUT2 is off
  out(kMcr, kMcrOut2);
  EXPECT_TRUE(irq_.level());
  out(kMcr, 0);
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(in(kIir), 0x02);  // still reported to a polling driver
}

TEST_F(Serial16550Test, ModemStatusInterruptReportsDeltasUntilMsrRead) {
  out(kMcr, kMcrLoop | kMcrOut2);
  in(kMsr);  // discard the deltas of entering loopback
  out(kIer, kIerMsi);
  EXPECT_FALSE(irq_.level());
  out(kMcr, kMcrLoop | kMcrOut2 | kMcrRts);
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(in(kIir), 0x00);
  EXPECT_EQ(in(kMsr), 0x91);  // CTS and DCD, delta CTS
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(in(kMsr), 0x90);
}

TEST_F(Serial16550Test, InterruptSourcesAreReportedByPriority) {
  out(kFcr, 0x01);
  out(kMcr, kMcrLoop | kMcrOut2);
  in(kMsr);
  out(kIer, kIerRda | kIerThre | kIerRls | kIerMsi);
  for (int i = 0; i < 17; ++i) out(kThr, static_cast<uint8_t>(i));
  out(kMcr, kMcrLoop | kMcrOut2 | kMcrDtr);  // a modem status change too

  EXPECT_EQ(in(kIir), 0xC6);  // receiver line status first
  in(kLsr);
  EXPECT_EQ(in(kIir), 0xC4);  // then received data
  while (in(kLsr)&kLsrDr) in(kRbr);
  EXPECT_EQ(in(kIir), 0xC2);  // then THR empty, which this read clears
  EXPECT_EQ(in(kIir), 0xC0);  // then modem status
  in(kMsr);
  EXPECT_EQ(in(kIir), 0xC1);
  EXPECT_FALSE(irq_.level());
}

TEST_F(Serial16550Test, WideAccessReachesConsecutiveRegisters) {
  std::array<std::byte, 2> w{std::byte{kLcr8N1}, std::byte{kMcrOut2}};
  ASSERT_TRUE(bus_.write(kBase + kLcr, w));
  EXPECT_EQ(in(kLcr), kLcr8N1);
  EXPECT_EQ(in(kMcr), kMcrOut2);
  std::array<std::byte, 2> r{};
  ASSERT_TRUE(bus_.read(kBase + kLcr, r));
  EXPECT_EQ(r, w);
}

// Transmits the way Linux's 8250 driver does: enable ETBEI, and on each THRE interrupt load up
// to 16 bytes; disable ETBEI when the buffer is empty.
TEST_F(Serial16550Test, InterruptDrivenBurstReachesTheSinkInOrder) {
  std::vector<uint8_t> data(100000);
  std::mt19937 rng(42);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  out(kLcr, kLcr8N1);
  out(kFcr, 0x07);
  out(kMcr, kMcrOut2 | kMcrDtr | kMcrRts);
  out(kIer, kIerRda | kIerRls | kIerThre);
  size_t next = 0;
  for (size_t rounds = 0; irq_.level(); ++rounds) {
    ASSERT_LT(rounds, data.size());
    uint8_t iir = in(kIir);
    ASSERT_EQ(iir, 0xC2);
    for (int i = 0; i < 16 && next < data.size(); ++i) out(kThr, data[next++]);
    if (next == data.size()) out(kIer, kIerRda | kIerRls);
  }
  EXPECT_EQ(next, data.size());
  EXPECT_EQ(sent(), data);
  EXPECT_EQ(in(kIir), 0xC1);
}

// KVM's coalesced ring hands over several THR writes at once: one sink call, in order, and a
// write under DLAB still sets the divisor instead of transmitting.
TEST_F(Serial16550Test, DataRegisterBurstReachesTheSinkInOneCall) {
  int calls = 0;
  std::string text;
  auto uart = std::make_shared<Serial16550>(irq_, [&](std::span<const std::byte> bytes) {
    ++calls;
    for (auto b : bytes) text += static_cast<char>(b);
  });
  const std::string burst = "hello, world\n";
  uart->write_data_register(std::as_bytes(std::span(burst.data(), burst.size())));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(text, burst);

  const std::array<std::byte, 1> dlab{std::byte{kLcrDlab}};
  uart->write(kLcr, dlab);
  const std::array<std::byte, 1> divisor{std::byte{0x01}};
  uart->write_data_register(divisor);
  EXPECT_EQ(calls, 1);
  std::array<std::byte, 1> dll{};
  uart->read(kDll, dll);
  EXPECT_EQ(dll[0], std::byte{0x01});
}

TEST_F(Serial16550Test, ConcurrentInputAndOutputLoseNothing) {
  std::string input(20000, '\0');
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<char>('a' + i % 26);
  std::thread host([&] {
    std::span<const char> rest(input);
    while (!rest.empty()) {
      size_t n = uart_->enqueue_input(std::as_bytes(rest.first(std::min<size_t>(rest.size(), 97))));
      rest = rest.subspan(n);
      if (n == 0) std::this_thread::yield();
    }
  });
  out(kFcr, 0x07);
  out(kMcr, kMcrOut2);
  out(kIer, kIerRda | kIerThre);
  std::string received;
  size_t transmitted = 0;
  for (size_t rounds = 0; transmitted < 30000 || received.size() < input.size(); ++rounds) {
    ASSERT_LT(rounds, 100'000'000u);
    uint8_t id = in(kIir)&0x0F;
    if (id == 0x02) {
      for (int i = 0; i < 16 && transmitted < 30000; ++i)
        out(kThr, static_cast<uint8_t>('0' + transmitted++ % 10));
      if (transmitted == 30000) out(kIer, kIerRda);
    } else if (id == 0x04 || id == 0x0C) {
      while (in(kLsr)&kLsrDr) received.push_back(static_cast<char>(in(kRbr)));
    } else {
      ASSERT_EQ(id, 0x01);
      std::this_thread::yield();
    }
  }
  host.join();
  EXPECT_EQ(received, input);
  std::vector<uint8_t> out_bytes = sent();
  ASSERT_EQ(out_bytes.size(), 30000u);
  for (size_t i = 0; i < out_bytes.size(); ++i) ASSERT_EQ(out_bytes[i], '0' + i % 10);
}

TEST_F(Serial16550Test, RandomRegisterTrafficNeverBreaksTheModel) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    uint64_t reg = rng() % 8;
    if (rng() % 2)
      out(reg, static_cast<uint8_t>(rng()));
    else
      in(reg);
    if (i % 1000 == 0) send_to_guest("xyz");
  }
  // Still a working UART afterwards.
  out(kLcr, kLcr8N1);
  out(kMcr, 0);
  out(kFcr, 0x07);
  out(kFcr, 0);
  while (in(kLsr)&kLsrDr) in(kRbr);
  size_t already = sent().size();
  out(kThr, '#');
  EXPECT_EQ(sent().size(), already + 1);
  EXPECT_EQ(sent().back(), '#');
}

}  // namespace
