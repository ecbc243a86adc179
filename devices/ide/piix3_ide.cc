#include "devices/ide/piix3_ide.h"

#include <string>

namespace devices::ide {
namespace {

pci::ConfigSpace make_config() {
  pci::ConfigSpace c(0x8086, 0x7010, 0x010180, 0x00);
  c.define_bar(Piix3Ide::kBusMasterBar, pci::BarKind::kIo, Piix3Ide::kBusMasterSize);
  // IDETIM (82371SB datasheet section 2.3.5): bit 15 enables the channel's decode; the timing
  // fields are guest-programmable and have no effect here. SIDETIM (0x44) likewise.
  for (uint8_t ch = 0; ch < 2; ++ch) {
    c.set_u16(Piix3Ide::kIdeTiming + 2 * ch, 0x8000);
    c.set_writable(Piix3Ide::kIdeTiming + 2 * ch, 2, 0xffff);
  }
  c.set_writable(0x44, 1, 0xff);
  return c;
}

class CommandBlock : public BusDevice {
 public:
  explicit CommandBlock(std::shared_ptr<IdeChannel> channel) : channel_(std::move(channel)) {}
  void read(uint64_t offset, std::span<std::byte> data) override {
    channel_->command_read(offset, data);
  }
  void write(uint64_t offset, std::span<const std::byte> data) override {
    channel_->command_write(offset, data);
  }

 private:
  const std::shared_ptr<IdeChannel> channel_;
};

class ControlBlock : public BusDevice {
 public:
  explicit ControlBlock(std::shared_ptr<IdeChannel> channel) : channel_(std::move(channel)) {}
  void read(uint64_t, std::span<std::byte> data) override {
    const auto status = std::byte{channel_->alternate_status()};
    for (auto& b : data) b = status;
  }
  void write(uint64_t, std::span<const std::byte> data) override {
    if (!data.empty()) channel_->device_control(static_cast<uint8_t>(data[0]));
  }

 private:
  const std::shared_ptr<IdeChannel> channel_;
};

}  // namespace

Piix3Ide::Piix3Ide(const memory::GuestMemory& memory, InterruptLine& primary_irq,
                   InterruptLine& secondary_irq, Drives drives)
    : PciDevice(make_config()) {
  InterruptLine* lines[2] = {&primary_irq, &secondary_irq};
  for (int ch = 0; ch < 2; ++ch) {
    channels_[ch] = std::make_shared<IdeChannel>("ide." + std::to_string(ch), memory, *lines[ch],
                                                 std::move(drives[ch]));
    command_[ch] = std::make_shared<CommandBlock>(channels_[ch]);
    control_[ch] = std::make_shared<ControlBlock>(channels_[ch]);
  }
}

// Each byte of BAR4 belongs to one channel's bus-master register block (SFF-8038i table 1-2).
void Piix3Ide::bar_read(int bar, uint64_t offset, std::span<std::byte> data) {
  if (bar != kBusMasterBar) return PciDevice::bar_read(bar, offset, data);
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t at = offset + i;
    data[i] = std::byte{channels_[at / 8]->bus_master_read(at % 8)};
  }
}

void Piix3Ide::bar_write(int bar, uint64_t offset, std::span<const std::byte> data) {
  if (bar != kBusMasterBar) return;
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t at = offset + i;
    channels_[at / 8]->bus_master_write(at % 8, static_cast<uint8_t>(data[i]));
  }
}

void Piix3Ide::drain() {
  for (auto& c : channels_) c->drain();
}

}  // namespace devices::ide
