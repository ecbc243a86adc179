// The synchronous image engine interface (raw, qcow2) and the vectored buffers it takes.
//
// An Image does the work; BlockDevice (block_device.h) runs it on worker threads so that no vCPU
// waits on the disk. Engines assume [offset, offset + length) lies inside size(): BlockDevice
// checks every request first. Run-time failures throw IoError carrying an errno.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace devices::block {

// What a guest buffer list looks like: scatter for reads, gather for writes.
using ReadVec = std::span<const std::span<std::byte>>;
using WriteVec = std::span<const std::span<const std::byte>>;

// QEMU's cache= modes for an image file: writeback (page cache, fdatasync on flush), none
// (O_DIRECT, fdatasync on flush), unsafe (page cache, flush ignored).
enum class CacheMode { kWriteback, kNone, kUnsafe };
std::optional<CacheMode> parse_cache_mode(std::string_view name);

class Image {
 public:
  virtual ~Image() = default;

  virtual std::string_view format() const = 0;
  virtual uint64_t size() const = 0;
  virtual bool read_only() const = 0;

  virtual void readv(uint64_t offset, ReadVec iov) = 0;
  virtual void writev(uint64_t offset, WriteVec iov) = 0;
  // Makes every write that completed before the call durable (fdatasync), metadata included.
  virtual void flush() = 0;
  // The range's contents become unspecified (qcow2: whole clusters are released, parts of
  // clusters are left alone, as QEMU does).
  virtual void discard(uint64_t offset, uint64_t length) = 0;
  // The range reads as zeros afterwards.
  virtual void write_zeroes(uint64_t offset, uint64_t length) = 0;

  void read(uint64_t offset, std::span<std::byte> buf) {
    const std::span<std::byte> one[1] = {buf};
    readv(offset, one);
  }
  void write(uint64_t offset, std::span<const std::byte> buf) {
    const std::span<const std::byte> one[1] = {buf};
    writev(offset, one);
  }
};

}  // namespace devices::block
