// libFuzzer target: open the input as a qcow2 image (read-write, in a memfd), then read, write,
// zero, discard, flush and check it. Any crash, sanitizer report or hang is a bug; errors thrown
// as BlockError or IoError are the expected answer to a hostile image.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "devices/block/block_error.h"
#include "devices/block/file.h"
#include "devices/block/qcow2_image.h"

using namespace devices::block;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("qcow2-fuzz", 0);
  if (fd < 0) return 0;
  if (write(fd, data, size) != static_cast<ssize_t>(size)) {
    close(fd);
    return 0;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    auto image = Qcow2Image::open(File::open(path, true, CacheMode::kUnsafe),
                                  [](const std::string&, const std::string&) { return nullptr; });
    const uint64_t vsize = image->size();
    std::vector<std::byte> buf(70000, std::byte{0x5a});
    // Offsets picked from the input's last bytes, so the fuzzer steers them too.
    uint64_t seed = 0;
    if (size >= 8) std::memcpy(&seed, data + size - 8, sizeof(seed));
    for (int i = 0; i < 6 && vsize > 0; ++i) {
      const uint64_t len = std::min<uint64_t>(vsize, 1 + (seed & 0xffff));
      const uint64_t off = (seed >> 16) % (vsize - len + 1);
      const std::span<std::byte> piece(buf.data(), len);
      try {
        switch (i % 3) {
          case 0:
            image->read(off, piece);
            break;
          case 1:
            image->write(off, piece);
            break;
          default:
            (i == 2 ? image->write_zeroes(off, len) : image->discard(off, len));
            break;
        }
      } catch (const IoError&) {
      }
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    try {
      image->flush();
      image->check();
    } catch (const IoError&) {
    }
  } catch (const BlockError&) {
  } catch (const IoError&) {
  }
  close(fd);
  return 0;
}
