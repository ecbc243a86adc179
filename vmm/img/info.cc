#include <sys/stat.h>

#include <cstdio>

#include "devices/block/block_error.h"
#include "devices/block/open_image.h"
#include "devices/block/qcow2_image.h"
#include "devices/block/raw_image.h"
#include "vmm/img/commands.h"
#include "vmm/img/size_arg.h"

namespace img {

using namespace devices::block;

namespace {

uint64_t disk_usage(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

// Info reads no guest data, so the backing file is not opened: a missing one is shown, not fatal.
std::unique_ptr<Qcow2Image> open_qcow2_alone(const std::string& path) {
  return Qcow2Image::open(File::open(path, false, CacheMode::kWriteback),
                          [](const std::string&, const std::string&) { return nullptr; });
}

}  // namespace

int run_info(const InfoArgs& args) {
  const std::string format = args.format.empty() ? probe_format(args.file) : args.format;
  std::printf("image: %s\nfile format: %s\n", args.file.c_str(), format.c_str());
  if (format == "raw") {
    const auto raw = RawImage::open(args.file, true, CacheMode::kWriteback);
    std::printf("virtual size: %s (%llu bytes)\ndisk size: %s\n", human_size(raw->size()).c_str(),
                static_cast<unsigned long long>(raw->size()),
                human_size(disk_usage(args.file)).c_str());
    return 0;
  }
  if (format != "qcow2") throw BlockError(args.file, "unknown format '" + format + "'");
  const auto image = open_qcow2_alone(args.file);
  const auto& h = image->header();
  std::printf("virtual size: %s (%llu bytes)\ndisk size: %s\ncluster_size: %llu\n",
              human_size(h.size).c_str(), static_cast<unsigned long long>(h.size),
              human_size(disk_usage(args.file)).c_str(),
              static_cast<unsigned long long>(h.cluster_size()));
  if (!h.backing_file.empty()) {
    std::printf("backing file: %s\n", h.backing_file.c_str());
    if (!h.backing_format.empty())
      std::printf("backing file format: %s\n", h.backing_format.c_str());
  }
  const bool v3 = h.version >= 3;
  std::printf("Format specific information:\n    compat: %s\n", v3 ? "1.1" : "0.10");
  std::printf("    refcount bits: %u\n", 1u << h.refcount_order);
  std::printf("    lazy refcounts: %s\n",
              (h.compatible_features & qcow2::kCompatLazyRefcounts) ? "true" : "false");
  std::printf("    dirty: %s\n",
              (h.incompatible_features & qcow2::kIncompatDirty) ? "true" : "false");
  std::printf("    corrupt: %s\n",
              (h.incompatible_features & qcow2::kIncompatCorrupt) ? "true" : "false");
  if (h.nb_snapshots > 0) std::printf("    snapshots: %u\n", h.nb_snapshots);
  return 0;
}

}  // namespace img
