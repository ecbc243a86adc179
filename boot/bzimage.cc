#include "boot/bzimage.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace boot {
namespace {

// File offsets of the real-mode kernel header (boot.rst, "The Real-Mode Kernel Header").
constexpr size_t kHeaderOffset = 0x1f1;    // setup_sects, the first header field
constexpr size_t kBootFlagOffset = 0x1fe;  // 0xAA55
constexpr size_t kJumpOffset = 0x200;      // 0xEB, then a signed offset relative to 0x202
constexpr size_t kMagicOffset = 0x202;     // "HdrS"
constexpr size_t kVersionOffset = 0x206;   // (major << 8) | minor
constexpr size_t kSectorSize = 512;        // "a sector" in the boot protocol, whatever the medium
constexpr uint8_t kDefaultSetupSects = 4;  // setup_sects == 0 means 4 (boot.rst note (1))
constexpr uint16_t kBootFlag = 0xaa55;
constexpr uint32_t kHdrSMagic = 0x53726448;  // "HdrS" read little-endian
constexpr uint8_t kShortJump = 0xeb;

// The last field we rely on is init_size (2.10+); a header declaring less cannot be a 2.12 one.
constexpr size_t kMinHeaderEnd = kHeaderOffset + offsetof(setup_header, init_size) + 4;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("kernel: " + what); }

// Reads a little-endian T at `offset` (x86 hosts only, so a plain copy is little-endian).
template <class T>
T read_at(std::span<const std::byte> image, size_t offset, const char* field) {
  if (offset > image.size() || image.size() - offset < sizeof(T))
    fail(fmt::format("file truncated ({} bytes) before the {} field at 0x{:x}", image.size(), field,
                     offset));
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(T));
  return value;
}

std::string version_string(uint16_t version) {
  return fmt::format("{}.{:02}", version >> 8, version & 0xff);
}

}  // namespace

BzImage parse_bzimage(std::span<const std::byte> image) {
  if (read_at<uint16_t>(image, kBootFlagOffset, "boot_flag") != kBootFlag)
    fail("not a bzImage (no 0xAA55 boot sector signature)");
  if (read_at<uint32_t>(image, kMagicOffset, "header") != kHdrSMagic)
    fail("not a bzImage (no HdrS magic)");
  uint16_t version = read_at<uint16_t>(image, kVersionOffset, "version");
  if (version < kMinBootProtocol)
    fail(fmt::format("boot protocol {} too old, need {}", version_string(version),
                     version_string(kMinBootProtocol)));

  // The jump at 0x200 doubles as the header length: the header ends where the jump lands.
  if (read_at<uint8_t>(image, kJumpOffset, "jump") != kShortJump)
    fail("setup header has no short jump at 0x200");
  auto jump = static_cast<int8_t>(read_at<uint8_t>(image, kJumpOffset + 1, "jump"));
  if (jump < 0 || kMagicOffset + static_cast<size_t>(jump) < kMinHeaderEnd)
    fail(fmt::format("setup header length {} is too short for protocol {}", jump,
                     version_string(version)));
  size_t header_end = kMagicOffset + static_cast<size_t>(jump);
  if (header_end > image.size())
    fail(fmt::format("file truncated ({} bytes) inside the setup header ending at 0x{:x}",
                     image.size(), header_end));

  BzImage bz;
  bz.header_bytes = image.subspan(kHeaderOffset, header_end - kHeaderOffset);
  // A newer kernel may declare a longer header than our struct knows; copy what we understand.
  std::memcpy(&bz.header, bz.header_bytes.data(),
              std::min(bz.header_bytes.size(), sizeof(setup_header)));
  const setup_header& h = bz.header;

  if ((h.loadflags & LOADED_HIGH) == 0)
    fail("not a bzImage (loadflags LOADED_HIGH clear: a zImage loads at 0x10000)");
  if ((h.xloadflags & XLF_KERNEL_64) == 0)
    fail("no 64-bit entry point (xloadflags lacks XLF_KERNEL_64)");

  uint64_t setup_sects = h.setup_sects == 0 ? kDefaultSetupSects : h.setup_sects;
  uint64_t setup_size = (setup_sects + 1) * kSectorSize;
  if (setup_size >= image.size())
    fail(
        fmt::format("setup_sects {} puts the protected-mode code at 0x{:x}, past the end of the "
                    "{}-byte file",
                    h.setup_sects, setup_size, image.size()));
  // syssize is 32-bit from protocol 2.04 on, so the product cannot overflow 64 bits.
  uint64_t code_size = uint64_t{h.syssize} * 16;
  if (code_size == 0) fail("syssize is 0 (no protected-mode code)");
  if (code_size > image.size() - setup_size)
    fail(
        fmt::format("file truncated: syssize says {} bytes of protected-mode code at 0x{:x}, "
                    "the file has {}",
                    code_size, setup_size, image.size() - setup_size));
  if (uint64_t{h.payload_offset} + h.payload_length > code_size)
    fail(
        fmt::format("payload (offset 0x{:x}, length 0x{:x}) lies outside the {}-byte "
                    "protected-mode code",
                    uint32_t{h.payload_offset}, uint32_t{h.payload_length}, code_size));
  if (h.init_size == 0) fail("init_size is 0");
  uint32_t alignment = h.kernel_alignment;
  if (h.relocatable_kernel != 0 && (alignment == 0 || (alignment & (alignment - 1)) != 0))
    fail(fmt::format("kernel_alignment 0x{:x} is not a power of two", alignment));

  bz.protected_mode = image.subspan(setup_size, code_size);
  return bz;
}

}  // namespace boot
