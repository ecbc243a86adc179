// The asynchronous block device over raw images in every cache mode, and over qcow2 with many
// requests in flight.
#include "devices/block/block_device.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <future>
#include <thread>

#include "devices/block/aligned_buffer.h"
#include "devices/block/open_image.h"
#include "devices/block/qcow2_image.h"
#include "devices/block/raw_image.h"
#include "tests/unit/devices/block/test_util.h"

namespace devices::block {
namespace {

using block_test::pattern;
using block_test::TempDir;

// Submits through `submit`, waits for the completion, returns its error and the completing thread.
template <class Submit>
std::pair<int, std::thread::id> wait_for(Submit submit) {
  std::promise<std::pair<int, std::thread::id>> done;
  auto result = done.get_future();
  submit([&done](int error) { done.set_value({error, std::this_thread::get_id()}); });
  return result.get();
}

class RawCacheModes : public ::testing::TestWithParam<const char*> {};

TEST_P(RawCacheModes, ReadWriteZeroDiscardFlush) {
  TempDir dir;
  const std::string path = dir.file("disk.raw");
  RawImage::create(path, 1 << 20);
  OpenOptions o;
  o.format = "raw";
  o.cache = *parse_cache_mode(GetParam());
  BlockDevice dev(open_image(path, o));
  EXPECT_EQ(dev.size(), 1u << 20);
  EXPECT_FALSE(dev.read_only());

  // Unaligned offset and odd buffer sizes: cache=none bounces them through aligned memory.
  const auto a = pattern(1000, 1);
  const auto b = pattern(3000, 2);
  auto [err, thread] = wait_for([&](Completion c) {
    dev.write(4097, {std::span<const std::byte>(a), std::span<const std::byte>(b)}, c);
  });
  EXPECT_EQ(err, 0);
  EXPECT_NE(thread, std::this_thread::get_id()) << "completion must come from a worker";
  std::vector<std::byte> back(4000);
  EXPECT_EQ(wait_for([&](Completion c) { dev.read(4097, {back}, c); }).first, 0);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), back.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), back.begin() + 1000));

  EXPECT_EQ(wait_for([&](Completion c) { dev.write_zeroes(5000, 100, c); }).first, 0);
  EXPECT_EQ(wait_for([&](Completion c) { dev.flush(c); }).first, 0);
  EXPECT_EQ(wait_for([&](Completion c) { dev.read(4097, {back}, c); }).first, 0);
  for (size_t i = 5000 - 4097; i < 5100 - 4097; ++i) ASSERT_EQ(back[i], std::byte{0});
  EXPECT_EQ(back[5100 - 4097], b[5100 - 4097 - 1000]);
  // The file itself holds what was written.
  const auto file = block_test::read_all(path);
  EXPECT_EQ(file[5100], b[5100 - 4097 - 1000]);
  EXPECT_EQ(file[4097], a[0]);
  // A discarded range of a regular file is a hole: zeros.
  EXPECT_EQ(wait_for([&](Completion c) { dev.discard(0, 65536, c); }).first, 0);
  EXPECT_EQ(wait_for([&](Completion c) { dev.read(4097, {back}, c); }).first, 0);
  EXPECT_EQ(back, std::vector<std::byte>(4000));
}

INSTANTIATE_TEST_SUITE_P(Modes, RawCacheModes, ::testing::Values("writeback", "none", "unsafe"));

TEST(BlockDevice, RejectsOutOfRangeAndReadOnlyWrites) {
  TempDir dir;
  const std::string path = dir.file("disk.raw");
  RawImage::create(path, 8192);
  OpenOptions o;
  o.read_only = true;
  BlockDevice dev(open_image(path, o));
  EXPECT_TRUE(dev.read_only());
  std::vector<std::byte> buf(4096);
  EXPECT_EQ(wait_for([&](Completion c) { dev.read(8192 - 100, {buf}, c); }).first, EINVAL);
  EXPECT_EQ(wait_for([&](Completion c) { dev.read(~uint64_t{0} - 10, {buf}, c); }).first, EINVAL);
  EXPECT_EQ(wait_for([&](Completion c) { dev.discard(4096, ~uint64_t{0}, c); }).first, EINVAL);
  EXPECT_EQ(
      wait_for([&](Completion c) { dev.write(0, {std::span<const std::byte>(buf)}, c); }).first,
      EROFS);
  EXPECT_EQ(wait_for([&](Completion c) { dev.read(4096, {buf}, c); }).first, 0);
}

TEST(BlockDevice, ManyQcow2RequestsInFlight) {
  TempDir dir;
  const std::string path = dir.file("disk.qcow2");
  Qcow2Image::CreateOptions co;
  co.size = 16 << 20;
  co.cluster_size = 4096;
  Qcow2Image::create(path, co);
  std::vector<std::vector<std::byte>> blocks;
  for (int i = 0; i < 256; ++i) blocks.push_back(pattern(6000, static_cast<uint64_t>(i)));
  {
    BlockDevice dev(open_image(path, {}), 4);
    std::atomic<int> errors = 0;
    // Writes to disjoint ranges (some sharing clusters), all in flight together.
    for (int i = 0; i < 256; ++i) {
      dev.write(static_cast<uint64_t>(i) * 6000, {std::span<const std::byte>(blocks[i])},
                [&errors](int e) { errors += e != 0; });
    }
    dev.drain();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(wait_for([&](Completion c) { dev.flush(c); }).first, 0);
    std::vector<std::vector<std::byte>> back(256, std::vector<std::byte>(6000));
    for (int i = 0; i < 256; ++i) {
      dev.read(static_cast<uint64_t>(i) * 6000, {back[i]}, [&errors](int e) { errors += e != 0; });
    }
    dev.drain();
    EXPECT_EQ(errors.load(), 0);
    for (int i = 0; i < 256; ++i) EXPECT_EQ(back[i], blocks[i]) << "block " << i;
  }
  // And after closing, a fresh open reads the same.
  auto image = open_image(path, {});
  std::vector<std::byte> all(256 * 6000);
  image->read(0, all);
  for (int i = 0; i < 256; ++i) {
    EXPECT_TRUE(std::equal(blocks[i].begin(), blocks[i].end(), all.begin() + i * 6000));
  }
}

}  // namespace
}  // namespace devices::block
