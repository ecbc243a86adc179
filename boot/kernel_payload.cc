#include "boot/kernel_payload.h"

#include <lzma.h>
#include <spdlog/fmt/fmt.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

namespace boot {
namespace {

constexpr size_t kSizeTrailer = 4;  // the unpacked size the kernel's build appends

constexpr std::array<unsigned char, 2> kGzipMagic = {0x1f, 0x8b};
constexpr std::array<unsigned char, 6> kXzMagic = {0xfd, '7', 'z', 'X', 'Z', 0x00};
constexpr std::array<unsigned char, 4> kZstdMagic = {0x28, 0xb5, 0x2f, 0xfd};

template <size_t N>
bool starts_with(std::span<const std::byte> data, const std::array<unsigned char, N>& magic) {
  return data.size() >= N && std::memcmp(data.data(), magic.data(), N) == 0;
}

[[noreturn]] void fail(PayloadFormat format, const std::string& what) {
  throw std::runtime_error(
      fmt::format("kernel: cannot unpack the bzImage's {} payload: {}", format_name(format), what));
}

void unpack_gzip(std::span<const std::byte> in, std::vector<std::byte>& out) {
  z_stream s{};
  // 16 + MAX_WBITS: a gzip wrapper (RFC 1952) around the deflate stream, nothing else.
  if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) fail(PayloadFormat::kGzip, "inflateInit2 failed");
  s.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&s, Z_FINISH);
  const size_t produced = out.size() - s.avail_out;
  inflateEnd(&s);
  if (rc != Z_STREAM_END && s.avail_out == 0)
    fail(PayloadFormat::kGzip,
         fmt::format("it unpacks to more than the {} bytes it declares", out.size()));
  if (rc != Z_STREAM_END)
    fail(PayloadFormat::kGzip, fmt::format("corrupt or truncated stream after {} bytes ({})",
                                           produced, s.msg ? s.msg : zError(rc)));
  out.resize(produced);
}

void unpack_xz(std::span<const std::byte> in, std::vector<std::byte>& out) {
  lzma_stream s = LZMA_STREAM_INIT;
  // No memory limit beyond the format's own: the kernel's streams use a 32 MiB dictionary.
  if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
    fail(PayloadFormat::kXz, "lzma_stream_decoder failed");
  s.next_in = reinterpret_cast<const uint8_t*>(in.data());
  s.avail_in = in.size();
  s.next_out = reinterpret_cast<uint8_t*>(out.data());
  s.avail_out = out.size();
  const lzma_ret rc = lzma_code(&s, LZMA_FINISH);
  const size_t produced = out.size() - s.avail_out;
  lzma_end(&s);
  if (rc != LZMA_STREAM_END && s.avail_out == 0)
    fail(PayloadFormat::kXz,
         fmt::format("it unpacks to more than the {} bytes it declares", out.size()));
  if (rc != LZMA_STREAM_END)
    fail(PayloadFormat::kXz,
         fmt::format("corrupt or truncated stream after {} bytes (liblzma error {})", produced,
                     static_cast<int>(rc)));
  out.resize(produced);
}

void unpack_zstd(std::span<const std::byte> in, std::vector<std::byte>& out) {
  const size_t rc = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(rc)) {
    if (ZSTD_getErrorCode(rc) == ZSTD_error_dstSize_tooSmall)
      fail(PayloadFormat::kZstd,
           fmt::format("it unpacks to more than the {} bytes it declares", out.size()));
    fail(PayloadFormat::kZstd, fmt::format("corrupt stream ({})", ZSTD_getErrorName(rc)));
  }
  out.resize(rc);
}

}  // namespace

std::optional<PayloadFormat> payload_format(std::span<const std::byte> payload) {
  if (starts_with(payload, kGzipMagic)) return PayloadFormat::kGzip;
  if (starts_with(payload, kXzMagic)) return PayloadFormat::kXz;
  if (starts_with(payload, kZstdMagic)) return PayloadFormat::kZstd;
  return std::nullopt;
}

std::string_view format_name(PayloadFormat format) {
  switch (format) {
    case PayloadFormat::kGzip:
      return "gzip";
    case PayloadFormat::kXz:
      return "xz";
    case PayloadFormat::kZstd:
      return "zstd";
  }
  return "unknown";
}

std::span<const std::byte> payload_of(const BzImage& kernel) {
  return kernel.protected_mode.subspan(kernel.header.payload_offset, kernel.header.payload_length);
}

std::optional<uint32_t> declared_size(std::span<const std::byte> payload) {
  if (payload.size() <= kSizeTrailer) return std::nullopt;
  uint32_t size;
  std::memcpy(&size, payload.data() + payload.size() - kSizeTrailer, sizeof size);
  return size;
}

std::vector<std::byte> unpack_payload(std::span<const std::byte> payload, PayloadFormat format) {
  const std::optional<uint32_t> size = declared_size(payload);
  if (!size) fail(format, "it is too short to hold a stream");
  const uint32_t declared = *size;
  if (declared == 0 || declared > kMaxUnpackedKernel)
    fail(format, fmt::format("it declares {} unpacked bytes (at most {} accepted)", declared,
                             kMaxUnpackedKernel));
  const std::span<const std::byte> stream = payload.first(payload.size() - kSizeTrailer);
  std::vector<std::byte> out(declared);
  switch (format) {
    case PayloadFormat::kGzip:
      unpack_gzip(stream, out);
      break;
    case PayloadFormat::kXz:
      unpack_xz(stream, out);
      break;
    case PayloadFormat::kZstd:
      unpack_zstd(stream, out);
      break;
  }
  if (out.size() != declared)
    fail(format, fmt::format("it unpacks to {} bytes but declares {}", out.size(), declared));
  return out;
}

}  // namespace boot
