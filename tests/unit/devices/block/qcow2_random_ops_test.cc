// Random writes, zeroes, discards, flushes and reopens, checked against a raw shadow after every
// step that reads back, and by 'qemu-img check' and 'qemu-img compare' at the end.
#include <gtest/gtest.h>

#include "devices/block/open_image.h"
#include "devices/block/qcow2_image.h"
#include "tests/unit/devices/block/shadow_model.h"

namespace devices::block {
namespace {

using namespace block_test;

struct RandomCase {
  const char* name;
  uint32_t cluster_size;
  uint32_t version;
  uint32_t refcount_bits;
  bool backing;
  int ops;
};

class RandomOps : public ::testing::TestWithParam<RandomCase> {};

TEST_P(RandomOps, MatchShadow) {
  require_qemu_tools();
  const auto& p = GetParam();
  TempDir dir;
  const uint64_t size = (6 << 20) + 4096;
  std::vector<std::byte> backing;
  const std::string img = dir.file("image.qcow2");
  Qcow2Image::CreateOptions o;
  o.size = size;
  o.cluster_size = p.cluster_size;
  o.version = p.version;
  o.refcount_bits = p.refcount_bits;
  if (p.backing) {
    backing = pattern(5 << 20, 1234);  // smaller than the image: the rest reads as zeros
    write_all(dir.file("base.raw"), backing);
    o.backing_file = "base.raw";
    o.backing_format = "raw";
  }
  Qcow2Image::create(img, o);
  std::vector<std::byte> initial(size);
  std::copy(backing.begin(), backing.end(), initial.begin());
  Shadow shadow(initial, backing, p.cluster_size, p.version >= 3);

  std::mt19937_64 rng(p.cluster_size * 31 + p.version);
  auto image = open_image(img, {});
  for (int i = 0; i < p.ops; ++i) {
    const Op op = random_op(rng, size, p.cluster_size, true);
    if (op.kind == OpKind::kReopen) {
      image.reset();
      image = open_image(img, {});
      continue;
    }
    run_op(*image, op);
    shadow.apply(op);
    // Read back a random range around the operation.
    const uint64_t start = op.offset > 5000 ? op.offset - 5000 : 0;
    const uint64_t len = std::min<uint64_t>(size - start, op.length + 10000);
    std::vector<std::byte> got(len);
    image->read(start, got);
    ASSERT_TRUE(
        std::equal(got.begin(), got.end(), shadow.data().begin() + static_cast<int64_t>(start)))
        << "after operation " << i;
  }
  std::vector<std::byte> all(size);
  image->read(0, all);
  EXPECT_EQ(first_difference(all, shadow.data()), -1);
  image.reset();
  write_all(dir.file("shadow.raw"), shadow.data());
  EXPECT_EQ(run("qemu-img check -q " + img), 0);
  EXPECT_EQ(run("qemu-img compare -q -f qcow2 -F raw " + img + " " + dir.file("shadow.raw")), 0);
}

INSTANTIATE_TEST_SUITE_P(Formats, RandomOps,
                         ::testing::Values(RandomCase{"v3_64k", 65536, 3, 16, false, 300},
                                           RandomCase{"v3_64k_backing", 65536, 3, 16, true, 300},
                                           RandomCase{"v2_4k_backing", 4096, 2, 16, true, 300},
                                           RandomCase{"v3_512_refcount1", 512, 3, 1, false, 300},
                                           RandomCase{"v3_2M_refcount8", 2 << 20, 3, 8, false, 60}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace devices::block
