#include "boot/bzimage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/boot/synthetic_bzimage.h"

namespace {

using boot::parse_bzimage;
using boot_test::SyntheticKernel;
using ::testing::HasSubstr;

// The message parse_bzimage throws for `image`, or "parsed" when it accepts it.
std::string parse_error(const std::vector<std::byte>& image) {
  try {
    parse_bzimage(image);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "parsed";
}

TEST(BzImageTest, ParsesAValidImage) {
  SyntheticKernel k;
  std::vector<std::byte> image = k.build();
  boot::BzImage bz = parse_bzimage(image);
  EXPECT_EQ(bz.header.version, k.version);
  EXPECT_EQ(bz.header.init_size, k.init_size);
  EXPECT_EQ(bz.header.pref_address, k.pref_address);
  EXPECT_EQ(bz.header.kernel_alignment, k.kernel_alignment);
  EXPECT_EQ(bz.header.cmdline_size, k.cmdline_size);
  EXPECT_EQ(bz.header.initrd_addr_max, k.initrd_addr_max);
  EXPECT_EQ(bz.header.xloadflags, k.xloadflags);
  // The header runs from 0x1f1 to 0x202 + the jump's offset.
  EXPECT_EQ(bz.header_bytes.data(), image.data() + 0x1f1);
  EXPECT_EQ(bz.header_bytes.size(), 0x202u + k.header_length - 0x1f1);
  EXPECT_EQ(bz.protected_mode.data(), image.data() + (k.setup_sects + 1) * 512);
  EXPECT_EQ(bz.protected_mode.size(), k.code_size);
}

TEST(BzImageTest, SetupSectsZeroMeansFour) {
  SyntheticKernel k;
  k.setup_sects = 0;
  std::vector<std::byte> image = k.build();
  boot::BzImage bz = parse_bzimage(image);
  EXPECT_EQ(bz.protected_mode.data(), image.data() + 5 * 512);
  EXPECT_EQ(bz.protected_mode[0], SyntheticKernel::code_byte(0));
}

TEST(BzImageTest, ProtectedModeCodeEndsWhereSyssizeSays) {
  // Distribution kernels carry a Secure Boot signature after the code; it is not loaded.
  SyntheticKernel k;
  std::vector<std::byte> image = k.build();
  image.resize(image.size() + 0x5c0, std::byte{0x30});
  EXPECT_EQ(parse_bzimage(image).protected_mode.size(), k.code_size);
}

TEST(BzImageTest, ShorterHeaderOfAnOlderProtocolLeavesLaterFieldsZero) {
  // A 2.12 header ends after handover_offset (0x268): kernel_info_offset is not read.
  SyntheticKernel k;
  k.version = 0x020c;
  k.header_length = 0x66;
  std::vector<std::byte> image = k.build();
  image[0x26b] = std::byte{0x77};  // inside kernel_info_offset, past the declared header
  boot::BzImage bz = parse_bzimage(image);
  EXPECT_EQ(bz.header_bytes.size(), 0x268u - 0x1f1);
  EXPECT_EQ(bz.header.kernel_info_offset, 0u);
  EXPECT_EQ(bz.header.init_size, k.init_size);
}

TEST(BzImageTest, RejectsFilesTooSmallForABootSector) {
  EXPECT_THAT(parse_error({}), HasSubstr("kernel: file truncated (0 bytes)"));
  EXPECT_THAT(parse_error(std::vector<std::byte>(0x1ff)), HasSubstr("truncated (511 bytes)"));
}

TEST(BzImageTest, RejectsAMissingBootSignature) {
  SyntheticKernel k;
  k.boot_flag = 0x55aa;
  EXPECT_THAT(parse_error(k.build()), HasSubstr("kernel: not a bzImage (no 0xAA55"));
}

TEST(BzImageTest, RejectsAMissingHdrSMagic) {
  SyntheticKernel k;
  k.magic = 0x53726449;
  EXPECT_EQ(parse_error(k.build()), "kernel: not a bzImage (no HdrS magic)");
}

TEST(BzImageTest, RejectsProtocolsOlderThan212) {
  SyntheticKernel k;
  k.version = 0x0206;
  EXPECT_EQ(parse_error(k.build()), "kernel: boot protocol 2.06 too old, need 2.12");
  k.version = 0x020b;
  EXPECT_EQ(parse_error(k.build()), "kernel: boot protocol 2.11 too old, need 2.12");
}

TEST(BzImageTest, RejectsAKernelWithoutThe64BitEntryPoint) {
  SyntheticKernel k;
  k.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
  EXPECT_THAT(parse_error(k.build()), HasSubstr("XLF_KERNEL_64"));
}

TEST(BzImageTest, RejectsAZImage) {
  SyntheticKernel k;
  k.loadflags = 0;
  EXPECT_THAT(parse_error(k.build()), HasSubstr("LOADED_HIGH"));
}

TEST(BzImageTest, RejectsAHeaderWithoutAShortJump) {
  SyntheticKernel k;
  k.jump_opcode = 0xe9;
  EXPECT_THAT(parse_error(k.build()), HasSubstr("no short jump"));
}

TEST(BzImageTest, RejectsAHeaderTooShortForItsProtocol) {
  SyntheticKernel k;
  k.header_length = 0x40;  // ends before init_size
  EXPECT_THAT(parse_error(k.build()), HasSubstr("setup header length 64 is too short"));
  k.header_length = 0x90;  // a backward jump: -112
  EXPECT_THAT(parse_error(k.build()), HasSubstr("setup header length -112 is too short"));
}

TEST(BzImageTest, RejectsAFileEndingInsideTheHeader) {
  std::vector<std::byte> image = SyntheticKernel{}.build();
  image.resize(0x240);
  EXPECT_THAT(parse_error(image), HasSubstr("inside the setup header ending at 0x26c"));
}

TEST(BzImageTest, RejectsSetupSectsPointingPastTheEnd) {
  SyntheticKernel k;
  std::vector<std::byte> image = k.build();
  image[0x1f1] = std::byte{200};  // 201 sectors of setup in a ~14 KiB file
  EXPECT_THAT(parse_error(image), HasSubstr("setup_sects 200"));
  image.resize(k.code_offset());  // exactly the setup, no code at all
  image[0x1f1] = std::byte{k.setup_sects};
  EXPECT_THAT(parse_error(image), HasSubstr("past the end"));
}

TEST(BzImageTest, RejectsTruncatedProtectedModeCode) {
  std::vector<std::byte> image = SyntheticKernel{}.build();
  image.resize(image.size() - 16);
  EXPECT_THAT(parse_error(image), HasSubstr("kernel: file truncated: syssize"));
}

TEST(BzImageTest, RejectsZeroSyssize) {
  SyntheticKernel k;
  std::vector<std::byte> image = k.build();
  std::fill_n(image.begin() + 0x1f4, 4, std::byte{0});
  EXPECT_THAT(parse_error(image), HasSubstr("syssize is 0"));
}

TEST(BzImageTest, RejectsAPayloadOutsideTheCode) {
  SyntheticKernel k;
  k.payload_offset = k.code_size - 0x10;
  k.payload_length = 0x11;
  EXPECT_THAT(parse_error(k.build()), HasSubstr("payload"));
  k.payload_offset = 0xffffffff;  // the sum must not wrap into range
  k.payload_length = 0xffffffff;
  EXPECT_THAT(parse_error(k.build()), HasSubstr("payload"));
}

TEST(BzImageTest, RejectsZeroInitSize) {
  SyntheticKernel k;
  k.init_size = 0;
  EXPECT_THAT(parse_error(k.build()), HasSubstr("init_size is 0"));
}

TEST(BzImageTest, RejectsARelocatableKernelWithABadAlignment) {
  SyntheticKernel k;
  k.kernel_alignment = 0x300000;
  EXPECT_THAT(parse_error(k.build()), HasSubstr("kernel_alignment 0x300000"));
  k.kernel_alignment = 0;
  EXPECT_THAT(parse_error(k.build()), HasSubstr("kernel_alignment 0x0"));
}

TEST(BzImageTest, EveryTruncationIsAnError) {
  SyntheticKernel k;
  k.code_size = 0x200;
  k.payload_length = 0x80;
  std::vector<std::byte> image = k.build();
  ASSERT_EQ(parse_error(image), "parsed");
  for (size_t len = 0; len < image.size(); ++len) {
    std::vector<std::byte> prefix(image.begin(), image.begin() + len);
    EXPECT_NE(parse_error(prefix), "parsed") << "accepted a file cut at " << len << " bytes";
  }
}

}  // namespace
