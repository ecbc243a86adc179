#include "devices/block/file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "devices/block/aligned_buffer.h"
#include "devices/block/block_error.h"

namespace devices::block {
namespace {

constexpr uint64_t kDirectAlign = AlignedBuffer::kAlign;

// After a short preadv/pwritev of `done` bytes: step `first` past the iovecs it completed and trim
// the one it stopped in, so the next call carries on where this one ended.
void skip_done(std::vector<iovec>& v, size_t& first, size_t done) {
  while (first < v.size() && done >= v[first].iov_len) done -= v[first++].iov_len;
  if (done > 0) {
    v[first].iov_base = static_cast<std::byte*>(v[first].iov_base) + done;
    v[first].iov_len -= done;
  }
}

[[noreturn]] void throw_io(int err, const std::string& path, const char* op) {
  throw IoError(err, path + ": " + op + " failed: " + std::strerror(err));
}

int open_flags(bool writable, CacheMode cache) {
  int flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC;
  if (cache == CacheMode::kNone) flags |= O_DIRECT;
  return flags;
}

}  // namespace

std::optional<CacheMode> parse_cache_mode(std::string_view name) {
  if (name == "writeback") return CacheMode::kWriteback;
  if (name == "none") return CacheMode::kNone;
  if (name == "unsafe") return CacheMode::kUnsafe;
  return std::nullopt;
}

File::File(int fd, std::string path, bool writable, CacheMode cache)
    : fd_(fd), path_(std::move(path)), writable_(writable), cache_(cache) {
  struct stat st {};
  if (fstat(fd_, &st) == 0) block_device_ = S_ISBLK(st.st_mode);
}

File::File(File&& other) noexcept
    : fd_(other.fd_),
      path_(std::move(other.path_)),
      writable_(other.writable_),
      cache_(other.cache_),
      block_device_(other.block_device_) {
  other.fd_ = -1;
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

File File::open(const std::string& path, bool writable, CacheMode cache) {
  const int fd = ::open(path.c_str(), open_flags(writable, cache));
  if (fd < 0) {
    const int err = errno;
    throw BlockError(path, std::string("cannot open: ") + std::strerror(err));
  }
  return File(fd, path, writable, cache);
}

File File::create(const std::string& path, CacheMode cache) {
  const int fd = ::open(path.c_str(), open_flags(true, cache) | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw BlockError(path, std::string("cannot create: ") + std::strerror(err));
  }
  return File(fd, path, true, cache);
}

uint64_t File::size() const {
  if (block_device_) {
    uint64_t bytes = 0;
    if (ioctl(fd_, BLKGETSIZE64, &bytes) != 0) throw_io(errno, path_, "BLKGETSIZE64");
    return bytes;
  }
  struct stat st {};
  if (fstat(fd_, &st) != 0) throw_io(errno, path_, "fstat");
  return static_cast<uint64_t>(st.st_size);
}

bool File::aligned(uint64_t offset, const IoVector& iov) const {
  if (cache_ != CacheMode::kNone) return true;
  if (offset % kDirectAlign != 0) return false;
  for (const auto& v : iov.iov()) {
    if (reinterpret_cast<uintptr_t>(v.iov_base) % kDirectAlign != 0 ||
        v.iov_len % kDirectAlign != 0) {
      return false;
    }
  }
  return true;
}

void File::read_at(uint64_t offset, std::span<std::byte> buf) const {
  readv_at(offset, IoVector(buf));
}

void File::readv_at(uint64_t offset, const IoVector& iov) const {
  if (!aligned(offset, iov)) return bounce_read(offset, iov);
  std::vector<iovec> v = iov.iov();
  size_t first = 0;
  uint64_t pos = offset;
  while (first < v.size()) {
    const int count = static_cast<int>(std::min<size_t>(v.size() - first, IOV_MAX));
    const ssize_t n = ::preadv(fd_, v.data() + first, count, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_io(errno, path_, "read");
    }
    if (n == 0) {
      // End of file: the rest reads as zeros.
      for (size_t i = first; i < v.size(); ++i) std::memset(v[i].iov_base, 0, v[i].iov_len);
      return;
    }
    pos += static_cast<uint64_t>(n);
    skip_done(v, first, static_cast<size_t>(n));
  }
}

void File::write_at(uint64_t offset, std::span<const std::byte> buf) {
  writev_at(offset, IoVector(buf));
}

void File::writev_at(uint64_t offset, const IoVector& iov) {
  if (!aligned(offset, iov)) return bounce_write(offset, iov);
  std::vector<iovec> v = iov.iov();
  size_t first = 0;
  uint64_t pos = offset;
  while (first < v.size()) {
    const int count = static_cast<int>(std::min<size_t>(v.size() - first, IOV_MAX));
    const ssize_t n = ::pwritev(fd_, v.data() + first, count, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_io(errno, path_, "write");
    }
    if (n == 0) throw_io(ENOSPC, path_, "write");
    pos += static_cast<uint64_t>(n);
    skip_done(v, first, static_cast<size_t>(n));
  }
}

void File::bounce_read(uint64_t offset, const IoVector& iov) const {
  const uint64_t start = offset / kDirectAlign * kDirectAlign;
  const uint64_t end = (offset + iov.size() + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
  AlignedBuffer bounce(end - start);
  readv_at(start, IoVector(bounce.span()));
  iov.copy_from(bounce.span().subspan(offset - start, iov.size()));
}

void File::bounce_write(uint64_t offset, const IoVector& iov) {
  const uint64_t start = offset / kDirectAlign * kDirectAlign;
  const uint64_t end = (offset + iov.size() + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
  AlignedBuffer bounce(end - start);
  std::lock_guard lock(bounce_mutex_);
  readv_at(start, IoVector(bounce.span()));
  iov.copy_to(bounce.span().subspan(offset - start, iov.size()));
  writev_at(start, IoVector(std::span<const std::byte>(bounce.span())));
}

void File::sync() {
  if (cache_ == CacheMode::kUnsafe) return;
  if (::fdatasync(fd_) != 0) throw_io(errno, path_, "fdatasync");
}

void File::truncate(uint64_t size) {
  if (block_device_) return;
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) throw_io(errno, path_, "ftruncate");
}

void File::discard(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  if (block_device_) {
    uint64_t range[2] = {offset, length};
    (void)ioctl(fd_, BLKDISCARD, range);  // advisory: a device without discard keeps the data
    return;
  }
  (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(length));
}

void File::write_zeroes(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  if (block_device_) {
    uint64_t range[2] = {offset, length};
    if (ioctl(fd_, BLKZEROOUT, range) == 0) return;
  } else if (::fallocate(fd_, FALLOC_FL_ZERO_RANGE, static_cast<off_t>(offset),
                         static_cast<off_t>(length)) == 0) {
    return;
  }
  constexpr uint64_t kChunk = 1 << 20;
  AlignedBuffer zeros(std::min(length, kChunk));
  for (uint64_t done = 0; done < length;) {
    const uint64_t n = std::min(length - done, kChunk);
    write_at(offset + done, zeros.span().first(n));
    done += n;
  }
}

}  // namespace devices::block
