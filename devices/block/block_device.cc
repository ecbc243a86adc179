#include "devices/block/block_device.h"

#include <cerrno>
#include <new>

#include "devices/block/block_error.h"

namespace devices::block {

BlockDevice::BlockDevice(std::unique_ptr<Image> image, unsigned workers)
    : image_(std::move(image)), size_(image_->size()), read_only_(image_->read_only()) {
  for (unsigned i = 0; i < std::max(1u, workers); ++i) workers_.emplace_back([this] { worker(); });
}

BlockDevice::~BlockDevice() {
  {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return in_flight_ == 0; });
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& t : workers_) t.join();
}

void BlockDevice::read(uint64_t offset, std::vector<std::span<std::byte>> iov, Completion done) {
  Request r{Op::kRead, offset, 0, std::move(iov), {}, std::move(done)};
  for (const auto& b : r.read_iov) r.length += b.size();
  submit(std::move(r));
}

void BlockDevice::write(uint64_t offset, std::vector<std::span<const std::byte>> iov,
                        Completion done) {
  Request r{Op::kWrite, offset, 0, {}, std::move(iov), std::move(done)};
  for (const auto& b : r.write_iov) r.length += b.size();
  submit(std::move(r));
}

void BlockDevice::flush(Completion done) {
  submit(Request{Op::kFlush, 0, 0, {}, {}, std::move(done)});
}

void BlockDevice::discard(uint64_t offset, uint64_t length, Completion done) {
  submit(Request{Op::kDiscard, offset, length, {}, {}, std::move(done)});
}

void BlockDevice::write_zeroes(uint64_t offset, uint64_t length, Completion done) {
  submit(Request{Op::kWriteZeroes, offset, length, {}, {}, std::move(done)});
}

void BlockDevice::submit(Request request) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(request));
    ++in_flight_;
  }
  work_.notify_one();
}

void BlockDevice::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return in_flight_ == 0; });
}

int BlockDevice::run(Request& r) {
  if (r.op != Op::kFlush && (r.offset > size_ || r.length > size_ - r.offset)) return EINVAL;
  if (r.op != Op::kRead && read_only_) return EROFS;
  try {
    switch (r.op) {
      case Op::kRead:
        image_->readv(r.offset, r.read_iov);
        break;
      case Op::kWrite:
        image_->writev(r.offset, r.write_iov);
        break;
      case Op::kFlush:
        image_->flush();
        break;
      case Op::kDiscard:
        image_->discard(r.offset, r.length);
        break;
      case Op::kWriteZeroes:
        image_->write_zeroes(r.offset, r.length);
        break;
    }
  } catch (const IoError& e) {
    return e.error();
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
  return 0;
}

void BlockDevice::worker() {
  for (;;) {
    Request r;
    {
      std::unique_lock lock(mutex_);
      work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      r = std::move(queue_.front());
      queue_.pop_front();
    }
    const int error = run(r);
    if (r.done) r.done(error);
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
    }
    idle_.notify_all();
  }
}

}  // namespace devices::block
