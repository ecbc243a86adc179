// A bzImage's payload unpacked once and kept: unpacking Debian's xz kernel costs a second of host
// CPU on every boot (several under emulation), as much as the guest's own decompressor, so the
// gain of unpacking on the host comes from doing it once per kernel. The unpacked vmlinux is
// stored in a cache folder under a name made of the payload's format, length, CRC-32 and
// unpacked size, written to a temporary file and renamed into place (concurrent VMs never see a
// partial file), and read back by later boots (read, not mapped: page by page, a mapping of a
// file on a network file system such as 9p costs more than the unpacking it saves). A cached file
// that does not have the declared size is unpacked and written again. A folder that cannot be
// written only costs the time: the payload is unpacked in memory.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <vector>

#include "boot/kernel_payload.h"

namespace boot {

// $MINIVMM_CACHE_DIR, else $XDG_CACHE_HOME/minivmm, else $HOME/.cache/minivmm; empty when none
// of them is set.
std::filesystem::path default_kernel_cache_dir();

class UnpackedKernel {
 public:
  // The unpacked payload: read from `cache_dir` when an earlier run stored it there, unpacked
  // (and stored, when the folder can be written) otherwise. An empty `cache_dir`: no cache.
  // Throws what unpack_payload throws.
  UnpackedKernel(std::span<const std::byte> payload, PayloadFormat format,
                 const std::filesystem::path& cache_dir);

  std::span<const std::byte> bytes() const { return bytes_; }
  bool from_cache() const { return from_cache_; }

 private:
  bool read_cached(const std::filesystem::path& path, size_t size);
  void store(const std::filesystem::path& cache_dir, const std::filesystem::path& path) const;

  std::vector<std::byte> bytes_;
  bool from_cache_ = false;
};

}  // namespace boot
