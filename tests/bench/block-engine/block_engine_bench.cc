// The same workloads through BlockDevice's worker pool over a RawImage and through an io_uring
// engine on the same file, alternating engines round by round; prints medians and their ratios.
// A comparison, never pass/fail. tests/bench/block-engine/run.sh makes the file and runs this.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "devices/block/aligned_buffer.h"
#include "devices/block/block_device.h"
#include "devices/block/raw_image.h"
#include "tests/bench/block-engine/uring_engine.h"
#include "vmm/fd.h"

namespace {

using devices::block::AlignedBuffer;
using devices::block::BlockDevice;
using devices::block::CacheMode;
using devices::block::Completion;
using devices::block::RawImage;
using Clock = std::chrono::steady_clock;

// What both engines are driven through: one buffer per request.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual void read(uint64_t offset, std::span<std::byte> buf, Completion done) = 0;
  virtual void write(uint64_t offset, std::span<const std::byte> buf, Completion done) = 0;
};

class WorkerEngine final : public Engine {
 public:
  WorkerEngine(const std::string& path, CacheMode cache)
      : dev_(RawImage::open(path, false, cache)) {}
  void read(uint64_t offset, std::span<std::byte> buf, Completion done) override {
    dev_.read(offset, {buf}, std::move(done));
  }
  void write(uint64_t offset, std::span<const std::byte> buf, Completion done) override {
    dev_.write(offset, {buf}, std::move(done));
  }

 private:
  BlockDevice dev_;
};

class UringFileEngine final : public Engine {
 public:
  // Opened as RawImage opens it: O_DIRECT for cache=none.
  UringFileEngine(const std::string& path, CacheMode cache)
      : fd_(::open(path.c_str(), O_RDWR | O_CLOEXEC | (cache == CacheMode::kNone ? O_DIRECT : 0))),
        engine_(checked(fd_, path)) {}
  void read(uint64_t offset, std::span<std::byte> buf, Completion done) override {
    engine_.readv(offset, {iovec{buf.data(), buf.size()}}, std::move(done));
  }
  void write(uint64_t offset, std::span<const std::byte> buf, Completion done) override {
    engine_.writev(offset, {iovec{const_cast<std::byte*>(buf.data()), buf.size()}},
                   std::move(done));
  }

 private:
  static int checked(const vmm::Fd& fd, const std::string& path) {
    if (!fd.valid()) throw std::system_error(errno, std::generic_category(), path);
    return fd.get();
  }
  vmm::Fd fd_;
  block_bench::UringEngine engine_;
};

enum class Kind { kWorker, kUring };

struct Workload {
  const char* name;
  uint64_t size;
  bool random;
  bool write;
};

struct Result {
  double iops;
  double mib_s;
  double p50_us;
  double p99_us;
};

// Drives `depth` requests in flight from this thread, which plays the vCPU: it submits, and
// waits only when every slot is busy. Latency is submission to the start of the completion
// callback (where a device would raise its interrupt).
class Driver {
 public:
  Driver(Engine& engine, const Workload& w, unsigned depth, uint64_t file_size)
      : engine_(engine), w_(w), file_size_(file_size), rng_(depth * 7919 + w.size) {
    for (unsigned i = 0; i < depth; ++i) {
      buffers_.emplace_back(w.size);
      auto b = buffers_.back().span();
      for (size_t j = 0; j < b.size(); ++j) b[j] = std::byte(j * 131 + i);
      free_.push_back(i);
    }
  }

  Result run(double warmup_s, double measure_s) {
    const auto start = Clock::now();
    const auto measure_from = start + std::chrono::duration<double>(warmup_s);
    const auto end = measure_from + std::chrono::duration<double>(measure_s);
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [this] { return !free_.empty(); });
      const auto now = Clock::now();
      if (now >= end) break;
      const unsigned slot = free_.front();
      free_.pop_front();
      counting_ = now >= measure_from;
      lock.unlock();
      submit(slot);
      lock.lock();
    }
    cv_.wait(lock, [this] { return free_.size() == buffers_.size(); });
    if (first_error_ != 0) {
      throw std::system_error(first_error_, std::generic_category(), "request failed");
    }
    std::sort(latencies_ns_.begin(), latencies_ns_.end());
    const double n = static_cast<double>(latencies_ns_.size());
    const auto pct = [&](double p) {
      return latencies_ns_.empty() ? 0.0 : latencies_ns_[static_cast<size_t>(p * (n - 1))] / 1000.0;
    };
    return {n / measure_s, n * static_cast<double>(w_.size) / measure_s / (1 << 20), pct(0.5),
            pct(0.99)};
  }

 private:
  void submit(unsigned slot) {
    const uint64_t offset = next_offset();
    const bool counted = counting_;
    const auto t0 = Clock::now();
    auto done = [this, slot, t0, counted](int error) {
      const auto ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
      {
        std::lock_guard lock(mutex_);
        // Requests issued in the warm-up do not count.
        if (counted) latencies_ns_.push_back(ns);
        if (error != 0 && first_error_ == 0) first_error_ = error;
        free_.push_back(slot);
      }
      cv_.notify_one();
    };
    if (w_.write) {
      engine_.write(offset, buffers_[slot].span(), std::move(done));
    } else {
      engine_.read(offset, buffers_[slot].span(), std::move(done));
    }
  }

  uint64_t next_offset() {
    const uint64_t slots = file_size_ / w_.size;
    if (w_.random) return std::uniform_int_distribution<uint64_t>(0, slots - 1)(rng_) * w_.size;
    const uint64_t offset = sequential_ * w_.size;
    sequential_ = (sequential_ + 1) % slots;
    return offset;
  }

  Engine& engine_;
  const Workload& w_;
  uint64_t file_size_;
  std::mt19937_64 rng_;  // the submitting thread's alone
  uint64_t sequential_ = 0;
  std::vector<AlignedBuffer> buffers_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<unsigned> free_;
  bool counting_ = false;
  std::vector<double> latencies_ns_;
  int first_error_ = 0;
};

std::unique_ptr<Engine> make(Kind k, const std::string& path, CacheMode cache) {
  if (k == Kind::kWorker) return std::make_unique<WorkerEngine>(path, cache);
  return std::make_unique<UringFileEngine>(path, cache);
}

// Reads the whole file once so that cache=writeback runs start from a warm page cache.
void preread(const std::string& path) {
  vmm::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw std::system_error(errno, std::generic_category(), path);
  std::vector<char> buf(1 << 20);
  while (::read(fd.get(), buf.data(), buf.size()) > 0) {
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("io_uring against BlockDevice's worker pool on a raw file; prints a table");
  std::string path;
  int rounds = 5;
  double seconds = 1.0;
  double warmup = 0.2;
  std::vector<unsigned> depths = {1, 4, 32};
  std::vector<std::string> caches = {"writeback", "none"};
  app.add_option("file", path, "raw file to run on (its contents are overwritten)")->required();
  app.add_option("--rounds", rounds, "rounds; engines alternate which goes first")
      ->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds, "measured seconds per run")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "unmeasured seconds before each run")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--depth", depths, "queue depths");
  app.add_option("--cache", caches, "cache modes: writeback, none");
  CLI11_PARSE(app, argc, argv);

  const Workload workloads[] = {{"4 KiB random read", 4096, true, false},
                                {"64 KiB sequential read", 65536, false, false},
                                {"4 KiB random write", 4096, true, true}};
  const uint64_t file_size = RawImage::open(path, true, CacheMode::kWriteback)->size();

  std::printf("%d rounds of %.1f s per engine and case, engines alternating; medians.\n", rounds,
              seconds);
  std::printf(
      "| cache     | workload               | depth | worker IOPS | io_uring IOPS | ratio |"
      " worker MiB/s | io_uring MiB/s | worker p50/p99 us | io_uring p50/p99 us | p50 ratio |\n");
  std::printf(
      "|-----------|------------------------|-------|-------------|---------------|-------|"
      "--------------|----------------|-------------------|---------------------|-----------|\n");
  for (const auto& cache_name : caches) {
    const auto cache = devices::block::parse_cache_mode(cache_name);
    if (!cache || *cache == CacheMode::kUnsafe) {
      std::fprintf(stderr, "cache must be writeback or none, not %s\n", cache_name.c_str());
      return 2;
    }
    for (const auto& w : workloads) {
      if (*cache == CacheMode::kWriteback) preread(path);
      for (const unsigned depth : depths) {
        std::map<Kind, std::vector<Result>> results;
        for (int round = 0; round < rounds; ++round) {
          const Kind order[2] = {round % 2 == 0 ? Kind::kWorker : Kind::kUring,
                                 round % 2 == 0 ? Kind::kUring : Kind::kWorker};
          for (const Kind k : order) {
            auto engine = make(k, path, *cache);
            Driver driver(*engine, w, depth, file_size);
            results[k].push_back(driver.run(warmup, seconds));
          }
        }
        const auto med = [&](Kind k, double Result::*field) {
          std::vector<double> v;
          for (const auto& r : results[k]) v.push_back(r.*field);
          return median(v);
        };
        const double wi = med(Kind::kWorker, &Result::iops);
        const double ui = med(Kind::kUring, &Result::iops);
        char lat[2][32] = {"", ""};
        char lat_ratio[16] = "";
        if (depth == 1) {
          const Kind kinds[2] = {Kind::kWorker, Kind::kUring};
          for (int i = 0; i < 2; ++i) {
            std::snprintf(lat[i], sizeof(lat[i]), "%.1f / %.1f", med(kinds[i], &Result::p50_us),
                          med(kinds[i], &Result::p99_us));
          }
          std::snprintf(lat_ratio, sizeof(lat_ratio), "%.2f",
                        med(Kind::kUring, &Result::p50_us) / med(Kind::kWorker, &Result::p50_us));
        }
        std::printf(
            "| %-9s | %-22s | %5u | %11.0f | %13.0f | %5.2f | %12.1f | %14.1f | %17s |"
            " %19s | %9s |\n",
            cache_name.c_str(), w.name, depth, wi, ui, ui / wi, med(Kind::kWorker, &Result::mib_s),
            med(Kind::kUring, &Result::mib_s), lat[0], lat[1], lat_ratio);
        std::fflush(stdout);
      }
    }
  }
  std::printf(
      "ratio: io_uring / worker of the medians (IOPS: above 1 means io_uring is faster;"
      " p50 latency: below 1 means io_uring is faster)\n");
  return 0;
}
