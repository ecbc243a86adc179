#include "devices/block/io_vector.h"

#include <algorithm>
#include <cstring>

namespace devices::block {

IoVector::IoVector(ReadVec bufs) {
  for (const auto& b : bufs) push(b.data(), b.size());
}

IoVector::IoVector(WriteVec bufs) {
  for (const auto& b : bufs) push(const_cast<std::byte*>(b.data()), b.size());
}

IoVector::IoVector(std::span<std::byte> buf) { push(buf.data(), buf.size()); }

IoVector::IoVector(std::span<const std::byte> buf) {
  push(const_cast<std::byte*>(buf.data()), buf.size());
}

void IoVector::push(void* base, size_t len) {
  if (len == 0) return;
  iov_.push_back({base, len});
  size_ += len;
}

IoVector IoVector::slice(uint64_t offset, uint64_t length) const {
  IoVector out;
  for (const auto& v : iov_) {
    if (length == 0) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    const uint64_t take = std::min<uint64_t>(v.iov_len - offset, length);
    out.push(static_cast<std::byte*>(v.iov_base) + offset, take);
    offset = 0;
    length -= take;
  }
  return out;
}

void IoVector::append(const IoVector& other) {
  for (const auto& v : other.iov_) push(v.iov_base, v.iov_len);
}

std::vector<std::span<std::byte>> IoVector::spans() const {
  std::vector<std::span<std::byte>> out;
  out.reserve(iov_.size());
  for (const auto& v : iov_) out.emplace_back(static_cast<std::byte*>(v.iov_base), v.iov_len);
  return out;
}

void IoVector::fill_zero() const {
  for (const auto& v : iov_) std::memset(v.iov_base, 0, v.iov_len);
}

void IoVector::copy_from(std::span<const std::byte> src) const {
  size_t pos = 0;
  for (const auto& v : iov_) {
    std::memcpy(v.iov_base, src.data() + pos, v.iov_len);
    pos += v.iov_len;
  }
}

void IoVector::copy_to(std::span<std::byte> dst) const {
  size_t pos = 0;
  for (const auto& v : iov_) {
    std::memcpy(dst.data() + pos, v.iov_base, v.iov_len);
    pos += v.iov_len;
  }
}

bool IoVector::is_zero() const {
  for (const auto& v : iov_) {
    const auto* p = static_cast<const std::byte*>(v.iov_base);
    if (!std::all_of(p, p + v.iov_len, [](std::byte b) { return b == std::byte{0}; })) {
      return false;
    }
  }
  return true;
}

}  // namespace devices::block
