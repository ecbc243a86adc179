// Parsing and validation of a Linux bzImage (Documentation/arch/x86/boot.rst, "The Real-Mode
// Kernel Header" and "Loading The Rest of The Kernel").
//
// The image file is untrusted input: every offset and size it declares is checked against the
// file before any byte behind it is touched, and each failure is a std::runtime_error whose
// message starts with "kernel: " and names the field that was wrong.
#pragma once

#include <asm/bootparam.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace boot {

// The oldest boot protocol we load: 2.12 introduced xloadflags, whose XLF_KERNEL_64 bit promises
// the 64-bit entry point at load address + 0x200 that we jump to.
inline constexpr uint16_t kMinBootProtocol = 0x020c;

// A validated view of a bzImage. The spans point into the caller's buffer, which must outlive it.
struct BzImage {
  // The setup header as the image declares it. Fields past the end the kernel declares (an older
  // but supported protocol) are zero. setup_sects is as in the file (0 is not replaced by 4).
  setup_header header{};
  // The header bytes exactly as the kernel defines them: file offsets 0x1f1 up to
  // 0x202 + (byte at 0x201), what a 64-bit boot loader copies into boot_params.hdr.
  std::span<const std::byte> header_bytes;
  // The protected-mode code (syssize * 16 bytes from file offset (setup_sects + 1) * 512), which
  // is loaded at 1 MiB. Anything after it in the file (a Secure Boot signature) is not part of it.
  std::span<const std::byte> protected_mode;
};

// Parses `image` and checks it is a bzImage we can enter in 64-bit mode: boot sector signature,
// "HdrS" magic, protocol >= 2.12, LOADED_HIGH, XLF_KERNEL_64, a setup area and protected-mode
// code inside the file, the compressed payload inside the protected-mode code, a non-zero
// init_size and, for a relocatable kernel, a power-of-two kernel_alignment.
BzImage parse_bzimage(std::span<const std::byte> image);

}  // namespace boot
