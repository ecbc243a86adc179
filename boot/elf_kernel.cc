#include "boot/elf_kernel.h"

#include <elf.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace boot {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::runtime_error("kernel: " + what); }

template <class T>
T read_at(std::span<const std::byte> image, uint64_t offset, const char* what) {
  if (offset > image.size() || image.size() - offset < sizeof(T))
    bad(fmt::format("truncated ELF file: no room for the {} at offset 0x{:x}", what, offset));
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(T));
  return value;
}

}  // namespace

bool is_elf(std::span<const std::byte> image) {
  return image.size() >= SELFMAG && std::memcmp(image.data(), ELFMAG, SELFMAG) == 0;
}

ElfKernel parse_elf_kernel(std::span<const std::byte> image) {
  auto eh = read_at<Elf64_Ehdr>(image, 0, "ELF header");
  if (!is_elf(image)) bad("not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_machine != EM_X86_64)
    bad("ELF file is not a little-endian x86-64 image");
  if (eh.e_type != ET_EXEC) bad("ELF file is not an executable (vmlinux)");
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) bad("ELF program header size is not 56");
  if (eh.e_phnum == 0 || eh.e_phnum > 64) bad(fmt::format("{} program headers", eh.e_phnum));

  ElfKernel kernel{eh.e_entry, {}, std::numeric_limits<uint64_t>::max(), 0};
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    auto ph =
        read_at<Elf64_Phdr>(image, eh.e_phoff + uint64_t{i} * sizeof(Elf64_Phdr), "program header");
    if (ph.p_type != PT_LOAD) continue;
    if (ph.p_offset > image.size() || ph.p_filesz > image.size() - ph.p_offset)
      bad(fmt::format("segment {} (0x{:x} bytes at file offset 0x{:x}) runs past the file end", i,
                      ph.p_filesz, ph.p_offset));
    if (ph.p_memsz < ph.p_filesz || ph.p_paddr + ph.p_memsz < ph.p_paddr)
      bad(fmt::format("segment {} has an impossible size", i));
    kernel.segments.push_back({ph.p_paddr, image.subspan(ph.p_offset, ph.p_filesz), ph.p_memsz});
    kernel.begin = std::min(kernel.begin, ph.p_paddr);
    kernel.end = std::max(kernel.end, ph.p_paddr + ph.p_memsz);
  }
  if (kernel.segments.empty()) bad("ELF file has no loadable segment");
  if (kernel.entry < kernel.begin || kernel.entry >= kernel.end)
    bad(fmt::format("entry point 0x{:x} is outside the loaded segments", kernel.entry));
  return kernel;
}

}  // namespace boot
