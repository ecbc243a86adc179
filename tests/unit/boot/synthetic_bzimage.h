// Builds small bzImage files for the boot tests: a boot sector and setup header of our making
// (Documentation/arch/x86/boot.rst layout) followed by recognisable protected-mode code.
#pragma once

#include <asm/bootparam.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace boot_test {

// Marker bytes the builder leaves around the header, so tests can see what a loader copies.
inline constexpr std::byte kSentinelMarker{0xff};    // at 0x1ef, as real kernels have it
inline constexpr std::byte kPastHeaderMarker{0xcc};  // the first byte after the declared header

struct SyntheticKernel {
  uint8_t setup_sects = 4;
  uint16_t version = 0x020f;
  uint8_t loadflags = LOADED_HIGH;
  uint16_t xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
  uint8_t relocatable_kernel = 1;
  uint32_t kernel_alignment = 0x200000;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x800000;
  uint32_t cmdline_size = 255;
  uint32_t initrd_addr_max = 0x7fffffff;
  uint32_t code_size = 0x3000;  // a multiple of 16: syssize counts 16-byte paragraphs
  uint32_t payload_offset = 0x100;
  uint32_t payload_length = 0x1000;
  uint8_t jump_opcode = 0xeb;
  uint8_t header_length = 0x6a;  // the byte at 0x201: the header ends at 0x202 + this (0x26c)
  uint16_t boot_flag = 0xaa55;
  uint32_t magic = 0x53726448;  // "HdrS"

  // File offset of the protected-mode code.
  size_t code_offset() const { return (size_t{setup_sects == 0 ? 4u : setup_sects} + 1) * 512; }

  // The byte at offset i of the protected-mode code: never zero, and varying.
  static std::byte code_byte(size_t i) { return std::byte(1 + (i * 7 + i / 251) % 255); }

  std::vector<std::byte> build() const {
    std::vector<std::byte> image(code_offset() + code_size);
    setup_header h{};
    h.setup_sects = setup_sects;
    h.syssize = code_size / 16;
    h.boot_flag = boot_flag;
    h.jump = static_cast<uint16_t>(jump_opcode | (header_length << 8));
    h.header = magic;
    h.version = version;
    h.loadflags = loadflags;
    h.initrd_addr_max = initrd_addr_max;
    h.kernel_alignment = kernel_alignment;
    h.relocatable_kernel = relocatable_kernel;
    h.min_alignment = 21;
    h.xloadflags = xloadflags;
    h.cmdline_size = cmdline_size;
    h.payload_offset = payload_offset;
    h.payload_length = payload_length;
    h.pref_address = pref_address;
    h.init_size = init_size;
    std::memcpy(image.data() + 0x1f1, &h, sizeof(h));
    image[0x1ef] = kSentinelMarker;
    size_t header_end = 0x202 + header_length;
    if (header_end < image.size()) image[header_end] = kPastHeaderMarker;
    for (size_t i = 0; i < code_size; ++i) image[code_offset() + i] = code_byte(i);
    return image;
  }
};

}  // namespace boot_test
