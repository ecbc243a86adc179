// The verbs of minivmm-img. Each returns the process exit status and throws BlockError (one line
// naming the file and the problem) for anything that stops it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace img {

struct InfoArgs {
  std::string file;
  std::string format;
};
int run_info(const InfoArgs& args);

struct CheckArgs {
  std::string file;
  std::string format;
  bool quiet = false;
};
// 0 clean, 2 corruptions, 3 leaks only, 63 format without checks (as qemu-img).
int run_check(const CheckArgs& args);

struct CreateArgs {
  std::string format = "raw";
  std::string file;
  std::string size;  // empty: the backing file's size
  std::string backing;
  std::string backing_format;
  std::string options;  // -o key=value,...
  bool quiet = false;
};
int run_create(const CreateArgs& args);
// Creates args.file with the given virtual size (args.size is ignored); shared with convert.
void create_image(const CreateArgs& args, uint64_t size);

struct ConvertArgs {
  std::string in;
  std::string out;
  std::string in_format;
  std::string out_format = "raw";
  std::string options;
  bool quiet = false;
};
int run_convert(const ConvertArgs& args);

struct BenchArgs {
  std::string file;
  std::string format;
  uint64_t count = 75000;
  uint64_t depth = 64;
  uint64_t offset = 0;
  std::string size = "4096";
  std::string step;  // empty: the buffer size
  std::string cache = "writeback";
  bool write = false;
  bool random = false;
  unsigned workers = 0;  // 0: the default pool size
  bool quiet = false;
};
int run_bench(const BenchArgs& args);

}  // namespace img
