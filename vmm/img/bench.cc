// 'bench' as qemu-img has it: COUNT requests of SIZE bytes, DEPTH in flight, at OFFSET and then
// every STEP bytes, wrapping inside the image; plus --random for random aligned offsets.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <vector>

#include "devices/block/aligned_buffer.h"
#include "devices/block/block_device.h"
#include "devices/block/block_error.h"
#include "devices/block/open_image.h"
#include "vmm/img/commands.h"
#include "vmm/img/size_arg.h"

namespace img {

using namespace devices::block;

namespace {

class Bench {
 public:
  Bench(BlockDevice& dev, const BenchArgs& a, uint64_t bufsize, uint64_t step)
      : dev_(dev), args_(a), bufsize_(bufsize), step_(step), next_offset_(a.offset), rng_(1) {
    for (uint64_t i = 0; i < a.depth; ++i) buffers_.emplace_back(bufsize);
  }

  int run() {
    for (uint64_t slot = 0; slot < buffers_.size(); ++slot) issue(slot);
    {
      std::unique_lock lock(mutex_);
      done_cv_.wait(lock, [this] { return completed_ == args_.count || error_ != 0; });
    }
    dev_.drain();  // without the lock: completions still running take it
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void issue(uint64_t slot) {
    uint64_t offset = 0;
    {
      std::lock_guard lock(mutex_);
      if (issued_ == args_.count || error_ != 0) return;
      ++issued_;
      offset = take_offset();
    }
    auto done = [this, slot](int error) { complete(slot, error); };
    if (args_.write) {
      dev_.write(offset, {std::span<const std::byte>(buffers_[slot].span())}, done);
    } else {
      dev_.read(offset, {buffers_[slot].span()}, done);
    }
  }

  uint64_t take_offset() {
    const uint64_t size = dev_.size();
    if (args_.random) {
      const uint64_t slots = size > bufsize_ ? (size - bufsize_) / bufsize_ + 1 : 1;
      return std::uniform_int_distribution<uint64_t>(0, slots - 1)(rng_) * bufsize_;
    }
    // qemu-img: the first request at -o, then advance by the step, wrapping so that every
    // request stays inside the image.
    const uint64_t offset = next_offset_;
    next_offset_ += step_;
    next_offset_ = size <= bufsize_ ? 0 : next_offset_ % (size - bufsize_);
    return offset;
  }

  void complete(uint64_t slot, int error) {
    {
      std::lock_guard lock(mutex_);
      ++completed_;
      if (error != 0 && error_ == 0) error_ = error;
    }
    done_cv_.notify_all();
    issue(slot);
  }

  BlockDevice& dev_;
  const BenchArgs& args_;
  uint64_t bufsize_;
  uint64_t step_;
  uint64_t next_offset_;
  std::mt19937_64 rng_;
  std::vector<AlignedBuffer> buffers_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  uint64_t issued_ = 0;
  uint64_t completed_ = 0;
  int error_ = 0;
};

}  // namespace

int run_bench(const BenchArgs& a) {
  const auto bufsize = parse_size(a.size);
  if (!bufsize || *bufsize == 0 || *bufsize > (uint64_t{1} << 30)) {
    throw BlockError(a.file, "invalid buffer size '" + a.size + "'");
  }
  const auto step = a.step.empty() ? bufsize : parse_size(a.step);
  if (!step) throw BlockError(a.file, "invalid step size '" + a.step + "'");
  if (a.depth == 0 || a.depth > 65536) throw BlockError(a.file, "invalid queue depth");
  const auto cache = parse_cache_mode(a.cache);
  if (!cache) throw BlockError(a.file, "invalid cache mode '" + a.cache + "'");
  OpenOptions o;
  o.format = a.format;
  o.read_only = !a.write;
  o.cache = *cache;
  auto image = open_image(a.file, o);
  if (a.offset > image->size() || *bufsize > image->size() - a.offset) {
    throw BlockError(a.file, "offset and buffer size exceed the image");
  }
  BlockDevice dev(std::move(image), a.workers == 0 ? BlockDevice::kDefaultWorkers : a.workers);
  if (!a.quiet) {
    std::printf(
        "Sending %llu %s requests, %llu bytes each, %llu in parallel (starting at offset "
        "%llu, step size %llu)\n",
        static_cast<unsigned long long>(a.count), a.write ? "write" : "read",
        static_cast<unsigned long long>(*bufsize), static_cast<unsigned long long>(a.depth),
        static_cast<unsigned long long>(a.offset), static_cast<unsigned long long>(*step));
  }
  const auto start = std::chrono::steady_clock::now();
  Bench bench(dev, a, *bufsize, *step);
  const int error = bench.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (error != 0) {
    throw BlockError(a.file, std::string("request failed: ") + std::strerror(error));
  }
  const double bytes = static_cast<double>(a.count) * static_cast<double>(*bufsize);
  std::printf("Run completed in %.3f seconds.\n", seconds);
  std::printf("Throughput: %.1f MiB/s, %.0f requests/s\n", bytes / seconds / (1 << 20),
              static_cast<double>(a.count) / seconds);
  return 0;
}

}  // namespace img
