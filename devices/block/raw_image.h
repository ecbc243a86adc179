// The raw format: guest offset N is file offset N. Regular files and block devices.
#pragma once

#include <memory>
#include <string>

#include "devices/block/file.h"
#include "devices/block/image.h"

namespace devices::block {

class RawImage final : public Image {
 public:
  // Throws BlockError naming the path.
  static std::unique_ptr<RawImage> open(const std::string& path, bool read_only, CacheMode cache);
  // A new, sparse raw file of `size` bytes.
  static void create(const std::string& path, uint64_t size);

  explicit RawImage(File file);

  std::string_view format() const override { return "raw"; }
  uint64_t size() const override { return size_; }
  bool read_only() const override { return !file_.writable(); }

  void readv(uint64_t offset, ReadVec iov) override;
  void writev(uint64_t offset, WriteVec iov) override;
  void flush() override;
  void discard(uint64_t offset, uint64_t length) override;
  void write_zeroes(uint64_t offset, uint64_t length) override;

 private:
  File file_;
  uint64_t size_;
};

}  // namespace devices::block
