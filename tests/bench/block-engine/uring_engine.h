// An io_uring engine for a file descriptor: readv and writev, with completions run on the
// engine's own thread.
//
// The engine's thread is the only one that touches the ring; callers queue a request and wake it
// through an eventfd that the ring itself reads. The reason is where io_uring runs completion
// work: a read or write finishing on the device queues task work to the task that submitted it.
// Were a vCPU thread the submitter, every completion would interrupt it (KVM_RUN returns EINTR)
// or wait until it next entered the kernel; on the engine's thread (SINGLE_ISSUER with
// DEFER_TASKRUN) that work runs while the thread waits for completions anyway.
#pragma once

#include <liburing.h>
#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "vmm/fd.h"

namespace block_bench {

class UringEngine {
 public:
  using Completion = std::function<void(int error)>;

  // Throws std::system_error when the ring cannot be set up.
  explicit UringEngine(int fd);
  // Finishes every queued request, then stops the thread.
  ~UringEngine();
  UringEngine(const UringEngine&) = delete;
  UringEngine& operator=(const UringEngine&) = delete;

  void readv(uint64_t offset, std::vector<iovec> iov, Completion done);
  void writev(uint64_t offset, std::vector<iovec> iov, Completion done);

 private:
  enum class Op { kRead, kWrite };
  struct Request {
    Op op;
    uint64_t offset;
    std::vector<iovec> iov;
    Completion done;
    size_t first = 0;  // iovecs before it are done (after short transfers)
  };

  void queue(Request request);
  void wake();
  void run(std::promise<void>& ready);
  void arm_wake(io_uring& ring);
  void issue(io_uring& ring, std::unique_ptr<Request> request);
  // Issues what callers queued; true once the destructor has asked to stop.
  bool take_queue(io_uring& ring);
  void complete(io_uring& ring, io_uring_cqe& cqe);
  static io_uring_sqe& sqe(io_uring& ring);

  const int fd_;
  vmm::Fd wake_fd_;
  uint64_t wake_count_ = 0;  // the ring reads the eventfd into this
  std::mutex mutex_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  unsigned in_flight_ = 0;  // on the ring; the engine thread's alone
  std::thread thread_;
};

}  // namespace block_bench
