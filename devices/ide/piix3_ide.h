// The PIIX3 IDE function (82371SB function 1) at 00:01.1 in legacy mode: two channels at the
// fixed ISA ports and IRQs, and the bus-master registers behind BAR4.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "devices/bus/bus.h"
#include "devices/ide/drive_config.h"
#include "devices/ide/ide_channel.h"
#include "devices/interrupt_line.h"
#include "devices/pci/pci_device.h"
#include "memory/guest_memory.h"

namespace devices::ide {

// 8086:7010, class 01 01 80 (IDE, legacy-mode channels, bus master), revision 0.
//
// The legacy ports do not move: the VMM inserts command_block(c) at kCommandBase[c] (8 ports)
// and control_block(c) at kControlBase[c] (1 port) on the PIO bus. BAR4 is a 16-byte I/O BAR
// (primary channel at +0, secondary at +8) that PciRoot maps once it is programmed. Without a
// BIOS the IDE decode enables (IDETIM bit 15, config 0x40 and 0x42) are preset, as SeaBIOS
// does, because Linux's ata_piix treats a channel without them as disabled.
class Piix3Ide : public pci::PciDevice {
 public:
  static constexpr uint8_t kDevice = 1;
  static constexpr uint8_t kFunction = 1;
  static constexpr std::array<uint16_t, 2> kCommandBase = {0x1f0, 0x170};
  static constexpr std::array<uint16_t, 2> kControlBase = {0x3f6, 0x376};
  static constexpr uint64_t kCommandPorts = 8;
  static constexpr uint64_t kControlPorts = 1;
  static constexpr std::array<uint8_t, 2> kIrq = {14, 15};
  static constexpr int kBusMasterBar = 4;
  static constexpr uint64_t kBusMasterSize = 16;
  static constexpr uint8_t kIdeTiming = 0x40;  // IDETIM primary 0x40, secondary 0x42

  // drives[channel][unit]; nullopt for an absent device. `memory` and the lines must outlive
  // this object. Throws std::invalid_argument for a disk without an image.
  using Drives = std::array<std::array<std::optional<DriveConfig>, 2>, 2>;
  Piix3Ide(const memory::GuestMemory& memory, InterruptLine& primary_irq,
           InterruptLine& secondary_irq, Drives drives);

  std::shared_ptr<BusDevice> command_block(int channel) const { return command_[channel]; }
  std::shared_ptr<BusDevice> control_block(int channel) const { return control_[channel]; }

  void bar_read(int bar, uint64_t offset, std::span<std::byte> data) override;
  void bar_write(int bar, uint64_t offset, std::span<const std::byte> data) override;

  // Waits for every disk request in flight (before the guest memory goes away).
  void drain();

 private:
  std::array<std::shared_ptr<IdeChannel>, 2> channels_;
  std::array<std::shared_ptr<BusDevice>, 2> command_;
  std::array<std::shared_ptr<BusDevice>, 2> control_;
};

}  // namespace devices::ide
