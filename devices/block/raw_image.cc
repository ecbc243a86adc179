#include "devices/block/raw_image.h"

#include "devices/block/block_error.h"

namespace devices::block {

std::unique_ptr<RawImage> RawImage::open(const std::string& path, bool read_only, CacheMode cache) {
  return std::make_unique<RawImage>(File::open(path, !read_only, cache));
}

void RawImage::create(const std::string& path, uint64_t size) {
  File file = File::create(path, CacheMode::kWriteback);
  try {
    file.truncate(size);
  } catch (const IoError& e) {
    throw BlockError(path, e.what());
  }
}

RawImage::RawImage(File file) : file_(std::move(file)), size_(file_.size()) {}

void RawImage::readv(uint64_t offset, ReadVec iov) { file_.readv_at(offset, IoVector(iov)); }

void RawImage::writev(uint64_t offset, WriteVec iov) { file_.writev_at(offset, IoVector(iov)); }

void RawImage::flush() { file_.sync(); }

void RawImage::discard(uint64_t offset, uint64_t length) { file_.discard(offset, length); }

void RawImage::write_zeroes(uint64_t offset, uint64_t length) {
  file_.write_zeroes(offset, length);
}

}  // namespace devices::block
