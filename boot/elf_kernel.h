// An uncompressed x86-64 Linux kernel (the ELF "vmlinux" inside every bzImage), booted without
// running the kernel's own decompressor: its PT_LOAD segments go to their physical addresses and
// the vCPU enters at the ELF entry point (startup_64) through the 64-bit boot protocol, as a
// bzImage's decompressor would after unpacking it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace boot {

struct ElfSegment {
  uint64_t paddr;
  std::span<const std::byte> data;  // p_filesz bytes; the rest up to p_memsz is .bss, which
                                    // the kernel clears itself (x86_64_start_kernel)
  uint64_t memsz;
};

struct ElfKernel {
  uint64_t entry;  // physical: vmlinux.lds sets ENTRY(phys_startup_64)
  std::vector<ElfSegment> segments;
  uint64_t begin;  // lowest and highest physical address of any segment
  uint64_t end;
};

bool is_elf(std::span<const std::byte> image);

// Validates an ELF64 x86-64 executable and its program headers against the file size; throws
// std::runtime_error("kernel: ...") naming what is wrong.
ElfKernel parse_elf_kernel(std::span<const std::byte> image);

}  // namespace boot
