// Guest side of the IDE benchmark: direct I/O on a block device, timed inside the guest.
//
//   diskbench DEVICE MIB RANDOM_READS
//
// 1. sequential write of MIB MiB in 1 MiB requests (O_DIRECT), then fdatasync;
// 2. sequential read of the same MIB MiB in 1 MiB requests (O_DIRECT);
// 3. RANDOM_READS reads of 4 KiB at random 4 KiB-aligned offsets inside those MIB MiB.
// Prints "BENCH seq_write_mib_s X", "BENCH seq_read_mib_s X" and "BENCH rand_read_iops X"; what
// dd with oflag=direct would show, without depending on which dd the image has.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s DEVICE MIB RANDOM_READS\n", argv[0]);
    return 2;
  }
  const long mib = atol(argv[2]);
  const long reads = atol(argv[3]);
  const size_t chunk = 1 << 20;
  int fd = open(argv[1], O_RDWR | O_DIRECT);
  if (fd < 0) die("open");
  void* buf;
  if (posix_memalign(&buf, 4096, chunk) != 0) die("posix_memalign");
  // Data that no layer can mistake for zeroes.
  for (size_t i = 0; i < chunk; ++i) ((unsigned char*)buf)[i] = (unsigned char)(i * 131 + 7);

  double t = now();
  for (long i = 0; i < mib; ++i)
    if (pwrite(fd, buf, chunk, (off_t)i * (off_t)chunk) != (ssize_t)chunk) die("pwrite");
  if (fdatasync(fd) != 0) die("fdatasync");
  printf("BENCH seq_write_mib_s %.1f\n", (double)mib / (now() - t));

  t = now();
  for (long i = 0; i < mib; ++i)
    if (pread(fd, buf, chunk, (off_t)i * (off_t)chunk) != (ssize_t)chunk) die("pread");
  printf("BENCH seq_read_mib_s %.1f\n", (double)mib / (now() - t));

  const uint64_t blocks = (uint64_t)mib * (chunk / 4096);
  uint64_t x = 88172645463325252ull;  // xorshift64: the same offsets in every run
  t = now();
  for (long i = 0; i < reads; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if (pread(fd, buf, 4096, (off_t)((x % blocks) * 4096)) != 4096) die("pread 4k");
  }
  printf("BENCH rand_read_iops %.0f\n", (double)reads / (now() - t));
  fflush(stdout);
  close(fd);
  return 0;
}
