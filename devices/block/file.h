// An image file or block device opened for positional I/O, with QEMU's cache modes.
//
// Reads past the end of a regular file return zeros, as QEMU's file protocol does, so a cluster
// whose tail was never written reads correctly. Short transfers are retried; errors throw IoError.
// With cache=none the fd is O_DIRECT and unaligned requests go through an aligned bounce buffer.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>

#include "devices/block/image.h"
#include "devices/block/io_vector.h"

namespace devices::block {

class File {
 public:
  // Throws BlockError naming the path.
  static File open(const std::string& path, bool writable, CacheMode cache);
  static File create(const std::string& path, CacheMode cache);

  File(File&& other) noexcept;
  File& operator=(File&&) = delete;
  File(const File&) = delete;
  ~File();

  const std::string& path() const { return path_; }
  bool is_block_device() const { return block_device_; }
  bool writable() const { return writable_; }
  uint64_t size() const;

  void read_at(uint64_t offset, std::span<std::byte> buf) const;
  void readv_at(uint64_t offset, const IoVector& iov) const;
  void write_at(uint64_t offset, std::span<const std::byte> buf);
  void writev_at(uint64_t offset, const IoVector& iov);
  // fdatasync, except in cache=unsafe.
  void sync();
  void truncate(uint64_t size);
  // Best effort: frees the range where the file system or device can.
  void discard(uint64_t offset, uint64_t length);
  // The range reads as zeros afterwards (fallocate where it can, written zeros where not).
  void write_zeroes(uint64_t offset, uint64_t length);

 private:
  File(int fd, std::string path, bool writable, CacheMode cache);
  bool aligned(uint64_t offset, const IoVector& iov) const;
  void bounce_read(uint64_t offset, const IoVector& iov) const;
  void bounce_write(uint64_t offset, const IoVector& iov);

  int fd_;
  std::string path_;
  bool writable_;
  CacheMode cache_;
  bool block_device_ = false;
  std::mutex bounce_mutex_;  // serialises read-modify-write of partial O_DIRECT blocks
};

}  // namespace devices::block
