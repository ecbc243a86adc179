// Drives a Piix3Ide through its ports as a guest driver would: real BlockDevice objects over
// temporary raw files, fake guest RAM, recording interrupt lines.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "devices/block/block_device.h"
#include "devices/block/open_image.h"
#include "devices/ide/ata.h"
#include "devices/ide/piix3_ide.h"
#include "tests/unit/fakes/fake_guest_memory.h"
#include "tests/unit/fakes/fake_interrupt_line.h"

namespace ide_test {

using devices::ide::Piix3Ide;

class TempFile {
 public:
  // A file of `size` bytes whose byte i is pattern_byte(i).
  explicit TempFile(uint64_t size) {
    const char* base = std::getenv("TMPDIR");
    path_ = std::string(base != nullptr ? base : "/tmp") + "/minivmm-ide-XXXXXX";
    const int fd = mkstemp(path_.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    close(fd);
    std::vector<char> bytes(size);
    for (uint64_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(pattern_byte(i));
    std::ofstream(path_, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(size));
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }
  static uint8_t pattern_byte(uint64_t i) { return static_cast<uint8_t>(i * 7 + i / 512); }

 private:
  std::string path_;
};

inline std::shared_ptr<devices::block::BlockDevice> open_block(const std::string& path,
                                                               bool read_only = false) {
  return std::make_shared<devices::block::BlockDevice>(
      devices::block::open_image(path, {"raw", read_only, devices::block::CacheMode::kWriteback}));
}

class Harness {
 public:
  static constexpr uint64_t kRamSize = 4 << 20;
  static constexpr uint32_t kBmBase = 0;  // offsets into BAR4

  explicit Harness(Piix3Ide::Drives drives)
      : ram_(kRamSize), ide_(ram_.memory(), primary_, secondary_, std::move(drives)) {}

  void outb(int ch, uint64_t reg, uint8_t v) {
    const std::byte b{v};
    ide_.command_block(ch)->write(reg, std::span(&b, 1));
  }
  uint8_t inb(int ch, uint64_t reg) {
    std::byte b{};
    ide_.command_block(ch)->read(reg, std::span(&b, 1));
    return static_cast<uint8_t>(b);
  }
  uint16_t inw(int ch) {
    std::byte b[2];
    ide_.command_block(ch)->read(devices::ide::kRegData, b);
    return static_cast<uint16_t>(static_cast<uint8_t>(b[0]) | static_cast<uint8_t>(b[1]) << 8);
  }
  void outw(int ch, uint16_t v) {
    const std::byte b[2] = {std::byte(v & 0xff), std::byte(v >> 8)};
    ide_.command_block(ch)->write(devices::ide::kRegData, b);
  }
  uint8_t alt_status(int ch) {
    std::byte b{};
    ide_.control_block(ch)->read(0, std::span(&b, 1));
    return static_cast<uint8_t>(b);
  }
  void control(int ch, uint8_t v) {
    const std::byte b{v};
    ide_.control_block(ch)->write(0, std::span(&b, 1));
  }
  uint8_t bm_in(int ch, uint64_t reg) {
    std::byte b{};
    ide_.bar_read(Piix3Ide::kBusMasterBar, 8 * ch + reg, std::span(&b, 1));
    return static_cast<uint8_t>(b);
  }
  void bm_out(int ch, uint64_t reg, uint8_t v) {
    const std::byte b{v};
    ide_.bar_write(Piix3Ide::kBusMasterBar, 8 * ch + reg, std::span(&b, 1));
  }
  void bm_prd(int ch, uint32_t table) {
    std::byte b[4];
    for (int i = 0; i < 4; ++i) b[i] = std::byte(table >> (8 * i));
    ide_.bar_write(Piix3Ide::kBusMasterBar, 8 * ch + 4, b);
  }

  // Polls the alternate status until BSY clears (the guest's loop), bounded by 10 s.
  uint8_t wait_ready(int ch) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    uint8_t s;
    while (((s = alt_status(ch)) & devices::ide::kStatusBsy) != 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "BSY never cleared";
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return s;
  }

  // Selects `unit`, loads an LBA28 address and count, issues `cmd`.
  void ata28(int ch, int unit, uint8_t cmd, uint32_t lba, uint8_t count, uint8_t feature = 0) {
    outb(ch, devices::ide::kRegDevice,
         static_cast<uint8_t>(0xe0 | unit << 4 | ((lba >> 24) & 0x0f)));
    outb(ch, devices::ide::kRegErrorFeature, feature);
    outb(ch, devices::ide::kRegCount, count);
    outb(ch, devices::ide::kRegLbaLow, static_cast<uint8_t>(lba));
    outb(ch, devices::ide::kRegLbaMid, static_cast<uint8_t>(lba >> 8));
    outb(ch, devices::ide::kRegLbaHigh, static_cast<uint8_t>(lba >> 16));
    outb(ch, devices::ide::kRegStatusCommand, cmd);
  }
  void ata48(int ch, int unit, uint8_t cmd, uint64_t lba, uint16_t count) {
    outb(ch, devices::ide::kRegDevice, static_cast<uint8_t>(0x40 | unit << 4));
    outb(ch, devices::ide::kRegCount, static_cast<uint8_t>(count >> 8));
    outb(ch, devices::ide::kRegLbaLow, static_cast<uint8_t>(lba >> 24));
    outb(ch, devices::ide::kRegLbaMid, static_cast<uint8_t>(lba >> 32));
    outb(ch, devices::ide::kRegLbaHigh, static_cast<uint8_t>(lba >> 40));
    outb(ch, devices::ide::kRegCount, static_cast<uint8_t>(count));
    outb(ch, devices::ide::kRegLbaLow, static_cast<uint8_t>(lba));
    outb(ch, devices::ide::kRegLbaMid, static_cast<uint8_t>(lba >> 8));
    outb(ch, devices::ide::kRegLbaHigh, static_cast<uint8_t>(lba >> 16));
    outb(ch, devices::ide::kRegStatusCommand, cmd);
  }

  // Reads `words` 16-bit words from the data port.
  std::vector<uint8_t> read_data(int ch, size_t bytes) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < bytes; i += 2) {
      const uint16_t w = inw(ch);
      out.push_back(static_cast<uint8_t>(w));
      out.push_back(static_cast<uint8_t>(w >> 8));
    }
    return out;
  }

  // Writes one PRD entry at guest address `at`.
  void put_prd(uint64_t at, uint32_t address, uint32_t count, bool eot) {
    const uint64_t entry =
        uint64_t{address} | uint64_t{count & 0xffff} << 32 | (eot ? uint64_t{1} << 63 : 0);
    ASSERT_TRUE(ram_.memory().write_obj(at, entry));
  }

  fakes::FakeGuestMemory& ram() { return ram_; }
  fakes::FakeInterruptLine& irq(int ch) { return ch == 0 ? primary_ : secondary_; }
  Piix3Ide& ide() { return ide_; }

 private:
  fakes::FakeGuestMemory ram_;
  fakes::FakeInterruptLine primary_, secondary_;
  Piix3Ide ide_;
};

inline devices::ide::DriveConfig disk(std::shared_ptr<devices::block::BlockDevice> block,
                                      bool read_only = false) {
  return {devices::ide::DriveKind::kHardDisk, std::move(block), read_only, "SN-0001",
          "MINIVMM HARDDISK"};
}
inline devices::ide::DriveConfig cdrom(std::shared_ptr<devices::block::BlockDevice> block) {
  return {devices::ide::DriveKind::kCdRom, std::move(block), true, "SN-CD01", "MINIVMM DVD-ROM"};
}

}  // namespace ide_test
