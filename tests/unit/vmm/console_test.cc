#include "vmm/console.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace {

std::vector<std::byte> bytes(const std::string& s) {
  std::vector<std::byte> out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

TEST(EscapeFilterTest, PassesOrdinaryInput) {
  vmm::EscapeFilter f;
  EXPECT_EQ(f.feed(bytes("ls -l\r")), bytes("ls -l\r"));
  EXPECT_FALSE(f.quit_requested());
}

TEST(EscapeFilterTest, CtrlAXQuitsAndDropsTheRest) {
  vmm::EscapeFilter f;
  EXPECT_EQ(f.feed(bytes("ab\x01xcd")), bytes("ab"));
  EXPECT_TRUE(f.quit_requested());
}

TEST(EscapeFilterTest, EscapeSplitAcrossReads) {
  vmm::EscapeFilter f;
  EXPECT_EQ(f.feed(bytes("a\x01")), bytes("a"));
  EXPECT_FALSE(f.quit_requested());
  EXPECT_EQ(f.feed(bytes("x")), bytes(""));
  EXPECT_TRUE(f.quit_requested());
}

TEST(EscapeFilterTest, DoubleCtrlASendsOneAndOtherKeysAreSwallowed) {
  vmm::EscapeFilter f;
  EXPECT_EQ(f.feed(bytes("\x01\x01q\x01zq")), bytes("\x01qq"));
  EXPECT_FALSE(f.quit_requested());
}

TEST(WriteAllTest, DeliversABurstThroughASmallPipeInOrder) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string data;
  for (int i = 0; i < 200000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  std::string got;
  std::thread reader([&] {
    char buf[1000];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  });
  EXPECT_TRUE(vmm::write_all(fds[1], std::as_bytes(std::span(data.data(), data.size()))));
  close(fds[1]);
  reader.join();
  close(fds[0]);
  EXPECT_EQ(got, data);
}

TEST(WriteAllTest, ReportsAClosedReader) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  signal(SIGPIPE, SIG_IGN);
  std::string data = "x";
  EXPECT_FALSE(vmm::write_all(fds[1], std::as_bytes(std::span(data.data(), data.size()))));
  close(fds[1]);
}

}  // namespace
