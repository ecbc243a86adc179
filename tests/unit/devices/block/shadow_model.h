// What an image should read as after a sequence of operations: a raw buffer that applies each
// operation the way the qcow2 engine defines it (discard releases whole clusters only).
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "devices/block/image.h"
#include "tests/unit/devices/block/test_util.h"

namespace block_test {

enum class OpKind { kWrite, kZero, kDiscard, kFlush, kReopen };

struct Op {
  OpKind kind;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t seed = 0;
};

// A random operation inside an image of `size` bytes with clusters of `cs` bytes.
inline Op random_op(std::mt19937_64& rng, uint64_t size, uint64_t cs, bool with_reopen) {
  const unsigned pick = static_cast<unsigned>(rng() % 100);
  Op op;
  op.seed = rng();
  if (pick < 8) {
    op.kind = OpKind::kFlush;
    return op;
  }
  if (with_reopen && pick < 11) {
    op.kind = OpKind::kReopen;
    return op;
  }
  op.kind = pick < 78 ? OpKind::kWrite : (pick < 90 ? OpKind::kZero : OpKind::kDiscard);
  const uint64_t max_len = std::min<uint64_t>(size, 3 * cs + 5000);
  op.length = 1 + rng() % max_len;
  if (rng() % 2 == 0) {  // cluster aligned half of the time
    op.length = std::max<uint64_t>(cs, op.length / cs * cs);
    op.length = std::min(op.length, size / cs * cs);
    op.offset = (rng() % (size / cs - op.length / cs + 1)) * cs;
  } else {
    op.offset = rng() % (size - op.length + 1);
  }
  return op;
}

class Shadow {
 public:
  Shadow(std::vector<std::byte> initial, std::vector<std::byte> backing, uint64_t cs, bool v3)
      : data_(std::move(initial)), backing_(std::move(backing)), cs_(cs), v3_(v3) {}

  const std::vector<std::byte>& data() const { return data_; }

  void apply(const Op& op) {
    switch (op.kind) {
      case OpKind::kWrite: {
        const auto bytes = pattern(op.length, op.seed);
        std::copy(bytes.begin(), bytes.end(), data_.begin() + static_cast<int64_t>(op.offset));
        break;
      }
      case OpKind::kZero:
        std::fill_n(data_.begin() + static_cast<int64_t>(op.offset), op.length, std::byte{0});
        break;
      case OpKind::kDiscard:
        for (uint64_t c = (op.offset + cs_ - 1) / cs_ * cs_; c < op.offset + op.length; c += cs_) {
          const uint64_t end = std::min<uint64_t>(c + cs_, data_.size());
          if (end > op.offset + op.length) break;  // a partial cluster is left alone
          for (uint64_t i = c; i < end; ++i) {
            // Version 3 sets the zero flag; version 2 unallocates, showing the backing file.
            data_[i] = (!v3_ && i < backing_.size()) ? backing_[i] : std::byte{0};
          }
        }
        break;
      case OpKind::kFlush:
      case OpKind::kReopen:
        break;
    }
  }

 private:
  std::vector<std::byte> data_;
  std::vector<std::byte> backing_;
  uint64_t cs_;
  bool v3_;
};

inline void run_op(devices::block::Image& image, const Op& op) {
  switch (op.kind) {
    case OpKind::kWrite:
      image.write(op.offset, pattern(op.length, op.seed));
      break;
    case OpKind::kZero:
      image.write_zeroes(op.offset, op.length);
      break;
    case OpKind::kDiscard:
      image.discard(op.offset, op.length);
      break;
    case OpKind::kFlush:
      image.flush();
      break;
    case OpKind::kReopen:
      break;
  }
}

}  // namespace block_test
