#include <cstdio>

#include "devices/block/block_error.h"
#include "devices/block/open_image.h"
#include "devices/block/qcow2_image.h"
#include "vmm/img/commands.h"

namespace img {

using namespace devices::block;

int run_check(const CheckArgs& args) {
  const std::string format = args.format.empty() ? probe_format(args.file) : args.format;
  if (format != "qcow2") {
    std::fprintf(stderr, "minivmm-img: %s: format '%s' does not support checks\n",
                 args.file.c_str(), format.c_str());
    return 63;
  }
  // The check reads metadata only: the backing chain is not needed.
  const auto image =
      Qcow2Image::open(File::open(args.file, false, CacheMode::kWriteback),
                       [](const std::string&, const std::string&) { return nullptr; });
  const CheckResult r = image->check();  // an IoError names the file itself
  if (!args.quiet) {
    for (const auto& m : r.messages) std::printf("%s\n", m.c_str());
    if (r.corruptions > 0) {
      std::printf(
          "\n%llu errors were found on the image.\nData may be corrupted, or further writes to "
          "the image may corrupt it.\n",
          static_cast<unsigned long long>(r.corruptions));
    }
    if (r.leaks > 0) {
      std::printf(
          "\n%llu leaked clusters were found on the image.\nThis means waste of disk space, but "
          "no harm to data.\n",
          static_cast<unsigned long long>(r.leaks));
    }
    if (r.corruptions == 0 && r.leaks == 0) std::printf("No errors were found on the image.\n");
  }
  if (r.corruptions > 0) return 2;
  if (r.leaks > 0) return 3;
  return 0;
}

}  // namespace img
