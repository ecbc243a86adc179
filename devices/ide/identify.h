// The 512-byte IDENTIFY DEVICE and IDENTIFY PACKET DEVICE data blocks (ATA8-ACS sections 7.16
// and 7.17), built from a drive's fixed identity and its current settings.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace devices::ide {

// The DMA mode SET FEATURES selected last (at most one of the two is set).
struct TransferMode {
  std::optional<uint8_t> mwdma;  // 0..2
  std::optional<uint8_t> udma;   // 0..5
};

// The modes the drives report: PIO 0-4, multiword DMA 0-2, Ultra DMA 0-5.
inline constexpr uint8_t kMaxMwdmaMode = 2;
inline constexpr uint8_t kMaxUdmaMode = 5;
inline constexpr uint8_t kMaxPioMode = 4;

struct DiskIdentity {
  std::string_view serial;
  std::string_view model;
  uint64_t sectors = 0;  // capacity in 512-byte sectors
  uint8_t multiple = 0;  // current READ/WRITE MULTIPLE block (0: disabled)
  bool write_cache = true;
  TransferMode mode;
};

struct PacketIdentity {
  std::string_view serial;
  std::string_view model;
  TransferMode mode;
};

using IdentifyData = std::array<std::byte, 512>;

IdentifyData identify_disk(const DiskIdentity& id);
IdentifyData identify_packet(const PacketIdentity& id);

// The firmware revision both report (words 23-26).
inline constexpr std::string_view kFirmwareRevision = "0.1";

}  // namespace devices::ide
