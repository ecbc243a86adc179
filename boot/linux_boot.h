// Direct boot of a 64-bit Linux bzImage: the 64-bit boot protocol of
// Documentation/arch/x86/boot.rst ("64-bit Boot Protocol"), with no firmware and no real-mode
// setup code. load_linux() writes everything the kernel expects into guest RAM and returns the
// register state the VMM loads into the bootstrap processor.
//
// Guest physical layout it writes (everything below 1 MiB stays under 0xA0000, the start of the
// legacy VGA/BIOS hole):
//
//   0x000500  GDT, 4 entries: null, null, __BOOT_CS (0x10) flat 64-bit code, __BOOT_DS (0x18)
//             flat data. The 64-bit protocol names exactly these two selectors.
//   0x007000  boot_params, the "zero page" (4 KiB)
//   0x008ff0  initial stack top (grows down towards 0x8000)
//   0x009000  PML4; entry 0 -> PDPT
//   0x00a000  PDPT; entries 0..3 -> the four page directories
//   0x00b000  4 page directories (0xb000..0xefff) of 2 MiB pages identity-mapping 0..4 GiB
//   0x020000  kernel command line, NUL-terminated (the protocol wants it below 0xA0000)
//   0x100000  protected-mode kernel; its entry point is at +0x200
//   top       initrd, at the highest page-aligned address below both initrd_addr_max + 1 and the
//             top of the RAM that starts at 1 MiB, above everything the kernel claims (init_size)
//
// Every write goes through GuestMemory's checked accessors; a layout that does not fit is a
// std::runtime_error naming what did not fit, never an out-of-bounds write.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "memory/guest_memory.h"

namespace boot {

// E820 address range types (ACPI spec, "System Address Map Interfaces", Address Range Types).
inline constexpr uint32_t kE820Ram = 1;
inline constexpr uint32_t kE820Reserved = 2;
inline constexpr uint32_t kE820Acpi = 3;

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
};

// The zero page holds at most this many e820 entries (E820_MAX_ENTRIES_ZEROPAGE).
inline constexpr size_t kMaxE820Entries = 128;

struct LinuxImages {
  std::span<const std::byte> kernel;  // the bzImage file
  std::span<const std::byte> initrd;  // may be empty: no initrd
  std::string cmdline;
  // A bzImage whose payload is gzip, xz or zstd is unpacked here and its ELF kernel entered
  // directly (boot/kernel_payload.h), instead of running the kernel's own decompressor; the
  // unpacked kernel is kept in `unpack_cache` for later boots (boot/kernel_cache.h; empty: not
  // kept).
  bool unpack_on_host = false;
  std::filesystem::path unpack_cache = {};
};

// The selectors the 64-bit boot protocol requires: CS = __BOOT_CS, DS = ES = SS = __BOOT_DS.
inline constexpr uint16_t kBootCodeSelector = 0x10;
inline constexpr uint16_t kBootDataSelector = 0x18;

// What the VMM loads into the BSP before its first KVM_RUN. Beyond these, the protocol wants
// 64-bit mode with paging (CR0.PE|PG, CR4.PAE, EFER.LME|LMA), CS/DS/ES/SS from the GDT at
// gdt_base with the selectors above, interrupts disabled (RFLAGS = 0x2), and RSI = boot_params.
struct BootState {
  uint64_t entry_rip;        // 64-bit entry: load address + 0x200
  uint64_t boot_params_gpa;  // goes into RSI
  uint64_t cr3;              // the identity-mapping PML4
  uint64_t gdt_base;
  uint16_t gdt_limit;
  uint64_t stack_rsp;
};

// Loads the kernel, initrd and command line, and writes boot_params, the GDT and page tables.
// `e820` is the guest's memory map as the VMM built it (at most kMaxE820Entries); the kernel and
// initrd go in the e820 RAM that contains 1 MiB. `acpi_rsdp_gpa` is the RSDP's address (0: none,
// the kernel then scans for it). Throws std::runtime_error on a bad image or when anything does
// not fit in guest RAM.
BootState load_linux(const memory::GuestMemory& mem, const LinuxImages& images,
                     std::span<const E820Entry> e820, uint64_t acpi_rsdp_gpa);

}  // namespace boot
