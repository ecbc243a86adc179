#include <cstdio>
#include <sstream>

#include "devices/block/block_error.h"
#include "devices/block/open_image.h"
#include "devices/block/qcow2_image.h"
#include "devices/block/raw_image.h"
#include "vmm/img/commands.h"
#include "vmm/img/size_arg.h"

namespace img {

using namespace devices::block;

namespace {

// -o key=value,key=value (qemu-img's creation options that this tool knows).
void apply_options(const CreateArgs& args, Qcow2Image::CreateOptions& o, std::string& backing,
                   std::string& backing_format) {
  std::stringstream list(args.options);
  std::string item;
  while (std::getline(list, item, ',')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "cluster_size") {
      const auto v = parse_size(value);
      if (!v || *v > UINT32_MAX)
        throw BlockError(args.file, "invalid cluster_size '" + value + "'");
      o.cluster_size = static_cast<uint32_t>(*v);
    } else if (key == "compat") {
      if (value == "0.10" || value == "v2") {
        o.version = 2;
      } else if (value == "1.1" || value == "v3") {
        o.version = 3;
      } else {
        throw BlockError(args.file, "invalid compat '" + value + "' (0.10 or 1.1)");
      }
    } else if (key == "refcount_bits") {
      const auto v = parse_size(value);
      if (!v || *v > 64) throw BlockError(args.file, "invalid refcount_bits '" + value + "'");
      o.refcount_bits = static_cast<uint32_t>(*v);
    } else if (key == "backing_file") {
      backing = value;
    } else if (key == "backing_fmt") {
      backing_format = value;
    } else {
      throw BlockError(args.file, "unknown option '" + key + "'");
    }
  }
}

std::string resolve_backing(const std::string& image, const std::string& backing) {
  const auto slash = image.rfind('/');
  if (backing.empty() || backing[0] == '/' || slash == std::string::npos) return backing;
  return image.substr(0, slash + 1) + backing;
}

}  // namespace

void create_image(const CreateArgs& args, uint64_t size) {
  if (args.format == "raw") {
    if (!args.backing.empty() || !args.options.empty()) {
      throw BlockError(args.file, "raw images take no backing file or options");
    }
    RawImage::create(args.file, size);
    return;
  }
  if (args.format != "qcow2") throw BlockError(args.file, "unknown format '" + args.format + "'");
  Qcow2Image::CreateOptions o;
  o.size = size;
  std::string backing = args.backing;
  std::string backing_format = args.backing_format;
  apply_options(args, o, backing, backing_format);
  o.backing_file = backing;
  o.backing_format = backing_format;
  Qcow2Image::create(args.file, o);
}

int run_create(const CreateArgs& args) {
  CreateArgs a = args;
  std::optional<uint64_t> size;
  if (!a.size.empty()) {
    size = parse_size(a.size);
    if (!size) throw BlockError(a.file, "invalid size '" + a.size + "'");
  }
  if (!a.backing.empty()) {
    // The backing file must open; its format is probed when -F is left out, and its size is the
    // default virtual size, as qemu-img does.
    const std::string path = resolve_backing(a.file, a.backing);
    if (a.backing_format.empty()) a.backing_format = probe_format(path);
    OpenOptions bo;
    bo.format = a.backing_format;
    bo.read_only = true;
    const auto backing = open_image(path, bo);
    if (!size) size = backing->size();
  }
  if (!size) throw BlockError(a.file, "size is missing");
  if (!a.quiet) {
    std::printf("Formatting '%s', fmt=%s size=%llu\n", a.file.c_str(), a.format.c_str(),
                static_cast<unsigned long long>(*size));
  }
  create_image(a, *size);
  return 0;
}

}  // namespace img
