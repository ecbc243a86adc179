#include "boot/elf_kernel.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "boot/bzimage.h"
#include "boot/linux_boot.h"
#include "tests/unit/fakes/fake_guest_memory.h"

namespace {

constexpr uint64_t kMiB = 1 << 20;

// A vmlinux-shaped ELF: text at 16 MiB, data (with .bss beyond the file) at 18 MiB.
class SyntheticElf {
 public:
  uint64_t entry = 16 * kMiB + 0x40;
  uint16_t machine = EM_X86_64;
  uint64_t data_offset_override = 0;

  std::vector<std::byte> build() const {
    const uint64_t text_off = 0x1000,
                   data_off = data_offset_override ? data_offset_override : 0x2000;
    std::vector<std::byte> out(0x3000);
    Elf64_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_type = ET_EXEC;
    eh.e_machine = machine;
    eh.e_entry = entry;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 3;
    std::memcpy(out.data(), &eh, sizeof(eh));
    Elf64_Phdr text{PT_LOAD, PF_R | PF_X, text_off, 0, 16 * kMiB, 0x1000, 0x1000, 0x1000};
    Elf64_Phdr data{PT_LOAD, PF_R | PF_W, data_off, 0, 18 * kMiB, 0x1000, 0x5000, 0x1000};
    Elf64_Phdr note{PT_NOTE, PF_R, 0, 0, 0, 0, 0, 4};
    std::memcpy(out.data() + sizeof(eh), &text, sizeof(text));
    std::memcpy(out.data() + sizeof(eh) + sizeof(text), &data, sizeof(data));
    std::memcpy(out.data() + sizeof(eh) + 2 * sizeof(text), &note, sizeof(note));
    for (size_t i = 0; i < 0x1000; ++i) {
      out[text_off + i] = std::byte(0x90);
      out[0x2000 + i] = std::byte(i & 0xff);
    }
    return out;
  }
};

std::vector<boot::E820Entry> e820(uint64_t ram) {
  return {{0, 0x9fc00, boot::kE820Ram}, {0x100000, ram - 0x100000, boot::kE820Ram}};
}

std::string parse_error(const std::vector<std::byte>& image) {
  try {
    boot::parse_elf_kernel(image);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "parsed";
}

TEST(ElfKernelTest, LoadsSegmentsAtTheirPhysicalAddressesAndEntersAtTheEntryPoint) {
  fakes::FakeGuestMemory ram(64 * kMiB);
  std::vector<std::byte> image = SyntheticElf().build();
  std::vector<std::byte> initrd(3 * 4096, std::byte{7});
  boot::BootState s =
      boot::load_linux(ram.memory(), {image, initrd, "console=ttyS0"}, e820(64 * kMiB), 0xe0000);
  EXPECT_EQ(s.entry_rip, 16 * kMiB + 0x40);
  EXPECT_EQ(ram.memory().read_obj<uint8_t>(16 * kMiB), 0x90);
  EXPECT_EQ(ram.memory().read_obj<uint8_t>(18 * kMiB + 0x23), 0x23);
  boot_params p = ram.memory().read_obj<boot_params>(s.boot_params_gpa).value();
  // A header as a boot loader passes it: the kernel reads the protocol version and loader type.
  EXPECT_EQ(p.hdr.boot_flag, 0xaa55);
  EXPECT_EQ(p.hdr.header, 0x53726448u);
  EXPECT_GE(p.hdr.version, boot::kMinBootProtocol);
  EXPECT_EQ(p.hdr.type_of_loader, 0xff);
  EXPECT_EQ(p.acpi_rsdp_addr, 0xe0000u);
  // The initrd sits above the kernel's .bss (18 MiB + 0x5000), page-aligned, at the top of RAM.
  EXPECT_EQ(p.hdr.ramdisk_size, initrd.size());
  EXPECT_EQ(p.hdr.ramdisk_image, 64 * kMiB - initrd.size());
  EXPECT_EQ(ram.memory().read_obj<uint8_t>(p.hdr.ramdisk_image), 7);
}

TEST(ElfKernelTest, RejectsWhatIsNotAnX86_64Executable) {
  SyntheticElf arm;
  arm.machine = EM_AARCH64;
  EXPECT_EQ(parse_error(arm.build()), "kernel: ELF file is not a little-endian x86-64 image");
  std::vector<std::byte> tiny = SyntheticElf().build();
  tiny.resize(20);
  EXPECT_NE(parse_error(tiny).find("truncated ELF file"), std::string::npos);
}

TEST(ElfKernelTest, RejectsSegmentsPastTheFileAndEntriesOutsideThem) {
  SyntheticElf past;
  past.data_offset_override = 0x2800;  // 0x1000 bytes from 0x2800 run past the 0x3000 file
  EXPECT_NE(parse_error(past.build()).find("runs past the file end"), std::string::npos);
  SyntheticElf wild;
  wild.entry = 0x1234;
  EXPECT_NE(parse_error(wild.build()).find("entry point 0x1234 is outside"), std::string::npos);
}

TEST(ElfKernelTest, RamTooSmallForTheKernelIsAnError) {
  fakes::FakeGuestMemory ram(17 * kMiB);
  std::vector<std::byte> image = SyntheticElf().build();
  EXPECT_THROW(boot::load_linux(ram.memory(), {image, {}, ""}, e820(17 * kMiB), 0),
               std::runtime_error);
}

}  // namespace
