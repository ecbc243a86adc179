#include "boot/kernel_cache.h"

#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace boot {
namespace {

std::filesystem::path env_path(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::filesystem::path() : std::filesystem::path(value);
}

// Writes all of `data` to `fd`; false (errno set) on failure.
bool write_all(int fd, std::span<const std::byte> data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data = data.subspan(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::filesystem::path default_kernel_cache_dir() {
  if (auto dir = env_path("MINIVMM_CACHE_DIR"); !dir.empty()) return dir;
  if (auto dir = env_path("XDG_CACHE_HOME"); !dir.empty()) return dir / "minivmm";
  if (auto dir = env_path("HOME"); !dir.empty()) return dir / ".cache" / "minivmm";
  return {};
}

UnpackedKernel::UnpackedKernel(std::span<const std::byte> payload, PayloadFormat format,
                               const std::filesystem::path& cache_dir) {
  std::filesystem::path path;
  const std::optional<uint32_t> declared = declared_size(payload);
  if (!cache_dir.empty() && declared) {
    const auto crc = crc32_z(0, reinterpret_cast<const Bytef*>(payload.data()), payload.size());
    path = cache_dir / fmt::format("vmlinux-{}-{}-{:08x}-{}", format_name(format), payload.size(),
                                   crc, *declared);
    if (*declared <= kMaxUnpackedKernel && read_cached(path, *declared)) return;
  }
  bytes_ = unpack_payload(payload, format);
  if (!path.empty()) store(cache_dir, path);
}

bool UnpackedKernel::read_cached(const std::filesystem::path& path, size_t size) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) == size;
  if (ok) {
    bytes_.resize(size);
    for (size_t done = 0; ok && done < size;) {
      const ssize_t n = read(fd, bytes_.data() + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      done += ok ? static_cast<size_t>(n) : 0;
    }
  }
  close(fd);
  if (!ok) {
    spdlog::debug("kernel cache: {} is unusable; unpacking again", path.string());
    bytes_.clear();
    return false;
  }
  from_cache_ = true;
  return true;
}

void UnpackedKernel::store(const std::filesystem::path& cache_dir,
                           const std::filesystem::path& path) const {
  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  std::string temp = path.string() + ".XXXXXX";
  const int fd = ec ? -1 : mkstemp(temp.data());
  if (fd < 0) {
    spdlog::debug("kernel cache: cannot write in {}: {}", cache_dir.string(),
                  ec ? ec.message() : std::strerror(errno));
    return;
  }
  const bool written = write_all(fd, bytes_) && fchmod(fd, 0644) == 0;
  const int saved = errno;
  close(fd);
  if (!written || rename(temp.c_str(), path.c_str()) != 0) {
    spdlog::debug("kernel cache: cannot store {}: {}", path.string(),
                  std::strerror(written ? errno : saved));
    unlink(temp.c_str());
  }
}

}  // namespace boot
