#include "boot/linux_boot.h"

#include <asm/bootparam.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "boot/bzimage.h"
#include "boot/elf_kernel.h"
#include "boot/kernel_payload.h"
#include "tests/unit/boot/synthetic_bzimage.h"
#include "tests/unit/fakes/fake_guest_memory.h"

namespace {

using boot::BootState;
using boot::E820Entry;
using boot::LinuxImages;
using boot_test::SyntheticKernel;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kPageSize = 0x1000;

// A PC-like e820 map for `ram` bytes of RAM from 0: low RAM, the EBDA and BIOS area, then RAM
// from 1 MiB up.
std::vector<E820Entry> pc_e820(uint64_t ram) {
  return {{0, 0x9fc00, boot::kE820Ram},
          {0x9fc00, 0x400, boot::kE820Reserved},
          {0xf0000, 0x10000, boot::kE820Reserved},
          {kMiB, ram - kMiB, boot::kE820Ram}};
}

std::vector<std::byte> pattern(size_t size, unsigned seed) {
  std::vector<std::byte> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = std::byte((i * 13 + seed + i / 4093) & 0xff);
  return v;
}

std::vector<std::byte> read_guest(const memory::GuestMemory& mem, uint64_t gpa, uint64_t size) {
  std::vector<std::byte> out(size);
  EXPECT_TRUE(mem.read(gpa, out)) << "reading 0x" << std::hex << gpa;
  return out;
}

// The message load_linux throws, or "loaded".
std::string load_error(const memory::GuestMemory& mem, const LinuxImages& images,
                       const std::vector<E820Entry>& e820) {
  try {
    boot::load_linux(mem, images, e820, 0);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "loaded";
}

class LinuxBootTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kRam = 64 * kMiB;
  // The default synthetic kernel runs at its pref_address (16 MiB) and claims init_size (8 MiB).
  static constexpr uint64_t kKernelEnd = 24 * kMiB;

  BootState load(uint64_t rsdp = 0) {
    kernel_image_ = kernel_.build();
    return boot::load_linux(ram_.memory(), images(), e820_, rsdp);
  }
  LinuxImages images() { return LinuxImages{kernel_image_, initrd_, cmdline_}; }
  std::string error() {
    kernel_image_ = kernel_.build();
    return load_error(ram_.memory(), images(), e820_);
  }
  boot_params params(const BootState& s) {
    return ram_.memory().read_obj<boot_params>(s.boot_params_gpa).value();
  }

  fakes::FakeGuestMemory ram_{kRam};
  SyntheticKernel kernel_;
  std::vector<std::byte> kernel_image_;
  std::vector<std::byte> initrd_ = pattern(kMiB + 123, 5);
  std::string cmdline_ = "console=ttyS0 root=/dev/sda1";
  std::vector<E820Entry> e820_ = pc_e820(kRam);
};

TEST_F(LinuxBootTest, EntersAtTheKernels64BitEntryPoint) {
  BootState s = load();
  EXPECT_EQ(s.entry_rip, 0x100000u + 0x200);
  // The stack is 16-byte aligned, in RAM, and clear of boot_params and the page tables.
  EXPECT_EQ(s.stack_rsp % 16, 0u);
  EXPECT_GE(s.stack_rsp, s.boot_params_gpa + sizeof(boot_params) + 0x100);
  EXPECT_LE(s.stack_rsp, s.cr3);
  EXPECT_TRUE(ram_.memory().contains(s.stack_rsp - 0x100, 0x100));
}

TEST_F(LinuxBootTest, CopiesTheProtectedModeCodeToOneMiB) {
  load();
  std::vector<std::byte> at_1m = read_guest(ram_.memory(), kMiB, kernel_.code_size);
  std::vector<std::byte> code(kernel_image_.begin() + kernel_.code_offset(), kernel_image_.end());
  EXPECT_EQ(at_1m, code);
}

TEST_F(LinuxBootTest, BootParamsCarryTheKernelsSetupHeader) {
  BootState s = load();
  boot_params p = params(s);
  EXPECT_EQ(p.hdr.header, kernel_.magic);
  EXPECT_EQ(p.hdr.version, kernel_.version);
  EXPECT_EQ(p.hdr.setup_sects, kernel_.setup_sects);
  EXPECT_EQ(p.hdr.syssize, kernel_.code_size / 16);
  EXPECT_EQ(p.hdr.init_size, kernel_.init_size);
  EXPECT_EQ(p.hdr.kernel_alignment, kernel_.kernel_alignment);
  EXPECT_EQ(p.hdr.xloadflags, kernel_.xloadflags);
  EXPECT_EQ(p.hdr.cmdline_size, kernel_.cmdline_size);
  // Only the header is copied: not the sentinel before it nor the byte after it.
  EXPECT_EQ(p.sentinel, 0);
  const auto* raw = reinterpret_cast<const std::byte*>(&p);
  EXPECT_EQ(raw[0x202 + kernel_.header_length], std::byte{0});
  ASSERT_EQ(kernel_image_[0x202 + kernel_.header_length], boot_test::kPastHeaderMarker);
}

TEST_F(LinuxBootTest, BootParamsSayWhoLoadedTheKernelAndHow) {
  boot_params p = params(load());
  EXPECT_EQ(p.hdr.type_of_loader, 0xff);
  EXPECT_EQ(p.hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
  EXPECT_EQ(p.hdr.heap_end_ptr, 0xfe00);
}

TEST_F(LinuxBootTest, CommandLineIsNulTerminatedAtCmdLinePtr) {
  boot_params p = params(load());
  uint64_t ptr = p.hdr.cmd_line_ptr | uint64_t{p.ext_cmd_line_ptr} << 32;
  EXPECT_EQ(ptr, 0x20000u);
  std::vector<std::byte> got = read_guest(ram_.memory(), ptr, cmdline_.size() + 1);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data())), cmdline_);
  EXPECT_EQ(got.back(), std::byte{0});
}

TEST_F(LinuxBootTest, CommandLineUpToCmdlineSizeIsAccepted) {
  cmdline_ = std::string(kernel_.cmdline_size, 'x');
  boot_params p = params(load());
  std::vector<std::byte> got = read_guest(ram_.memory(), p.hdr.cmd_line_ptr, cmdline_.size() + 1);
  EXPECT_EQ(got[cmdline_.size() - 1], std::byte{'x'});
  EXPECT_EQ(got[cmdline_.size()], std::byte{0});
}

TEST_F(LinuxBootTest, RejectsACommandLineLongerThanCmdlineSize) {
  cmdline_ = std::string(kernel_.cmdline_size + 1, 'x');
  EXPECT_EQ(error(), "cmdline: 256 bytes, the kernel accepts at most 255 (cmdline_size)");
}

TEST_F(LinuxBootTest, RejectsACommandLineThatCannotFitBelow640KiB) {
  kernel_.cmdline_size = 0xffffffff;
  cmdline_ = std::string(0x80000, 'x');
  EXPECT_THAT(error(), HasSubstr("cmdline: 524288 bytes do not fit"));
}

TEST_F(LinuxBootTest, RejectsACommandLineWithANul) {
  cmdline_ = std::string("console=ttyS0\0init=/x", 21);
  EXPECT_EQ(error(), "cmdline: contains a NUL byte");
}

TEST_F(LinuxBootTest, InitrdGoesToTheTopOfRamPageAligned) {
  boot_params p = params(load());
  uint64_t addr = p.hdr.ramdisk_image | uint64_t{p.ext_ramdisk_image} << 32;
  uint64_t size = p.hdr.ramdisk_size | uint64_t{p.ext_ramdisk_size} << 32;
  EXPECT_EQ(size, initrd_.size());
  EXPECT_EQ(addr % kPageSize, 0u);
  EXPECT_LE(addr + size, kRam);
  EXPECT_GT(addr + size + kPageSize, kRam);  // the highest such address
  EXPECT_EQ(read_guest(ram_.memory(), addr, size), initrd_);
}

TEST_F(LinuxBootTest, InitrdStaysBelowInitrdAddrMax) {
  kernel_.initrd_addr_max = 48 * kMiB - 1;
  boot_params p = params(load());
  uint64_t end = p.hdr.ramdisk_image + uint64_t{p.hdr.ramdisk_size};
  EXPECT_LE(end, 48 * kMiB);
  EXPECT_GT(end + kPageSize, 48 * kMiB);
  EXPECT_EQ(read_guest(ram_.memory(), p.hdr.ramdisk_image, initrd_.size()), initrd_);
}

TEST_F(LinuxBootTest, InitrdStaysInE820Ram) {
  // ACPI tables in the top 4 MiB of guest RAM: the initrd must not land on them.
  e820_.back().size = 60 * kMiB - kMiB;
  e820_.push_back({60 * kMiB, 4 * kMiB, boot::kE820Acpi});
  boot_params p = params(load());
  uint64_t end = p.hdr.ramdisk_image + uint64_t{p.hdr.ramdisk_size};
  EXPECT_LE(end, 60 * kMiB);
  EXPECT_GT(end + kPageSize, 60 * kMiB);
}

TEST_F(LinuxBootTest, InitrdMayFillRamDownToTheKernelsInitArea) {
  initrd_ = pattern(kRam - kKernelEnd, 9);
  boot_params p = params(load());
  EXPECT_EQ(p.hdr.ramdisk_image, kKernelEnd);
  initrd_.push_back(std::byte{1});
  EXPECT_THAT(error(), HasSubstr("initrd: 41943041 bytes do not fit"));
}

TEST_F(LinuxBootTest, InitrdAvoidsANonRelocatableKernelAtItsPrefAddress) {
  kernel_.relocatable_kernel = 0;
  kernel_.pref_address = 32 * kMiB;  // init area [32 MiB, 40 MiB)
  initrd_ = pattern(24 * kMiB, 3);
  EXPECT_EQ(params(load()).hdr.ramdisk_image, 40 * kMiB);
  initrd_ = pattern(30 * kMiB, 3);
  EXPECT_THAT(error(), HasSubstr("initrd: 31457280 bytes do not fit between the kernel's end "
                                 "0x2800000"));
}

TEST_F(LinuxBootTest, RejectsAnInitrdLargerThanRam) {
  initrd_ = pattern(kRam + kMiB, 1);
  EXPECT_THAT(error(), HasSubstr("initrd:"));
}

TEST_F(LinuxBootTest, NoInitrdLeavesTheRamdiskFieldsZero) {
  initrd_.clear();
  boot_params p = params(load());
  EXPECT_EQ(p.hdr.ramdisk_image, 0u);
  EXPECT_EQ(p.hdr.ramdisk_size, 0u);
  EXPECT_EQ(p.ext_ramdisk_image, 0u);
  EXPECT_EQ(p.ext_ramdisk_size, 0u);
}

TEST_F(LinuxBootTest, CopiesTheE820Map) {
  boot_params p = params(load());
  ASSERT_EQ(p.e820_entries, e820_.size());
  for (size_t i = 0; i < e820_.size(); ++i) {
    EXPECT_EQ(p.e820_table[i].addr, e820_[i].addr) << i;
    EXPECT_EQ(p.e820_table[i].size, e820_[i].size) << i;
    EXPECT_EQ(p.e820_table[i].type, e820_[i].type) << i;
  }
}

TEST_F(LinuxBootTest, AcceptsAFullE820TableAndRejectsOneMore) {
  // Reserved 4 KiB ranges above RAM fill the table up to its 128 entries.
  for (uint64_t a = kRam; e820_.size() < 128; a += 2 * kPageSize)
    e820_.push_back({a, kPageSize, boot::kE820Reserved});
  EXPECT_EQ(params(load()).e820_entries, 128);
  e820_.push_back({kRam + 0x10000000, kPageSize, boot::kE820Reserved});
  EXPECT_EQ(error(), "e820: 129 entries, the zero page holds at most 128");
}

TEST_F(LinuxBootTest, RejectsAWrappingE820Entry) {
  e820_.push_back({~0ull - 10, 100, boot::kE820Reserved});
  EXPECT_THAT(error(), HasSubstr("e820: entry 4"));
}

TEST_F(LinuxBootTest, PassesTheAcpiRsdpAddressWhenGiven) {
  EXPECT_EQ(params(load(0xf5a20)).acpi_rsdp_addr, 0xf5a20u);
  EXPECT_EQ(params(load(0)).acpi_rsdp_addr, 0u);
}

// Walks 4-level paging from `cr3` as the CPU would and returns the physical address of `va`,
// or ~0 when it is not mapped.
uint64_t translate(const memory::GuestMemory& mem, uint64_t cr3, uint64_t va) {
  constexpr uint64_t kAddr = 0x000ffffffffff000;
  uint64_t pml4e = mem.read_obj<uint64_t>(cr3 + ((va >> 39) & 511) * 8).value();
  if ((pml4e & 1) == 0) return ~0ull;
  uint64_t pdpte = mem.read_obj<uint64_t>((pml4e & kAddr) + ((va >> 30) & 511) * 8).value();
  if ((pdpte & 1) == 0) return ~0ull;
  uint64_t pde = mem.read_obj<uint64_t>((pdpte & kAddr) + ((va >> 21) & 511) * 8).value();
  if ((pde & 1) == 0) return ~0ull;
  EXPECT_NE(pde & 0x80, 0u) << "2 MiB pages expected";
  return (pde & 0x000fffffffe00000) | (va & 0x1fffff);
}

TEST_F(LinuxBootTest, PageTablesIdentityMapTheFirst4GiBWith2MiBPages) {
  BootState s = load();
  const memory::GuestMemory& mem = ram_.memory();
  uint64_t pml4e = mem.read_obj<uint64_t>(s.cr3).value();
  EXPECT_EQ(pml4e & 3, 3u);  // present, writable
  for (int i = 1; i < 512; ++i) EXPECT_EQ(mem.read_obj<uint64_t>(s.cr3 + i * 8), 0u) << i;
  uint64_t pdpt = pml4e & ~0xfffull;
  for (int i = 0; i < 512; ++i) {
    uint64_t pdpte = mem.read_obj<uint64_t>(pdpt + i * 8).value();
    if (i >= 4) {
      EXPECT_EQ(pdpte, 0u) << i;
      continue;
    }
    EXPECT_EQ(pdpte & 0x83, 3u) << i;  // present, writable, points to a page directory
    uint64_t pd = pdpte & ~0xfffull;
    for (uint64_t j = 0; j < 512; ++j) {
      uint64_t pde = mem.read_obj<uint64_t>(pd + j * 8).value();
      ASSERT_EQ(pde, (i * 512 + j) * 2 * kMiB | 0x83) << i << "/" << j;  // PS | RW | P
    }
  }
  boot_params p = params(s);
  for (uint64_t va : {s.entry_rip, s.boot_params_gpa, s.stack_rsp - 8, uint64_t{p.hdr.cmd_line_ptr},
                      uint64_t{p.hdr.ramdisk_image}, uint64_t{0xfee00000}, uint64_t{0xffffffff}})
    EXPECT_EQ(translate(mem, s.cr3, va), va) << std::hex << va;
  EXPECT_EQ(translate(mem, s.cr3, 0x100000000ull), ~0ull);
}

// Fields of a GDT descriptor (Intel SDM vol. 3A, figure 3-8).
struct Descriptor {
  uint64_t raw;
  uint64_t base() const { return ((raw >> 16) & 0xffffff) | ((raw >> 56) << 24); }
  uint64_t limit() const { return (raw & 0xffff) | (((raw >> 48) & 0xf) << 16); }
  unsigned type() const { return (raw >> 40) & 0xf; }
  bool s() const { return (raw >> 44) & 1; }
  unsigned dpl() const { return (raw >> 45) & 3; }
  bool p() const { return (raw >> 47) & 1; }
  bool l() const { return (raw >> 53) & 1; }
  bool db() const { return (raw >> 54) & 1; }
  bool g() const { return (raw >> 55) & 1; }
};

TEST_F(LinuxBootTest, GdtHoldsFlatBootCsAndBootDs) {
  BootState s = load();
  ASSERT_EQ(s.gdt_limit + 1u, 4 * 8u);
  const memory::GuestMemory& mem = ram_.memory();
  EXPECT_EQ(mem.read_obj<uint64_t>(s.gdt_base), 0u);  // the null descriptor
  Descriptor cs{mem.read_obj<uint64_t>(s.gdt_base + boot::kBootCodeSelector).value()};
  EXPECT_TRUE(cs.p() && cs.s() && cs.g());
  EXPECT_EQ(cs.type() & 0xa, 0xau);  // code, readable
  EXPECT_TRUE(cs.l());               // 64-bit code
  EXPECT_FALSE(cs.db());             // L=1 requires D=0
  EXPECT_EQ(cs.dpl(), 0u);
  EXPECT_EQ(cs.base(), 0u);
  EXPECT_EQ(cs.limit(), 0xfffffu);
  Descriptor ds{mem.read_obj<uint64_t>(s.gdt_base + boot::kBootDataSelector).value()};
  EXPECT_TRUE(ds.p() && ds.s() && ds.g() && ds.db());
  EXPECT_EQ(ds.type() & 0xa, 0x2u);  // data, writable
  EXPECT_EQ(ds.dpl(), 0u);
  EXPECT_EQ(ds.base(), 0u);
  EXPECT_EQ(ds.limit(), 0xfffffu);
}

TEST_F(LinuxBootTest, ABadImageIsAnError) {
  kernel_.magic = 0;
  EXPECT_EQ(error(), "kernel: not a bzImage (no HdrS magic)");
}

TEST_F(LinuxBootTest, AKernelRunningBelowOneMiBIsAnError) {
  kernel_.relocatable_kernel = 0;
  kernel_.pref_address = 0x10000;
  EXPECT_THAT(error(), HasSubstr("below 1 MiB"));
}

TEST_F(LinuxBootTest, AFailedLoadWritesNothing) {
  initrd_ = pattern(kRam, 2);
  EXPECT_THAT(error(), HasSubstr("initrd:"));
  std::span<std::byte> all = ram_.bytes();
  EXPECT_TRUE(std::all_of(all.begin(), all.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST(LinuxBootRamTest, RejectsRamTooSmallForTheKernel) {
  SyntheticKernel k;
  std::vector<std::byte> image = k.build();
  LinuxImages images{image, {}, "console=ttyS0"};
  // No RAM at 1 MiB at all.
  fakes::FakeGuestMemory tiny(512 * 1024);
  EXPECT_THAT(load_error(tiny.memory(), images, pc_e820(512 * 1024 + kMiB)),
              HasSubstr("boot: guest RAM too small: the kernel needs RAM from 0x100000 to "
                        "0x1800000"));
  // Room for the code at 1 MiB but not for init_size at 16 MiB.
  fakes::FakeGuestMemory small(20 * kMiB);
  EXPECT_THAT(load_error(small.memory(), images, pc_e820(20 * kMiB)),
              HasSubstr("RAM from 1 MiB ends at 0x1400000"));
  // The e820 map must call that RAM usable too.
  fakes::FakeGuestMemory big(64 * kMiB);
  EXPECT_THAT(load_error(big.memory(), images, pc_e820(20 * kMiB)),
              HasSubstr("RAM from 1 MiB ends at 0x1400000"));
}

TEST(LinuxBootRamTest, RejectsRamWithoutTheLowMegabyte) {
  SyntheticKernel k;
  std::vector<std::byte> image = k.build();
  fakes::FakeGuestMemory high(64 * kMiB, kMiB);  // RAM from 1 MiB only
  std::vector<E820Entry> e820 = {{kMiB, 64 * kMiB, boot::kE820Ram}};
  EXPECT_EQ(load_error(high.memory(), LinuxImages{image, {}, ""}, e820),
            "boot: guest RAM too small: the GDT at [0x500, 0x520) is not all RAM");
}

// The kernel the project boots. MINIVMM_TEST_KERNEL names it (scripts/setup puts Debian's at
// var/guest/vmlinuz); CI sets it, so this test never skips there.
std::vector<std::byte> test_kernel() {
  const char* path = std::getenv("MINIVMM_TEST_KERNEL");
  if (path == nullptr || *path == '\0') return {};
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file) << "cannot open " << path;
  std::vector<char> chars((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<std::byte> image(chars.size());
  std::memcpy(image.data(), chars.data(), chars.size());
  return image;
}

TEST(LinuxBootRealKernelTest, LoadsTheDebianKernel) {
  std::vector<std::byte> image = test_kernel();
  if (image.empty()) GTEST_SKIP() << "MINIVMM_TEST_KERNEL is not set";

  constexpr uint64_t kRam = 256 * kMiB;
  fakes::FakeGuestMemory ram(kRam);
  std::vector<std::byte> initrd = pattern(3 * kMiB + 17, 7);
  const std::string cmdline = "console=ttyS0 root=/dev/sda1";
  BootState s =
      boot::load_linux(ram.memory(), LinuxImages{image, initrd, cmdline}, pc_e820(kRam), 0);
  boot_params p = ram.memory().read_obj<boot_params>(s.boot_params_gpa).value();

  EXPECT_EQ(p.hdr.boot_flag, 0xaa55);
  EXPECT_EQ(p.hdr.header, 0x53726448u);
  EXPECT_GE(p.hdr.version, boot::kMinBootProtocol);
  EXPECT_NE(p.hdr.xloadflags & XLF_KERNEL_64, 0);
  EXPECT_EQ(s.entry_rip, 0x100200u);

  // The protected-mode code is at 1 MiB, and its payload starts with a known compression magic
  // (boot.rst, payload_offset): gzip, bzip2, LZMA, XZ, LZ4 or ZSTD.
  size_t setup = (size_t{p.hdr.setup_sects == 0 ? 4u : p.hdr.setup_sects} + 1) * 512;
  size_t code = size_t{p.hdr.syssize} * 16;
  std::vector<std::byte> expected(image.begin() + setup, image.begin() + setup + code);
  EXPECT_EQ(read_guest(ram.memory(), kMiB, code), expected);
  std::vector<std::byte> magic = read_guest(ram.memory(), kMiB + p.hdr.payload_offset, 2);
  auto m = std::to_integer<unsigned>(magic[0]) << 8 | std::to_integer<unsigned>(magic[1]);
  EXPECT_THAT(m, ::testing::AnyOf(0x1f8b, 0x1f9e, 0x425a, 0x5d00, 0xfd37, 0x0221, 0x28b5))
      << std::hex << m;

  // The initrd sits at the top of RAM, above the area the kernel decompresses into.
  uint64_t runtime = std::max<uint64_t>(p.hdr.pref_address, kMiB);
  EXPECT_GE(p.hdr.ramdisk_image, runtime + p.hdr.init_size);
  EXPECT_EQ(p.hdr.ramdisk_image + uint64_t{p.hdr.ramdisk_size} + kPageSize > kRam, true);
  EXPECT_EQ(read_guest(ram.memory(), p.hdr.ramdisk_image, initrd.size()), initrd);
  std::vector<std::byte> line = read_guest(ram.memory(), p.hdr.cmd_line_ptr, cmdline.size() + 1);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(line.data())), cmdline);
}

// Unpacked on the host, the same kernel is its ELF vmlinux at 16 MiB (LOAD_PHYSICAL_ADDR), entered
// at startup_64 with the bzImage's own setup header, and the initrd goes above the ELF's end.
TEST(LinuxBootRealKernelTest, UnpacksTheDebianKernelOnTheHost) {
  std::vector<std::byte> image = test_kernel();
  if (image.empty()) GTEST_SKIP() << "MINIVMM_TEST_KERNEL is not set";
  constexpr uint64_t kRam = 256 * kMiB;
  fakes::FakeGuestMemory ram(kRam);
  std::vector<std::byte> initrd = pattern(3 * kMiB + 17, 7);
  LinuxImages images{image, initrd, "console=ttyS0"};
  images.unpack_on_host = true;
  BootState s = boot::load_linux(ram.memory(), images, pc_e820(kRam), 0);
  boot_params p = ram.memory().read_obj<boot_params>(s.boot_params_gpa).value();

  boot::BzImage bz = boot::parse_bzimage(image);
  EXPECT_EQ(p.hdr.version, bz.header.version);
  EXPECT_EQ(p.hdr.init_size, bz.header.init_size);
  EXPECT_EQ(p.hdr.loadflags & KASLR_FLAG, 0) << "nothing randomised the kernel's address";
  // Every segment of the unpacked ELF at its physical address; the entry is the ELF's.
  const std::span<const std::byte> payload = boot::payload_of(bz);
  std::vector<std::byte> vmlinux =
      boot::unpack_payload(payload, boot::payload_format(payload).value());
  boot::ElfKernel elf = boot::parse_elf_kernel(vmlinux);
  EXPECT_EQ(elf.begin, 16 * kMiB);
  EXPECT_EQ(s.entry_rip, elf.entry);
  ASSERT_FALSE(elf.segments.empty());
  for (const boot::ElfSegment& seg : elf.segments) {
    EXPECT_TRUE(std::ranges::equal(read_guest(ram.memory(), seg.paddr, seg.data.size()), seg.data))
        << "segment at 0x" << std::hex << seg.paddr;
  }
  EXPECT_GE(p.hdr.ramdisk_image, elf.end);
  EXPECT_EQ(read_guest(ram.memory(), p.hdr.ramdisk_image, initrd.size()), initrd);
}

}  // namespace
