// minivmm-img as a user runs it: verbs, exit statuses, one-line errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "devices/block/endian.h"
#include "tests/unit/devices/block/test_util.h"

namespace {

using block_test::run;
using block_test::TempDir;

const std::string kImg = MINIVMM_IMG_PATH;

std::string output_of(const std::string& command, int* status = nullptr) {
  std::string out;
  const int code = run(command, &out);
  if (status != nullptr) *status = code;
  return out;
}

TEST(ImgCli, CreateInfoCheckConvert) {
  block_test::require_qemu_tools();
  TempDir dir;
  const std::string base = dir.file("base.qcow2");
  const std::string top = dir.file("top.qcow2");
  ASSERT_EQ(run(kImg + " create -q -f qcow2 -o cluster_size=4k " + base + " 10M"), 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write -P 0x42 0 100k' " + base + " > /dev/null"), 0);
  ASSERT_EQ(run(kImg + " create -q -f qcow2 -b base.qcow2 -F qcow2 " + top), 0);
  const std::string info = output_of(kImg + " info " + top);
  EXPECT_NE(info.find("file format: qcow2"), std::string::npos) << info;
  EXPECT_NE(info.find("virtual size: 10 MiB (10485760 bytes)"), std::string::npos) << info;
  EXPECT_NE(info.find("cluster_size: 65536"), std::string::npos) << info;
  EXPECT_NE(info.find("backing file: base.qcow2"), std::string::npos) << info;
  EXPECT_NE(info.find("backing file format: qcow2"), std::string::npos) << info;
  EXPECT_NE(info.find("dirty: false"), std::string::npos) << info;
  EXPECT_NE(output_of(kImg + " info " + base).find("cluster_size: 4096"), std::string::npos);

  EXPECT_EQ(run(kImg + " check -q " + base), 0);
  EXPECT_EQ(run(kImg + " convert -O raw " + top + " " + dir.file("out.raw")), 0);
  EXPECT_EQ(run("qemu-img compare -q " + top + " " + dir.file("out.raw")), 0);
  EXPECT_EQ(
      run(kImg + " convert -O qcow2 -o cluster_size=512 " + top + " " + dir.file("out.qcow2")), 0);
  EXPECT_EQ(run("qemu-img check -q " + dir.file("out.qcow2")), 0);
  EXPECT_EQ(run("qemu-img compare -q " + top + " " + dir.file("out.qcow2")), 0);
  EXPECT_EQ(output_of(kImg + " info " + dir.file("out.raw")).find("file format: raw") !=
                std::string::npos,
            true);
}

template <class T>
void poke(const std::string& path, uint64_t offset, T value) {
  std::byte b[sizeof(T)];
  devices::block::store_be<T>(b, 0, value);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(reinterpret_cast<const char*>(b), sizeof(T));
}

TEST(ImgCli, CheckExitStatusesMatchQemuImg) {
  block_test::require_qemu_tools();
  TempDir dir;
  const std::string img = dir.file("c.qcow2");
  // Layout of a new image: header, refcount table at cluster 1, refcount block at cluster 2.
  ASSERT_EQ(run(kImg + " create -q -f qcow2 " + img + " 1M"), 0);
  ASSERT_EQ(run("qemu-io -f qcow2 -c 'write 0 64k' " + img + " > /dev/null"), 0);
  // A leak: one more cluster at the end of the file, counted but used by nothing.
  const uint64_t spare = std::filesystem::file_size(img) / 65536 + 1;
  std::filesystem::resize_file(img, (spare + 1) * 65536);
  poke<uint16_t>(img, 2 * 65536 + 2 * spare, 1);
  int status = 0;
  const std::string leak = output_of(kImg + " check " + img, &status);
  EXPECT_EQ(status, 3) << leak;
  EXPECT_EQ(run("qemu-img check -q " + img), 3);
  EXPECT_NE(leak.find("1 leaked clusters were found"), std::string::npos) << leak;
  // Corruption: the header cluster's refcount is 0.
  poke<uint16_t>(img, 2 * 65536 + 2 * spare, 0);
  poke<uint16_t>(img, 2 * 65536, 0);
  EXPECT_EQ(run(kImg + " check -q " + img), 2);
  EXPECT_EQ(run("qemu-img check -q " + img), 2);
  EXPECT_EQ(run(kImg + " check -q " + dir.file("missing.qcow2")), 1);
}

TEST(ImgCli, ErrorsAreOneLineNamingTheFile) {
  TempDir dir;
  int status = 0;
  const std::string missing = dir.file("missing.qcow2");
  std::string out = output_of(kImg + " info " + missing, &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find(missing), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;

  const std::string bad = dir.file("bad.qcow2");
  out = output_of(kImg + " create -f qcow2 -o cluster_size=1000 " + bad + " 1M", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("cluster_size"), std::string::npos) << out;
  EXPECT_NE(out.find(bad), std::string::npos) << out;

  ASSERT_EQ(run(kImg + " create -q -f qcow2 " + bad + " 1M"), 0);
  poke<uint64_t>(bad, 72, 1 << 4);
  out = output_of(kImg + " bench -c 1 " + bad, &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("extended L2 entries"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

TEST(ImgCli, BenchReadsAndWrites) {
  TempDir dir;
  const std::string img = dir.file("b.qcow2");
  ASSERT_EQ(run(kImg + " create -q -f qcow2 " + img + " 64M"), 0);
  std::string out = output_of(kImg + " bench -w -c 2000 -d 8 -s 64k " + img);
  EXPECT_NE(out.find("Sending 2000 write requests, 65536 bytes each, 8 in parallel"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Run completed in"), std::string::npos) << out;
  EXPECT_NE(out.find("MiB/s"), std::string::npos) << out;
  EXPECT_EQ(run("qemu-img check -q " + img), 0);
  int status = 0;
  out = output_of(kImg + " bench --random -c 2000 -t none " + img, &status);
  EXPECT_EQ(status, 0) << out;
  out = output_of(kImg + " bench -c 10 -o 64M " + img, &status);
  EXPECT_NE(status, 0) << out;
}

}  // namespace
