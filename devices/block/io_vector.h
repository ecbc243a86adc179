// A list of host buffers with the operations the engines need: slicing a guest request into the
// pieces that map to different host places, zero-filling holes, gathering for compression checks.
//
// It holds iovec entries for preadv/pwritev, so a write vector loses its constness here; the
// engines never write into a vector made from a WriteVec.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "devices/block/image.h"

namespace devices::block {

class IoVector {
 public:
  IoVector() = default;
  explicit IoVector(ReadVec bufs);
  explicit IoVector(WriteVec bufs);
  explicit IoVector(std::span<std::byte> buf);
  explicit IoVector(std::span<const std::byte> buf);

  uint64_t size() const { return size_; }
  const std::vector<iovec>& iov() const { return iov_; }

  // The bytes [offset, offset + length) of this vector, as a vector of the same buffers.
  IoVector slice(uint64_t offset, uint64_t length) const;
  // Appends another vector's buffers after this one's.
  void append(const IoVector& other);

  // The buffers as spans, to hand to another Image.
  std::vector<std::span<std::byte>> spans() const;

  void fill_zero() const;
  void copy_from(std::span<const std::byte> src) const;  // src.size() must equal size()
  void copy_to(std::span<std::byte> dst) const;          // dst.size() must equal size()
  bool is_zero() const;

 private:
  void push(void* base, size_t len);

  std::vector<iovec> iov_;
  uint64_t size_ = 0;
};

}  // namespace devices::block
