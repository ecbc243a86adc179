// qcow2 against the reference implementation: images made by qemu-img and qemu-io read
// byte-identical to 'qemu-img convert -O raw'; images written here pass 'qemu-img check' and
// 'qemu-img compare' against a raw shadow of what was written.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "devices/block/open_image.h"
#include "devices/block/qcow2_image.h"
#include "tests/unit/devices/block/test_util.h"

namespace devices::block {
namespace {

using block_test::first_difference;
using block_test::pattern;
using block_test::read_all;
using block_test::run;
using block_test::TempDir;

std::vector<std::byte> read_image(const std::string& path) {
  OpenOptions o;
  o.read_only = true;
  auto image = open_image(path, o);
  std::vector<std::byte> out(image->size());
  constexpr uint64_t kChunk = 1 << 20;
  for (uint64_t pos = 0; pos < out.size(); pos += kChunk) {
    image->read(pos, std::span(out).subspan(pos, std::min<uint64_t>(kChunk, out.size() - pos)));
  }
  return out;
}

std::vector<std::byte> qemu_raw(const TempDir& dir, const std::string& image) {
  const std::string raw = dir.file("reference.raw");
  EXPECT_EQ(run("qemu-img convert -O raw '" + image + "' '" + raw + "'"), 0);
  return read_all(raw);
}

// Reads of random unaligned ranges split over three buffers agree with the reference.
void expect_vectored_reads_match(const std::string& path, const std::vector<std::byte>& ref) {
  OpenOptions o;
  o.read_only = true;
  auto image = open_image(path, o);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    const uint64_t len = 1 + rng() % (200 << 10);
    const uint64_t off = rng() % (ref.size() - len);
    std::vector<std::byte> a(len / 3), b(len / 3), c(len - 2 * (len / 3));
    const std::span<std::byte> iov[3] = {a, b, c};
    image->readv(off, iov);
    std::vector<std::byte> got(a);
    got.insert(got.end(), b.begin(), b.end());
    got.insert(got.end(), c.begin(), c.end());
    ASSERT_TRUE(std::equal(got.begin(), got.end(), ref.begin() + static_cast<int64_t>(off)))
        << "vectored read at " << off << " length " << len;
  }
}

struct ReadCase {
  const char* name;
  const char* options;
};

class QemuMadeImage : public ::testing::TestWithParam<ReadCase> {};

TEST_P(QemuMadeImage, ReadsLikeQemuImgConvert) {
  block_test::require_qemu_tools();
  TempDir dir;
  const std::string img = dir.file("image.qcow2");
  ASSERT_EQ(
      run(std::string("qemu-img create -q -f qcow2 -o ") + GetParam().options + " " + img + " 8M"),
      0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x11 0 64k' -c 'write -P 0x22 100k 7k' "
                "-c 'write -P 0x33 4093k 10k' -c 'write -z 1M 256k' -c 'write -P 0x55 1100k 3k' "
                "-c 'write -P 0x44 8188k 4k' -c 'discard 2M 2M' -c 'write -P 0x66 2050k 1k' " +
                img + " > /dev/null"),
            0);
  const auto ref = qemu_raw(dir, img);
  const auto got = read_image(img);
  ASSERT_EQ(got.size(), ref.size());
  EXPECT_EQ(first_difference(got, ref), -1);
  expect_vectored_reads_match(img, ref);
}

INSTANTIATE_TEST_SUITE_P(Formats, QemuMadeImage,
                         ::testing::Values(ReadCase{"v2_64k", "compat=0.10,cluster_size=64k"},
                                           ReadCase{"v3_64k", "compat=1.1,cluster_size=64k"},
                                           ReadCase{"v3_4k", "compat=1.1,cluster_size=4k"},
                                           ReadCase{"v2_4k", "compat=0.10,cluster_size=4k"},
                                           ReadCase{"v3_2M", "compat=1.1,cluster_size=2M"},
                                           ReadCase{"v3_512", "compat=1.1,cluster_size=512"},
                                           ReadCase{"refcount1", "refcount_bits=1,cluster_size=4k"},
                                           ReadCase{"refcount64", "refcount_bits=64"},
                                           ReadCase{"lazy", "lazy_refcounts=on"}),
                         [](const auto& info) { return std::string(info.param.name); });

std::vector<std::byte> mixed_content(size_t n) {
  // Half compressible runs, half random bytes: compressed clusters of varying lengths.
  auto out = pattern(n, 99);
  for (size_t i = 0; i < n; i += 8192) {
    std::fill(out.begin() + static_cast<int64_t>(i),
              out.begin() + static_cast<int64_t>(std::min(n, i + 4096 + (i / 8192) % 3000)),
              static_cast<std::byte>(i / 8192));
  }
  return out;
}

TEST(QemuMadeImage, CompressedClustersRead) {
  block_test::require_qemu_tools();
  TempDir dir;
  const std::string raw = dir.file("source.raw");
  auto content = mixed_content(6 << 20);
  std::fill(content.begin() + (1 << 20), content.begin() + (2 << 20), std::byte{0});
  block_test::write_all(raw, content);
  for (const char* cs : {"64k", "4k", "2M", "512"}) {
    const std::string img = dir.file(std::string("compressed-") + cs + ".qcow2");
    ASSERT_EQ(run("qemu-img convert -c -O qcow2 -o cluster_size=" + std::string(cs) + " " + raw +
                  " " + img),
              0);
    const auto got = read_image(img);
    EXPECT_EQ(first_difference(got, content), -1) << "cluster size " << cs;
  }
}

TEST(QemuMadeImage, BackingChainReads) {
  block_test::require_qemu_tools();
  TempDir dir;
  const std::string base_raw = dir.file("base.raw");
  block_test::write_all(base_raw, pattern(3 << 20, 5));
  const std::string base = dir.file("base.qcow2");
  const std::string mid = dir.file("mid.qcow2");
  const std::string top = dir.file("top.qcow2");
  ASSERT_EQ(run("qemu-img convert -O qcow2 " + base_raw + " " + base), 0);
  // mid is larger than base: the part past base's end reads as zeros.
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 " + mid + " 5M"), 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x71 10k 70k' -c 'write -z 1M 128k' " + mid +
                " > /dev/null"),
            0);
  // top names no backing format: it is probed.
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -o cluster_size=4k -b mid.qcow2 -F qcow2 " + top), 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x72 60k 8k' -c 'write -P 0x73 4M 1k' " + top +
                " > /dev/null"),
            0);
  const auto ref = qemu_raw(dir, top);
  EXPECT_EQ(first_difference(read_image(top), ref), -1);
  expect_vectored_reads_match(top, ref);

  // A raw backing file.
  const std::string over_raw = dir.file("over-raw.qcow2");
  ASSERT_EQ(run("qemu-img create -q -f qcow2 -b base.raw -F raw " + over_raw), 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x74 1000 3000' " + over_raw + " > /dev/null"), 0);
  EXPECT_EQ(first_difference(read_image(over_raw), qemu_raw(dir, over_raw)), -1);
}

// ---- Images written by this engine ---------------------------------------------------------

struct WriteCase {
  const char* name;
  uint32_t cluster_size;
  uint32_t version;
  uint32_t refcount_bits;
};

class EngineWritten : public ::testing::TestWithParam<WriteCase> {};

// Applies the same writes to the image and to a shadow buffer.
void write_both(Image& image, std::vector<std::byte>& shadow, uint64_t off, size_t len,
                uint64_t seed) {
  const auto data = pattern(len, seed);
  image.write(off, data);
  std::copy(data.begin(), data.end(), shadow.begin() + static_cast<int64_t>(off));
}

void expect_qemu_agrees(const TempDir& dir, const std::string& img,
                        const std::vector<std::byte>& shadow) {
  const std::string shadow_path = dir.file("shadow.raw");
  block_test::write_all(shadow_path, shadow);
  EXPECT_EQ(run("qemu-img check -q '" + img + "'"), 0);
  EXPECT_EQ(run("qemu-img compare -q -f qcow2 -F raw '" + img + "' '" + shadow_path + "'"), 0);
}

TEST_P(EngineWritten, PassesQemuImgCheckAndCompare) {
  block_test::require_qemu_tools();
  TempDir dir;
  const auto& p = GetParam();
  const std::string img = dir.file("image.qcow2");
  const uint64_t size = (24 << 20) + 1536;  // not a whole number of clusters
  Qcow2Image::CreateOptions o;
  o.size = size;
  o.cluster_size = p.cluster_size;
  o.version = p.version;
  o.refcount_bits = p.refcount_bits;
  Qcow2Image::create(img, o);
  std::vector<std::byte> shadow(size);
  {
    OpenOptions oo;
    auto image = open_image(img, oo);
    ASSERT_EQ(image->size(), size);
    write_both(*image, shadow, 0, 4096, 1);
    write_both(*image, shadow, 5000, 70000, 2);            // unaligned, crosses clusters
    write_both(*image, shadow, 3 << 20, 3 << 20, 3);       // large sequential
    write_both(*image, shadow, (3 << 20) + 777, 1000, 4);  // overwrite in place
    write_both(*image, shadow, size - 1000, 1000, 5);      // the partial last cluster
    image->write_zeroes(3 << 20, 1 << 20);
    std::fill_n(shadow.begin() + (3 << 20), 1 << 20, std::byte{0});
    image->write_zeroes((5 << 20) + 100, 5000);
    std::fill_n(shadow.begin() + (5 << 20) + 100, 5000, std::byte{0});
    image->flush();
    // Strided small writes, each allocating a cluster of its own.
    for (uint64_t off = 8 << 20; off < (16 << 20); off += 256 << 10) {
      write_both(*image, shadow, off + 512, 512, off);
    }
    // Whole clusters discarded read as zeros (2 MiB: whole clusters for every size here).
    image->discard(8 << 20, 2 << 20);
    std::fill_n(shadow.begin() + (8 << 20), 2 << 20, std::byte{0});
    std::vector<std::byte> back(shadow.size());
    image->read(0, back);
    EXPECT_EQ(first_difference(back, shadow), -1);
  }
  expect_qemu_agrees(dir, img, shadow);
  EXPECT_EQ(first_difference(read_image(img), shadow), -1);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, EngineWritten,
    ::testing::Values(WriteCase{"v3_64k", 65536, 3, 16}, WriteCase{"v2_64k", 65536, 2, 16},
                      WriteCase{"v3_4k", 4096, 3, 16}, WriteCase{"v3_2M", 2 << 20, 3, 16},
                      WriteCase{"v3_512", 512, 3, 16}, WriteCase{"v3_512_refcount1", 512, 3, 1},
                      WriteCase{"v3_4k_refcount64", 4096, 3, 64},
                      WriteCase{"v3_4k_refcount4", 4096, 3, 4}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(EngineWritten, CopyOnWriteFromBackingAndCompressed) {
  block_test::require_qemu_tools();
  TempDir dir;
  const std::string base_raw = dir.file("base.raw");
  const auto base_content = mixed_content(4 << 20);
  block_test::write_all(base_raw, base_content);
  const std::string base = dir.file("base.qcow2");
  ASSERT_EQ(run("qemu-img convert -O qcow2 " + base_raw + " " + base), 0);

  // An overlay created here over a qemu-made base: partial writes copy the rest from the base.
  const std::string top = dir.file("top.qcow2");
  Qcow2Image::CreateOptions o;
  o.size = 4 << 20;
  o.backing_file = "base.qcow2";
  o.backing_format = "qcow2";
  o.cluster_size = 4096;
  Qcow2Image::create(top, o);
  std::vector<std::byte> shadow = base_content;
  {
    auto image = open_image(top, {});
    write_both(*image, shadow, 100, 200, 1);
    write_both(*image, shadow, 70000, 10000, 2);
    image->write_zeroes(1 << 20, 8192);
    std::fill_n(shadow.begin() + (1 << 20), 8192, std::byte{0});
    image->discard(2 << 20, 4096);  // version 3: reads zeros, not the backing data
    std::fill_n(shadow.begin() + (2 << 20), 4096, std::byte{0});
  }
  expect_qemu_agrees(dir, top, shadow);
  EXPECT_EQ(first_difference(qemu_raw(dir, top), shadow), -1);

  // Writing into a compressed image copies the rest of the cluster out of its compressed form.
  const std::string comp = dir.file("comp.qcow2");
  ASSERT_EQ(run("qemu-img convert -c -O qcow2 " + base_raw + " " + comp), 0);
  shadow = base_content;
  {
    auto image = open_image(comp, {});
    write_both(*image, shadow, 65536 + 300, 500, 3);
    write_both(*image, shadow, 200000, 100000, 4);
  }
  expect_qemu_agrees(dir, comp, shadow);
}

}  // namespace
}  // namespace devices::block
