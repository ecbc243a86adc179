// Crash consistency (qcow2_image.h): a forked writer is killed with SIGKILL at a random moment;
// then 'qemu-img check' must find no corruption (leaks are allowed), and every write that
// completed before the last completed flush must read back.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "devices/block/open_image.h"
#include "devices/block/qcow2_image.h"
#include "tests/unit/devices/block/shadow_model.h"

namespace devices::block {
namespace {

using namespace block_test;

constexpr uint64_t kSize = 4 << 20;
constexpr int kOps = 4000;  // fewer than a pipe holds as 8-byte reports

std::vector<Op> make_ops(uint64_t seed, uint64_t cs) {
  std::mt19937_64 rng(seed);
  std::vector<Op> ops;
  for (int i = 0; i < kOps; ++i) ops.push_back(random_op(rng, kSize, cs, false));
  return ops;
}

// The child: run the operations, reporting each completed one on the pipe.
[[noreturn]] void writer(const std::string& img, const std::vector<Op>& ops, int fd) {
  try {
    auto image = open_image(img, {});
    for (uint64_t i = 0; i < ops.size(); ++i) {
      run_op(*image, ops[i]);
      if (::write(fd, &i, sizeof(i)) != sizeof(i)) _exit(3);
    }
  } catch (...) {
    _exit(2);
  }
  _exit(0);
}

TEST(Qcow2Crash, KilledWriterLeavesConsistentImage) {
  require_qemu_tools();
  TempDir dir;
  std::mt19937_64 rng(42);
  int completed_flushes_checked = 0;
  for (int trial = 0; trial < 50; ++trial) {
    const uint64_t cs = trial % 2 == 0 ? 4096 : 65536;
    const std::string img = dir.file("crash.qcow2");
    Qcow2Image::CreateOptions o;
    o.size = kSize;
    o.cluster_size = static_cast<uint32_t>(cs);
    Qcow2Image::create(img, o);
    const auto ops = make_ops(rng(), cs);

    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      writer(img, ops, fds[1]);
    }
    close(fds[1]);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "writer failed";
    int64_t last_done = -1;
    uint64_t index;
    while (read(fds[0], &index, sizeof(index)) == sizeof(index))
      last_done = static_cast<int64_t>(index);
    close(fds[0]);

    // Durable promise: the state after the last completed flush.
    int64_t last_flush = -1;
    for (int64_t i = 0; i <= last_done; ++i) {
      if (ops[static_cast<size_t>(i)].kind == OpKind::kFlush) last_flush = i;
    }
    Shadow durable(std::vector<std::byte>(kSize), {}, cs, true);
    for (int64_t i = 0; i <= last_flush; ++i) durable.apply(ops[static_cast<size_t>(i)]);
    // Operations after it (and the one cut short) may or may not show, byte by byte.
    std::vector<Shadow> maybe;
    for (int64_t i = last_flush + 1; i <= last_done + 1 && i < kOps; ++i) {
      Shadow s(durable.data(), {}, cs, true);
      s.apply(ops[static_cast<size_t>(i)]);
      maybe.push_back(std::move(s));
    }

    std::string out;
    const int check = run("qemu-img check " + img, &out);
    ASSERT_TRUE(check == 0 || check == 3)
        << "trial " << trial << ": qemu-img check " << check << "\n"
        << out;
    ASSERT_EQ(run("qemu-img convert -O raw " + img + " " + dir.file("after.raw")), 0);
    const auto got = read_all(dir.file("after.raw"));
    ASSERT_EQ(got.size(), kSize);
    for (uint64_t b = 0; b < kSize; ++b) {
      if (got[b] == durable.data()[b]) continue;
      bool explained = false;
      for (const auto& s : maybe) explained = explained || s.data()[b] == got[b];
      ASSERT_TRUE(explained) << "trial " << trial << ": byte " << b << " lost (flush at op "
                             << last_flush << ", last completed op " << last_done << ")";
    }
    if (last_flush >= 0) ++completed_flushes_checked;
  }
  // The trials must actually have crossed flushes, or the test proves nothing.
  EXPECT_GE(completed_flushes_checked, 25);
}

}  // namespace
}  // namespace devices::block
