#include <algorithm>
#include <vector>

#include "devices/block/aligned_buffer.h"
#include "devices/block/io_vector.h"
#include "devices/block/open_image.h"
#include "vmm/img/commands.h"

namespace img {

using namespace devices::block;

int run_convert(const ConvertArgs& args) {
  OpenOptions in_options;
  in_options.format = args.in_format;
  in_options.read_only = true;
  const auto in = open_image(args.in, in_options);

  CreateArgs create;
  create.format = args.out_format;
  create.file = args.out;
  create.options = args.options;
  create_image(create, in->size());
  OpenOptions out_options;
  out_options.format = args.out_format;
  const auto out = open_image(args.out, out_options);

  // Chunks of zeros are skipped: the new image reads as zeros there already, and stays sparse.
  constexpr uint64_t kChunk = 2 << 20;
  AlignedBuffer buf(kChunk);
  // Run-time errors (IoError) already name their file.
  for (uint64_t pos = 0; pos < in->size();) {
    const uint64_t n = std::min(kChunk, in->size() - pos);
    const auto chunk = buf.span().first(n);
    in->read(pos, chunk);
    if (!IoVector(chunk).is_zero()) out->write(pos, chunk);
    pos += n;
  }
  out->flush();
  return 0;
}

}  // namespace img
