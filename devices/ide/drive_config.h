// What the VMM attaches to one position (channel, unit) of the IDE controller.
#pragma once

#include <memory>
#include <string>

#include "devices/block/block_device.h"

namespace devices::ide {

enum class DriveKind { kHardDisk, kCdRom };

struct DriveConfig {
  DriveKind kind = DriveKind::kHardDisk;
  // Null only for a CD-ROM with an empty tray. A disk's size is used in whole 512-byte sectors, a
  // CD's in whole 2048-byte blocks.
  std::shared_ptr<block::BlockDevice> block;
  // A CD is always read-only; a disk refuses writes with ABRT when this or the image says so.
  bool read_only = false;
  std::string serial;  // IDENTIFY words 10-19: up to 20 ASCII characters
  std::string model;   // IDENTIFY words 27-46: up to 40 ASCII characters
};

}  // namespace devices::ide
