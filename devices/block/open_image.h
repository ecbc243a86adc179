// Opening an image by format (or by probing its first bytes), with its backing chain.
#pragma once

#include <memory>
#include <string>

#include "devices/block/image.h"

namespace devices::block {

struct OpenOptions {
  std::string format;  // "raw", "qcow2", or "" to probe
  bool read_only = false;
  CacheMode cache = CacheMode::kWriteback;
};

// Throws BlockError naming the file and the problem. Backing files are opened read-only, with the
// format the header extension names, or else probed (only the qcow2 magic is looked at, so a raw
// backing file is never taken for anything with metadata of its own but qcow2).
std::unique_ptr<Image> open_image(const std::string& path, const OpenOptions& options);

// "qcow2" when the file starts with the qcow2 magic, else "raw". Throws BlockError.
std::string probe_format(const std::string& path);

}  // namespace devices::block
