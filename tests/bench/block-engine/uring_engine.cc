#include "tests/bench/block-engine/uring_engine.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace block_bench {
namespace {

constexpr unsigned kEntries = 128;
// user_data of the eventfd read; requests carry their own (never null) address.
constexpr uint64_t kWakeTag = 0;

}  // namespace

UringEngine::UringEngine(int fd) : fd_(fd), wake_fd_(eventfd(0, EFD_CLOEXEC)) {
  if (!wake_fd_.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
  std::promise<void> ready;
  auto started = ready.get_future();
  // The thread owns the promise: it may still be inside set_value when this constructor returns.
  thread_ = std::thread([this, ready = std::move(ready)]() mutable { run(ready); });
  try {
    started.get();
  } catch (...) {
    thread_.join();
    throw;
  }
}

UringEngine::~UringEngine() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  thread_.join();
}

void UringEngine::readv(uint64_t offset, std::vector<iovec> iov, Completion done) {
  queue(Request{Op::kRead, offset, std::move(iov), std::move(done)});
}

void UringEngine::writev(uint64_t offset, std::vector<iovec> iov, Completion done) {
  queue(Request{Op::kWrite, offset, std::move(iov), std::move(done)});
}

void UringEngine::queue(Request request) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(request));
  }
  wake();
}

void UringEngine::wake() {
  const uint64_t one = 1;
  // Cannot fail short of a counter overflow, which 2^64 - 1 wake-ups without a read rule out.
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

io_uring_sqe& UringEngine::sqe(io_uring& ring) {
  // A full submission queue is handed to the kernel to make room.
  for (;;) {
    if (io_uring_sqe* s = io_uring_get_sqe(&ring)) return *s;
    io_uring_submit(&ring);
  }
}

void UringEngine::arm_wake(io_uring& ring) {
  io_uring_sqe& s = sqe(ring);
  io_uring_prep_read(&s, wake_fd_.get(), &wake_count_, sizeof(wake_count_), 0);
  io_uring_sqe_set_data64(&s, kWakeTag);
}

void UringEngine::issue(io_uring& ring, std::unique_ptr<Request> r) {
  io_uring_sqe& s = sqe(ring);
  const unsigned count = static_cast<unsigned>(r->iov.size() - r->first);
  switch (r->op) {
    case Op::kRead:
      io_uring_prep_readv(&s, fd_, r->iov.data() + r->first, count, r->offset);
      break;
    case Op::kWrite:
      io_uring_prep_writev(&s, fd_, r->iov.data() + r->first, count, r->offset);
      break;
  }
  io_uring_sqe_set_data(&s, r.release());
}

bool UringEngine::take_queue(io_uring& ring) {
  std::deque<Request> taken;
  bool stopping;
  {
    std::lock_guard lock(mutex_);
    taken.swap(queue_);
    stopping = stopping_;
  }
  for (auto& r : taken) {
    ++in_flight_;
    issue(ring, std::make_unique<Request>(std::move(r)));
  }
  return stopping;
}

void UringEngine::complete(io_uring& ring, io_uring_cqe& cqe) {
  std::unique_ptr<Request> r(static_cast<Request*>(io_uring_cqe_get_data(&cqe)));
  const int res = cqe.res;
  if (res == -EINTR || res == -EAGAIN) return issue(ring, std::move(r));
  int error = res < 0 ? -res : 0;
  if (res >= 0) {
    // A short transfer carries on where it stopped; a read at the end of the file reads zeros.
    size_t done = static_cast<size_t>(res);
    while (r->first < r->iov.size() && done >= r->iov[r->first].iov_len) {
      done -= r->iov[r->first++].iov_len;
    }
    if (r->first < r->iov.size()) {
      if (res == 0) {
        if (r->op == Op::kWrite) {
          error = ENOSPC;
        } else {
          for (size_t i = r->first; i < r->iov.size(); ++i) {
            std::memset(r->iov[i].iov_base, 0, r->iov[i].iov_len);
          }
        }
      } else {
        r->iov[r->first].iov_base = static_cast<std::byte*>(r->iov[r->first].iov_base) + done;
        r->iov[r->first].iov_len -= done;
        r->offset += static_cast<uint64_t>(res);
        return issue(ring, std::move(r));
      }
    }
  }
  --in_flight_;
  if (r->done) r->done(error);
}

void UringEngine::run(std::promise<void>& ready) {
  // Set up here: with SINGLE_ISSUER the creating thread is the only one allowed to submit.
  io_uring ring;
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (const int err = io_uring_queue_init_params(kEntries, &ring, &params); err < 0) {
    ready.set_exception(
        std::make_exception_ptr(std::system_error(-err, std::generic_category(), "io_uring")));
    return;
  }
  ready.set_value();
  arm_wake(ring);
  bool stop = false;
  for (;;) {
    const int err = io_uring_submit_and_wait(&ring, 1);
    if (err < 0 && err != -EINTR && err != -EBUSY) {
      std::fprintf(stderr, "io_uring_submit_and_wait: %s\n", std::strerror(-err));
      std::abort();
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    bool woken = false;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      if (io_uring_cqe_get_data64(cqe) == kWakeTag) {
        woken = true;
      } else {
        complete(ring, *cqe);
      }
    }
    io_uring_cq_advance(&ring, seen);
    if (woken) {
      stop = take_queue(ring);
      arm_wake(ring);
    }
    if (stop && in_flight_ == 0) break;
  }
  io_uring_queue_exit(&ring);
}

}  // namespace block_bench
