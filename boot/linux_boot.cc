#include "boot/linux_boot.h"

#include <asm/bootparam.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

#include "boot/bzimage.h"
#include "boot/elf_kernel.h"
#include "boot/kernel_cache.h"
#include "boot/kernel_payload.h"

namespace boot {
namespace {

// The layout documented in linux_boot.h.
constexpr uint64_t kGdtAddr = 0x500;
constexpr uint64_t kBootParamsAddr = 0x7000;
constexpr uint64_t kStackTop = 0x8ff0;
constexpr uint64_t kPml4Addr = 0x9000;
constexpr uint64_t kPdptAddr = 0xa000;
constexpr uint64_t kPdAddr = 0xb000;
constexpr uint64_t kCmdlineAddr = 0x20000;
constexpr uint64_t kLowMemoryEnd = 0xa0000;  // the command line must end below this (boot.rst)
constexpr uint64_t kKernelAddr = 0x100000;   // where a bzImage's protected-mode code goes
constexpr uint64_t kEntryOffset = 0x200;     // the 64-bit entry point (boot.rst, XLF_KERNEL_64)
constexpr uint64_t kPageSize = 0x1000;
// The x86 kernel's COMMAND_LINE_SIZE less its NUL: what an ELF kernel, which has no header to
// say so, accepts.
constexpr uint32_t kElfCmdlineSize = 2047;

// boot.rst: type_of_loader 0xFF is "undefined" for a loader without an assigned id; heap_end_ptr
// is the end of the real-mode heap minus 0x200, as the sample configuration uses 0xe000 - 0x200.
constexpr uint8_t kLoaderUndefined = 0xff;
constexpr uint16_t kHeapEndPtr = 0xfe00;

// GDT descriptors (Intel SDM vol. 3A, 3.4.5 "Segment Descriptors"): base 0, limit 0xfffff with
// G=1 (4 GiB flat), P=1, DPL 0, S=1, accessed. Code: type 0xb (execute/read), L=1, D=0 for
// 64-bit mode. Data: type 0x3 (read/write), D/B=1.
constexpr uint64_t kGdtCode64 = 0x00af9b000000ffff;
constexpr uint64_t kGdtData = 0x00cf93000000ffff;

// Page-table entry bits (SDM vol. 3A, 4.5 "4-Level Paging"): present, writable, and for a
// page-directory entry, PS: it maps a 2 MiB page itself.
constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWritable = 1ull << 1;
constexpr uint64_t kPtePageSize = 1ull << 7;
constexpr size_t kEntriesPerTable = 512;
constexpr size_t kPageDirectories = 4;  // 4 x 1 GiB: identity map 0..4 GiB
constexpr uint64_t kLargePage = 2ull << 20;

// The setup header the kernel declares ends at most 0x202 + 127 (the jump is a signed byte); it
// must stay inside the hole boot_params keeps for it, before edd_mbr_sig_buffer.
static_assert(offsetof(boot_params, hdr) + (0x202 - 0x1f1) + 127 <=
              offsetof(boot_params, edd_mbr_sig_buffer));
static_assert(sizeof(boot_params) == kPageSize);

struct Range {
  uint64_t begin;
  uint64_t end;
};

// The end of the connected stretch of `ranges` (which may touch or overlap) that covers `gpa`,
// or `gpa` itself when no range covers it.
uint64_t covered_until(std::vector<Range> ranges, uint64_t gpa) {
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  uint64_t end = gpa;
  for (const Range& r : ranges)
    if (r.begin <= end && r.end > end) end = r.end;
  return end;
}

// The top of the RAM that starts at 1 MiB: contiguous guest memory that the e820 map also calls
// RAM, so that nothing we place there lands on firmware tables or in a hole.
uint64_t low_ram_top(const memory::GuestMemory& mem, std::span<const E820Entry> e820) {
  std::vector<Range> guest;
  for (const memory::Region& r : mem.regions()) guest.push_back({r.gpa, r.end()});
  std::vector<Range> usable;
  for (size_t i = 0; i < e820.size(); ++i) {
    const E820Entry& e = e820[i];
    if (e.addr + e.size < e.addr)
      throw std::runtime_error(
          fmt::format("e820: entry {} [0x{:x} + 0x{:x}] wraps", i, e.addr, e.size));
    if (e.type == kE820Ram) usable.push_back({e.addr, e.addr + e.size});
  }
  return std::min(covered_until(std::move(guest), kKernelAddr),
                  covered_until(std::move(usable), kKernelAddr));
}

// Where the kernel runs and decompresses: boot.rst (init_size) starts the init_size area at
// align_up(load address, kernel_alignment) for a relocatable kernel and at pref_address for any
// other; the decompressor (arch/x86/boot/compressed/head_64.S) also never goes below its
// LOAD_PHYSICAL_ADDR, which is pref_address, so take the larger of the two.
Range kernel_init_area(const setup_header& h) {
  uint64_t start = h.pref_address;
  if (h.relocatable_kernel != 0) {
    uint64_t align = h.kernel_alignment;  // a power of two, checked by parse_bzimage
    start = std::max(start, (kKernelAddr + align - 1) & ~(align - 1));
  }
  if (start < kKernelAddr)
    throw std::runtime_error(
        fmt::format("kernel: runs at 0x{:x}, below 1 MiB where the boot structures live", start));
  if (start > std::numeric_limits<uint64_t>::max() - h.init_size)
    throw std::runtime_error(fmt::format("kernel: pref_address 0x{:x} + init_size wraps", start));
  return {start, start + h.init_size};
}

void write_or_throw(const memory::GuestMemory& mem, uint64_t gpa, std::span<const std::byte> bytes,
                    const char* what) {
  if (!mem.write(gpa, bytes))
    throw std::runtime_error(
        fmt::format("boot: guest RAM too small: the {} at [0x{:x}, 0x{:x}) is not all RAM", what,
                    gpa, gpa + bytes.size()));
}

void check_cmdline(const std::string& cmdline, uint32_t cmdline_size) {
  if (cmdline.find('\0') != std::string::npos)
    throw std::runtime_error("cmdline: contains a NUL byte");
  // cmdline_size counts the characters without the terminating NUL (boot.rst).
  if (cmdline.size() > cmdline_size)
    throw std::runtime_error(
        fmt::format("cmdline: {} bytes, the kernel accepts at most {} (cmdline_size)",
                    cmdline.size(), cmdline_size));
  if (cmdline.size() + 1 > kLowMemoryEnd - kCmdlineAddr)
    throw std::runtime_error(fmt::format("cmdline: {} bytes do not fit between 0x{:x} and 0x{:x}",
                                         cmdline.size(), kCmdlineAddr, kLowMemoryEnd));
}

// The highest page-aligned address for `size` bytes ending at or below `top`, and not below
// `floor`; throws when there is none.
uint64_t place_initrd(uint64_t size, uint64_t floor, uint64_t top) {
  if (size > top || ((top - size) & ~(kPageSize - 1)) < floor)
    throw std::runtime_error(fmt::format(
        "initrd: {} bytes do not fit between the kernel's end 0x{:x} and 0x{:x} (the lower of "
        "the top of RAM above 1 MiB and initrd_addr_max + 1)",
        size, floor, top));
  return (top - size) & ~(kPageSize - 1);
}

std::vector<uint64_t> identity_page_tables() {
  // PML4, then PDPT, then the page directories, one 4 KiB page each, back to back from kPml4Addr.
  std::vector<uint64_t> t((2 + kPageDirectories) * kEntriesPerTable, 0);
  t[0] = kPdptAddr | kPtePresent | kPteWritable;
  for (size_t d = 0; d < kPageDirectories; ++d) {
    t[kEntriesPerTable + d] = (kPdAddr + d * kPageSize) | kPtePresent | kPteWritable;
    for (size_t e = 0; e < kEntriesPerTable; ++e) {
      uint64_t gpa = (d * kEntriesPerTable + e) * kLargePage;
      t[(2 + d) * kEntriesPerTable + e] = gpa | kPtePresent | kPteWritable | kPtePageSize;
    }
  }
  return t;
}

uint32_t low32(uint64_t v) { return static_cast<uint32_t>(v); }
uint32_t high32(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

}  // namespace

BootState load_linux(const memory::GuestMemory& mem, const LinuxImages& images,
                     std::span<const E820Entry> e820, uint64_t acpi_rsdp_gpa) {
  // Check everything before writing anything. Both formats come down to pieces to copy, the RAM
  // the kernel claims, its entry point and the setup header to hand it.
  std::vector<std::pair<uint64_t, std::span<const std::byte>>> pieces;
  setup_header h{};
  std::span<const std::byte> header_bytes;
  uint64_t kernel_begin = kKernelAddr;
  uint64_t kernel_end = 0;
  uint64_t entry = 0;
  // The ELF kernel to enter directly: the file itself, or a bzImage's payload unpacked here.
  std::optional<UnpackedKernel> unpacked;
  std::span<const std::byte> elf_image;
  if (is_elf(images.kernel)) {
    elf_image = images.kernel;
    // No setup header in the file: write the one a boot loader would have passed on (boot.rst,
    // "The Real-Mode Kernel Header"), declaring the protocol version this loader follows.
    h.boot_flag = 0xaa55;
    h.header = 0x53726448;  // "HdrS"
    h.version = kMinBootProtocol;
    h.cmdline_size = kElfCmdlineSize;
    h.initrd_addr_max = 0x7fffffff;
    h.kernel_alignment = 0x200000;
    h.xloadflags = XLF_KERNEL_64;
    header_bytes = std::as_bytes(std::span(&h, 1));
  } else {
    BzImage kernel = parse_bzimage(images.kernel);
    h = kernel.header;
    header_bytes = kernel.header_bytes;
    const std::span<const std::byte> payload = payload_of(kernel);
    const std::optional<PayloadFormat> format = payload_format(payload);
    if (images.unpack_on_host && format) {
      unpacked.emplace(payload, *format, images.unpack_cache);
      elf_image = unpacked->bytes();
      if (!is_elf(elf_image))
        throw std::runtime_error(
            unpacked->from_cache()
                ? fmt::format("kernel: the unpacked kernel kept in {} is not an ELF image; "
                              "delete it",
                              images.unpack_cache.string())
                : fmt::format("kernel: the bzImage's {} payload does not unpack to an ELF image",
                              format_name(*format)));
      spdlog::info(
          "kernel: {} payload {} ({} bytes of vmlinux); no KASLR", format_name(*format),
          unpacked->from_cache() ? "unpacked earlier, from the cache" : "unpacked on the host",
          elf_image.size());
    } else {
      Range init_area = kernel_init_area(h);
      kernel_end = std::max(kKernelAddr + kernel.protected_mode.size(), init_area.end);
      pieces.push_back({kKernelAddr, kernel.protected_mode});
      entry = kKernelAddr + kEntryOffset;
    }
  }
  if (!elf_image.empty()) {
    ElfKernel elf = parse_elf_kernel(elf_image);
    if (elf.begin < kKernelAddr)
      throw std::runtime_error(
          fmt::format("kernel: ELF segment at 0x{:x} is below 1 MiB, where the boot data "
                      "lives",
                      elf.begin));
    for (const ElfSegment& seg : elf.segments) pieces.push_back({seg.paddr, seg.data});
    kernel_begin = elf.begin;
    kernel_end = elf.end;
    entry = elf.entry;
  }
  check_cmdline(images.cmdline, h.cmdline_size);
  if (e820.size() > kMaxE820Entries)
    throw std::runtime_error(fmt::format("e820: {} entries, the zero page holds at most {}",
                                         e820.size(), kMaxE820Entries));

  uint64_t ram_top = low_ram_top(mem, e820);
  if (kernel_end > ram_top)
    throw std::runtime_error(
        fmt::format("boot: guest RAM too small: the kernel needs RAM from 0x{:x} to 0x{:x}, "
                    "RAM from 1 MiB ends at 0x{:x}",
                    kernel_begin, kernel_end, ram_top));
  uint64_t initrd_addr = 0;
  if (!images.initrd.empty())
    initrd_addr = place_initrd(images.initrd.size(), kernel_end,
                               std::min(ram_top, uint64_t{h.initrd_addr_max} + 1));

  boot_params params{};
  std::memcpy(reinterpret_cast<std::byte*>(&params) + offsetof(boot_params, hdr),
              header_bytes.data(), header_bytes.size());
  params.hdr.type_of_loader = kLoaderUndefined;
  params.hdr.loadflags |= CAN_USE_HEAP;
  params.hdr.heap_end_ptr = kHeapEndPtr;
  params.hdr.cmd_line_ptr = low32(kCmdlineAddr);
  params.ext_cmd_line_ptr = high32(kCmdlineAddr);
  params.hdr.ramdisk_image = low32(initrd_addr);
  params.ext_ramdisk_image = high32(initrd_addr);
  params.hdr.ramdisk_size = low32(images.initrd.size());
  params.ext_ramdisk_size = high32(images.initrd.size());
  params.e820_entries = static_cast<uint8_t>(e820.size());
  for (size_t i = 0; i < e820.size(); ++i) {
    params.e820_table[i].addr = e820[i].addr;
    params.e820_table[i].size = e820[i].size;
    params.e820_table[i].type = e820[i].type;
  }
  params.acpi_rsdp_addr = acpi_rsdp_gpa;

  const std::array<uint64_t, 4> gdt = {0, 0, kGdtCode64, kGdtData};
  static_assert(kBootCodeSelector == 2 * sizeof(uint64_t) &&
                kBootDataSelector == 3 * sizeof(uint64_t));
  std::vector<uint64_t> tables = identity_page_tables();

  write_or_throw(mem, kGdtAddr, std::as_bytes(std::span(gdt)), "GDT");
  write_or_throw(mem, kBootParamsAddr, std::as_bytes(std::span(&params, 1)), "boot_params");
  write_or_throw(mem, kPml4Addr, std::as_bytes(std::span(tables)), "page tables");
  std::span<const char> cmdline(images.cmdline.c_str(), images.cmdline.size() + 1);
  write_or_throw(mem, kCmdlineAddr, std::as_bytes(cmdline), "command line");
  for (const auto& [gpa, bytes] : pieces) write_or_throw(mem, gpa, bytes, "kernel");
  if (!images.initrd.empty()) write_or_throw(mem, initrd_addr, images.initrd, "initrd");

  return BootState{
      .entry_rip = entry,
      .boot_params_gpa = kBootParamsAddr,
      .cr3 = kPml4Addr,
      .gdt_base = kGdtAddr,
      .gdt_limit = static_cast<uint16_t>(sizeof(gdt) - 1),
      .stack_rsp = kStackTop,
  };
}

}  // namespace boot
