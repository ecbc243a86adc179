#include "devices/block/open_image.h"

#include "devices/block/block_error.h"
#include "devices/block/endian.h"
#include "devices/block/qcow2_header.h"
#include "devices/block/qcow2_image.h"
#include "devices/block/raw_image.h"

namespace devices::block {
namespace {

// QEMU has no fixed limit but needs one file descriptor per layer; a loop must end somewhere.
constexpr int kMaxChainDepth = 64;

std::unique_ptr<Image> open_layer(const std::string& path, const OpenOptions& options, int depth);

std::unique_ptr<Image> open_with_format(const std::string& path, const std::string& format,
                                        const OpenOptions& options, int depth) {
  if (format == "raw") return RawImage::open(path, options.read_only, options.cache);
  if (format == "qcow2") {
    auto opener = [&options, depth, path](const std::string& backing, const std::string& fmt) {
      if (depth + 1 >= kMaxChainDepth) throw BlockError(path, "backing chain is too long");
      OpenOptions b = options;
      b.read_only = true;
      b.format = fmt;
      return open_layer(backing, b, depth + 1);
    };
    return Qcow2Image::open(File::open(path, !options.read_only, options.cache), opener);
  }
  throw BlockError(path, "unknown format '" + format + "' (raw or qcow2)");
}

std::unique_ptr<Image> open_layer(const std::string& path, const OpenOptions& options, int depth) {
  const std::string format = options.format.empty() ? probe_format(path) : options.format;
  return open_with_format(path, format, options, depth);
}

}  // namespace

std::string probe_format(const std::string& path) {
  File file = File::open(path, false, CacheMode::kWriteback);
  std::byte magic[4] = {};
  try {
    if (file.size() >= sizeof(magic)) file.read_at(0, magic);
  } catch (const IoError& e) {
    throw BlockError(path, e.what());
  }
  return load_be<uint32_t>(magic, 0) == qcow2::kMagic ? "qcow2" : "raw";
}

std::unique_ptr<Image> open_image(const std::string& path, const OpenOptions& options) {
  return open_layer(path, options, 0);
}

}  // namespace devices::block
