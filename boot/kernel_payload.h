// The compressed kernel inside a bzImage (boot.rst: payload_offset, payload_length), unpacked on
// the host. A bzImage's protected-mode code is the kernel's own decompressor; unpacking the ELF
// vmlinux here and entering it directly skips that step, which costs the guest seconds when its
// instructions are slow (nested or emulated KVM) and repeats on every boot. The trade: the
// decompressor is also what randomises the kernel's address (KASLR), so a kernel booted this way
// runs where it was linked, as with `nokaslr`.
//
// The payload is untrusted input: its declared size is bounded before anything is allocated, and
// a stream that ends early, runs long or is corrupt is an error naming the format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "boot/bzimage.h"

namespace boot {

// No kernel that boots in a sensible guest unpacks to more than this.
inline constexpr size_t kMaxUnpackedKernel = size_t{1} << 30;

// The payload's compression, from its magic bytes; nullopt for one we do not unpack (bzip2,
// lzma, lzo, lz4: the guest's decompressor still handles those).
enum class PayloadFormat { kGzip, kXz, kZstd };
std::optional<PayloadFormat> payload_format(std::span<const std::byte> payload);
std::string_view format_name(PayloadFormat format);

// The payload's bytes within the bzImage's protected-mode code (parse_bzimage checked they lie
// inside it).
std::span<const std::byte> payload_of(const BzImage& kernel);

// The unpacked size the kernel's build appends after the compressed stream (32 bits, little
// endian); nullopt when the payload is too short to hold a stream and the size.
std::optional<uint32_t> declared_size(std::span<const std::byte> payload);

// Unpacks a payload in `format`. The kernel's build appends the unpacked size as a 32-bit
// little-endian number after the compressed stream; the output must have exactly that size.
// Throws std::runtime_error("kernel: ...") on a corrupt, truncated or oversized payload.
std::vector<std::byte> unpack_payload(std::span<const std::byte> payload, PayloadFormat format);

}  // namespace boot
