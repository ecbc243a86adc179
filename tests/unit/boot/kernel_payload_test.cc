#include "boot/kernel_payload.h"

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "boot/kernel_cache.h"

namespace {

using boot::PayloadFormat;
using ::testing::HasSubstr;

// What a kernel's image looks like to a compressor: some structure, some repetition.
std::vector<std::byte> kernel_like(size_t size) {
  std::vector<std::byte> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = std::byte((i % 4096 < 1024 ? i * 31 + i / 977 : 0x90));
  return v;
}

std::vector<std::byte> gzip(std::span<const std::byte> in) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<std::byte> out(deflateBound(&s, in.size()));
  s.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

std::vector<std::byte> xz(std::span<const std::byte> in) {
  std::vector<std::byte> out(lzma_stream_buffer_bound(in.size()));
  size_t pos = 0;
  EXPECT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, nullptr,
                                    reinterpret_cast<const uint8_t*>(in.data()), in.size(),
                                    reinterpret_cast<uint8_t*>(out.data()), &pos, out.size()),
            LZMA_OK);
  out.resize(pos);
  return out;
}

std::vector<std::byte> zstd(std::span<const std::byte> in) {
  std::vector<std::byte> out(ZSTD_compressBound(in.size()));
  const size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 19);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A payload as the kernel's build makes it: the stream, then the unpacked size (32-bit LE).
std::vector<std::byte> with_size(std::vector<std::byte> stream, uint32_t size) {
  const size_t at = stream.size();
  stream.resize(at + 4);
  std::memcpy(stream.data() + at, &size, 4);
  return stream;
}

std::vector<std::byte> compress(PayloadFormat format, std::span<const std::byte> in) {
  switch (format) {
    case PayloadFormat::kGzip:
      return gzip(in);
    case PayloadFormat::kXz:
      return xz(in);
    case PayloadFormat::kZstd:
      return zstd(in);
  }
  return {};
}

std::string unpack_error(std::span<const std::byte> payload, PayloadFormat format) {
  try {
    boot::unpack_payload(payload, format);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "unpacked";
}

class KernelPayloadTest : public ::testing::TestWithParam<PayloadFormat> {
 protected:
  const std::vector<std::byte> image_ = kernel_like(300'000);
  const std::vector<std::byte> stream_ = compress(GetParam(), image_);
};

TEST_P(KernelPayloadTest, RecognisesTheFormatAndUnpacksTheImage) {
  const auto payload = with_size(stream_, static_cast<uint32_t>(image_.size()));
  ASSERT_EQ(boot::payload_format(payload), GetParam());
  EXPECT_EQ(boot::unpack_payload(payload, GetParam()), image_);
}

TEST_P(KernelPayloadTest, AStreamLongerThanItsDeclaredSizeIsAnError) {
  const auto payload = with_size(stream_, static_cast<uint32_t>(image_.size() - 1));
  EXPECT_THAT(unpack_error(payload, GetParam()),
              HasSubstr(std::string(boot::format_name(GetParam())) +
                        " payload: it unpacks to more than the 299999 bytes it declares"));
}

TEST_P(KernelPayloadTest, AStreamShorterThanItsDeclaredSizeIsAnError) {
  const auto payload = with_size(stream_, static_cast<uint32_t>(image_.size() + 1));
  const std::string error = unpack_error(payload, GetParam());
  // zstd's frame header holds the content size, so it sees the stream end early as corruption.
  EXPECT_THAT(error, ::testing::AnyOf(HasSubstr("unpacks to 300000 bytes but declares 300001"),
                                      HasSubstr("corrupt")))
      << error;
}

TEST_P(KernelPayloadTest, ATruncatedOrCorruptStreamIsAnError) {
  auto truncated = stream_;
  truncated.resize(truncated.size() / 2);
  EXPECT_THAT(unpack_error(with_size(truncated, static_cast<uint32_t>(image_.size())), GetParam()),
              HasSubstr("cannot unpack the bzImage's"));
  auto corrupt = stream_;
  for (size_t i = corrupt.size() / 3; i < corrupt.size() / 3 + 64; ++i)
    corrupt[i] ^= std::byte{0x5a};
  EXPECT_THAT(unpack_error(with_size(corrupt, static_cast<uint32_t>(image_.size())), GetParam()),
              HasSubstr("cannot unpack the bzImage's"));
}

TEST_P(KernelPayloadTest, ADeclaredSizeOfZeroOrOverTheLimitIsRefusedBeforeUnpacking) {
  EXPECT_THAT(unpack_error(with_size(stream_, 0), GetParam()),
              HasSubstr("it declares 0 unpacked bytes"));
  EXPECT_THAT(unpack_error(with_size(stream_, 0xffffffffu), GetParam()),
              HasSubstr("it declares 4294967295 unpacked bytes (at most 1073741824 accepted)"));
  EXPECT_THAT(unpack_error(std::vector<std::byte>(4), GetParam()),
              HasSubstr("too short to hold a stream"));
}

INSTANTIATE_TEST_SUITE_P(Formats, KernelPayloadTest,
                         ::testing::Values(PayloadFormat::kGzip, PayloadFormat::kXz,
                                           PayloadFormat::kZstd),
                         [](const auto& info) {
                           return std::string(boot::format_name(info.param));
                         });

TEST(KernelPayloadFormatTest, OtherCompressionsAreLeftToTheGuest) {
  // bzip2 ("BZh"), LZMA (0x5d 0x00), LZ4 legacy (0x02 0x21 0x4c 0x18), LZO (0x89 "LZO"), nothing.
  for (std::vector<unsigned char> magic :
       std::vector<std::vector<unsigned char>>{{'B', 'Z', 'h', '9'},
                                               {0x5d, 0x00, 0x00, 0x80},
                                               {0x02, 0x21, 0x4c, 0x18},
                                               {0x89, 'L', 'Z', 'O'},
                                               {}}) {
    std::vector<std::byte> payload;
    for (unsigned char c : magic) payload.push_back(std::byte{c});
    EXPECT_EQ(boot::payload_format(payload), std::nullopt);
  }
}

class KernelCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("minivmm-kernel-cache-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::vector<std::filesystem::path> files() const {
    std::vector<std::filesystem::path> out;
    if (std::filesystem::exists(dir_))
      for (const auto& e : std::filesystem::directory_iterator(dir_)) out.push_back(e.path());
    return out;
  }

  std::filesystem::path dir_;
  const std::vector<std::byte> image_ = kernel_like(200'000);
  const std::vector<std::byte> payload_ =
      with_size(xz(image_), static_cast<uint32_t>(image_.size()));
};

TEST_F(KernelCacheTest, TheFirstBootUnpacksAndStoresLaterOnesMapTheStoredKernel) {
  {
    boot::UnpackedKernel first(payload_, PayloadFormat::kXz, dir_);
    EXPECT_FALSE(first.from_cache());
    EXPECT_TRUE(std::ranges::equal(first.bytes(), image_));
  }
  ASSERT_EQ(files().size(), 1u) << "one file, no temporary left behind";
  EXPECT_EQ(std::filesystem::file_size(files()[0]), image_.size());
  boot::UnpackedKernel second(payload_, PayloadFormat::kXz, dir_);
  EXPECT_TRUE(second.from_cache());
  EXPECT_TRUE(std::ranges::equal(second.bytes(), image_));
}

TEST_F(KernelCacheTest, AnotherKernelGetsItsOwnEntry) {
  boot::UnpackedKernel first(payload_, PayloadFormat::kXz, dir_);
  auto other_image = image_;
  other_image[1234] ^= std::byte{1};
  boot::UnpackedKernel other(with_size(xz(other_image), 200'000), PayloadFormat::kXz, dir_);
  EXPECT_FALSE(other.from_cache());
  EXPECT_TRUE(std::ranges::equal(other.bytes(), other_image));
  EXPECT_EQ(files().size(), 2u);
}

TEST_F(KernelCacheTest, AStoredFileOfTheWrongSizeIsUnpackedAndWrittenAgain) {
  { boot::UnpackedKernel first(payload_, PayloadFormat::kXz, dir_); }
  ASSERT_EQ(files().size(), 1u);
  std::filesystem::resize_file(files()[0], 1000);
  boot::UnpackedKernel again(payload_, PayloadFormat::kXz, dir_);
  EXPECT_FALSE(again.from_cache());
  EXPECT_TRUE(std::ranges::equal(again.bytes(), image_));
  EXPECT_EQ(std::filesystem::file_size(files()[0]), image_.size());
}

TEST_F(KernelCacheTest, AFolderThatCannotBeWrittenOnlyCostsTheTime) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "file") << "not a folder";
  boot::UnpackedKernel k(payload_, PayloadFormat::kXz, dir_ / "file" / "cache");
  EXPECT_FALSE(k.from_cache());
  EXPECT_TRUE(std::ranges::equal(k.bytes(), image_));
  boot::UnpackedKernel none(payload_, PayloadFormat::kXz, {});
  EXPECT_TRUE(std::ranges::equal(none.bytes(), image_));
  EXPECT_EQ(files().size(), 1u);
}

TEST_F(KernelCacheTest, ACorruptPayloadIsStillAnErrorAndStoresNothing) {
  auto corrupt = payload_;
  corrupt[corrupt.size() / 2] ^= std::byte{0xff};
  EXPECT_THROW(boot::UnpackedKernel(corrupt, PayloadFormat::kXz, dir_), std::runtime_error);
  EXPECT_TRUE(files().empty());
}

}  // namespace
