#include "devices/ide/identify.h"

#include <algorithm>

#include "devices/ide/ata.h"

namespace devices::ide {
namespace {

using Words = std::array<uint16_t, 256>;

// ATA strings put the first character of each pair in the high byte of the word and are padded
// with spaces (ATA8-ACS section 3.3.10).
void put_string(Words& w, size_t first_word, size_t words, std::string_view s) {
  for (size_t i = 0; i < words; ++i) {
    const char hi = 2 * i < s.size() ? s[2 * i] : ' ';
    const char lo = 2 * i + 1 < s.size() ? s[2 * i + 1] : ' ';
    w[first_word + i] =
        static_cast<uint16_t>(static_cast<uint8_t>(hi) << 8 | static_cast<uint8_t>(lo));
  }
}

void put_common(Words& w, std::string_view serial, std::string_view model, TransferMode mode) {
  put_string(w, 10, 10, serial);
  put_string(w, 23, 4, kFirmwareRevision);
  put_string(w, 27, 20, model);
  w[49] = 1u << 9 | 1u << 8;  // LBA and DMA supported
  w[51] = 0x200;              // PIO timing mode 2 (obsolete field, kept for old drivers)
  w[53] = 1u << 2 | 1u << 1;  // words 88 and 64-70 are valid
  // Word 63: multiword DMA modes supported (bits 2:0) and the one selected (bits 10:8).
  w[63] = (1u << (kMaxMwdmaMode + 1)) - 1;
  if (mode.mwdma) w[63] |= static_cast<uint16_t>(1u << (8 + *mode.mwdma));
  w[64] = 0x3;  // PIO modes 3 and 4 besides 0-2
  w[65] = 120;  // minimum multiword DMA cycle time (ns)
  w[66] = 120;  // recommended multiword DMA cycle time
  w[67] = 120;  // minimum PIO cycle time without flow control
  w[68] = 120;  // with IORDY flow control
  // Word 88: Ultra DMA modes supported (bits 6:0) and selected (bits 14:8).
  w[88] = (1u << (kMaxUdmaMode + 1)) - 1;
  if (mode.udma) w[88] |= static_cast<uint16_t>(1u << (8 + *mode.udma));
  // Word 93: hardware reset result, bit 14 set as required, bit 13: an 80-conductor cable.
  w[93] = 1u << 14 | 1u << 13;
}

IdentifyData to_bytes(const Words& w) {
  IdentifyData out;
  for (size_t i = 0; i < w.size(); ++i) {
    out[2 * i] = static_cast<std::byte>(w[i] & 0xff);
    out[2 * i + 1] = static_cast<std::byte>(w[i] >> 8);
  }
  return out;
}

}  // namespace

IdentifyData identify_disk(const DiskIdentity& id) {
  Words w{};
  w[0] = 1u << 6;  // fixed (not removable) ATA device
  // Legacy CHS geometry (words 1, 3, 6, 54-58): 16 heads, 63 sectors per track.
  constexpr uint64_t kHeads = 16, kSectorsPerTrack = 63;
  const uint64_t cylinders = std::min<uint64_t>(id.sectors / (kHeads * kSectorsPerTrack), 16383);
  w[1] = static_cast<uint16_t>(cylinders);
  w[3] = kHeads;
  w[6] = kSectorsPerTrack;
  put_common(w, id.serial, id.model, id.mode);
  w[47] = 0x8000 | kMaxMultipleSectors;
  w[53] |= 1u << 0;  // words 54-58 are valid
  w[54] = static_cast<uint16_t>(cylinders);
  w[55] = kHeads;
  w[56] = kSectorsPerTrack;
  const uint64_t chs_sectors = cylinders * kHeads * kSectorsPerTrack;
  w[57] = static_cast<uint16_t>(chs_sectors);
  w[58] = static_cast<uint16_t>(chs_sectors >> 16);
  w[59] = static_cast<uint16_t>(id.multiple == 0 ? 0 : 0x100 | id.multiple);
  // Words 60-61: sectors addressable with 28-bit commands, capped at 2^28 - 1 (section 7.16.7.22).
  const uint64_t lba28 = std::min<uint64_t>(id.sectors, 0x0fffffff);
  w[60] = static_cast<uint16_t>(lba28);
  w[61] = static_cast<uint16_t>(lba28 >> 16);
  w[80] = 0xf0;  // ATA/ATAPI-4 to -7
  // Words 82-87: command sets supported (82-84) and enabled (85-87). Bit 14 of 83/84/86(87)
  // must be one. 82: write cache (5), power management (3). 83: FLUSH CACHE EXT (13),
  // FLUSH CACHE (12), 48-bit addressing (10).
  w[82] = 1u << 5 | 1u << 3;
  w[83] = 1u << 14 | 1u << 13 | 1u << 12 | 1u << 10;
  w[84] = 1u << 14;
  w[85] = static_cast<uint16_t>((id.write_cache ? 1u << 5 : 0) | 1u << 3);
  w[86] = 1u << 13 | 1u << 12 | 1u << 10;
  w[87] = 1u << 14;
  // Words 100-103: sectors addressable with 48-bit commands.
  for (int i = 0; i < 4; ++i) w[100 + i] = static_cast<uint16_t>(id.sectors >> (16 * i));
  w[106] = 1u << 14;  // word valid; one 512-byte logical sector per physical sector
  return to_bytes(w);
}

IdentifyData identify_packet(const PacketIdentity& id) {
  Words w{};
  // Word 0 (section 7.17.7.1): ATAPI (10b), CD-ROM device type 5, removable, DRQ within 50 us
  // of the PACKET command (10b), 12-byte packets (00b).
  w[0] = 2u << 14 | 5u << 8 | 1u << 7 | 2u << 5;
  put_common(w, id.serial, id.model, id.mode);
  w[71] = 30;       // typical time (ns) from PACKET to release of the bus
  w[72] = 30;       // typical time from SERVICE to clearing BSY
  w[80] = 0x1e;     // ATA/ATAPI-1 to -4
  w[82] = 1u << 4;  // PACKET feature set
  w[83] = 1u << 14;
  w[84] = 1u << 14;
  w[85] = 1u << 4;
  w[87] = 1u << 14;
  return to_bytes(w);
}

}  // namespace devices::ide
