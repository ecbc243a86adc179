// The block device the emulated controllers (IDE now, others later) talk to.
//
// Requests are queued and run by worker threads, so the vCPU thread that submits one never waits
// on the disk; `done` runs on a worker thread when the request has finished, with 0 or an errno
// (EINVAL for a range outside the disk, EROFS for a write to a read-only disk, EIO, ENOSPC...).
// The buffers must stay valid until `done` runs. A flush makes every write whose completion was
// reported before the flush was submitted durable. Requests in flight together may complete in
// any order. A small worker pool, not io_uring: measured on raw files
// (tests/bench/block-engine/run.sh), io_uring's median latency at queue depth 1, where IDE runs,
// was 0.96-1.11 times the pool's, and at depths 4 and 32 it won only cached 4 KiB random reads
// (1.1-1.5x) while losing writes (0.25-0.9x). With the page cache the pool beats qemu-img
// (tests/bench/img/run.sh).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "devices/block/image.h"

namespace devices::block {

using Completion = std::function<void(int error)>;

class BlockDevice {
 public:
  static constexpr unsigned kDefaultWorkers = 4;

  explicit BlockDevice(std::unique_ptr<Image> image, unsigned workers = kDefaultWorkers);
  // Finishes every queued request, then stops the workers.
  ~BlockDevice();
  BlockDevice(const BlockDevice&) = delete;
  BlockDevice& operator=(const BlockDevice&) = delete;

  uint64_t size() const { return size_; }
  bool read_only() const { return read_only_; }

  void read(uint64_t offset, std::vector<std::span<std::byte>> iov, Completion done);
  void write(uint64_t offset, std::vector<std::span<const std::byte>> iov, Completion done);
  void flush(Completion done);
  void discard(uint64_t offset, uint64_t length, Completion done);
  void write_zeroes(uint64_t offset, uint64_t length, Completion done);

  // Waits until every request submitted so far has completed.
  void drain();

 private:
  enum class Op { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };
  struct Request {
    Op op;
    uint64_t offset = 0;
    uint64_t length = 0;
    std::vector<std::span<std::byte>> read_iov;
    std::vector<std::span<const std::byte>> write_iov;
    Completion done;
  };

  void submit(Request request);
  int run(Request& request);
  void worker();

  std::unique_ptr<Image> image_;
  const uint64_t size_;
  const bool read_only_;

  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<Request> queue_;
  unsigned in_flight_ = 0;  // queued plus running
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace devices::block
