// minivmm-img: create, inspect, check, convert and benchmark disk images with minivmm's own
// block layer. Verbs and flags follow qemu-img where both have the same thing.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "devices/block/block_error.h"
#include "vmm/img/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"minivmm-img: disk image tool (raw, qcow2)"};
  app.require_subcommand(1);

  img::InfoArgs info;
  auto* info_cmd = app.add_subcommand("info", "Show an image's format, sizes and features");
  info_cmd->add_option("-f", info.format, "Image format (probed when left out)");
  info_cmd->add_option("FILE", info.file)->required();

  img::CheckArgs check;
  auto* check_cmd = app.add_subcommand(
      "check", "Check a qcow2 image's metadata (exit 0 clean, 2 corrupt, 3 leaked clusters)");
  check_cmd->add_option("-f", check.format, "Image format (probed when left out)");
  check_cmd->add_flag("-q", check.quiet, "Quiet");
  check_cmd->add_option("FILE", check.file)->required();

  img::CreateArgs create;
  auto* create_cmd = app.add_subcommand("create", "Create a new image");
  create_cmd->add_option("-f", create.format, "Format: raw or qcow2")->default_val("raw");
  create_cmd->add_option("-b", create.backing, "Backing file (qcow2)");
  create_cmd->add_option("-F", create.backing_format, "Backing file format");
  create_cmd->add_option("-o", create.options,
                         "Options: cluster_size, compat (0.10|1.1), refcount_bits, "
                         "backing_file, backing_fmt");
  create_cmd->add_flag("-q", create.quiet, "Quiet");
  create_cmd->add_option("FILE", create.file)->required();
  create_cmd->add_option("SIZE", create.size, "Virtual size (K, M, G, T suffixes)");

  img::ConvertArgs convert;
  auto* convert_cmd = app.add_subcommand("convert", "Copy an image into a new one");
  convert_cmd->add_option("-f", convert.in_format, "Input format (probed when left out)");
  convert_cmd->add_option("-O", convert.out_format, "Output format: raw or qcow2")->required();
  convert_cmd->add_option("-o", convert.options, "Output options, as for create");
  convert_cmd->add_flag("-q", convert.quiet, "Quiet");
  convert_cmd->add_option("IN", convert.in)->required();
  convert_cmd->add_option("OUT", convert.out)->required();

  img::BenchArgs bench;
  auto* bench_cmd = app.add_subcommand("bench", "Run a simple I/O benchmark on an image");
  bench_cmd->add_option("-c", bench.count, "Requests to send")->default_val(75000);
  bench_cmd->add_option("-d", bench.depth, "Requests in flight")->default_val(64);
  bench_cmd->add_option("-f", bench.format, "Image format (probed when left out)");
  bench_cmd->add_option("-o", bench.offset, "Offset of the first request")->default_val(0);
  bench_cmd->add_option("-s", bench.size, "Request size")->default_val("4096");
  bench_cmd->add_option("-S", bench.step, "Distance between request offsets (default: -s)");
  bench_cmd->add_option("-t", bench.cache, "Cache mode: writeback, none, unsafe")
      ->default_val("writeback");
  bench_cmd->add_flag("-w", bench.write, "Write instead of read");
  bench_cmd->add_flag("--random", bench.random, "Random offsets (aligned to -s) instead of steps");
  bench_cmd->add_option("--workers", bench.workers, "Worker threads (default: the block layer's)");
  bench_cmd->add_flag("-q", bench.quiet, "Quiet");
  bench_cmd->add_option("FILE", bench.file)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*info_cmd) return img::run_info(info);
    if (*check_cmd) return img::run_check(check);
    if (*create_cmd) return img::run_create(create);
    if (*convert_cmd) return img::run_convert(convert);
    if (*bench_cmd) return img::run_bench(bench);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "minivmm-img: %s\n", e.what());
    return 1;
  }
  return 1;
}
