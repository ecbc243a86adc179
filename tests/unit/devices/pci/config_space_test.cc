#include "devices/pci/config_space.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <vector>

namespace {

using devices::pci::BarKind;
using devices::pci::ConfigSpace;
namespace pci = devices::pci;

ConfigSpace make() { return ConfigSpace(0x1af4, 0x1000, 0x020000, 0x05); }

// The size a driver derives from the value read back after writing all ones (PCI 3.0 section
// 6.2.5.1): clear the flag bits, invert, add one.
uint64_t probed_size(uint64_t readback, uint64_t flag_mask) { return ~(readback & ~flag_mask) + 1; }

TEST(ConfigSpaceTest, IdentityIsReadOnly) {
  ConfigSpace c = make();
  c.set_subsystem(0x1af4, 0x0001);
  const std::vector<uint8_t> fixed = {0x00, 0x08, 0x2c};
  std::vector<uint32_t> before;
  for (uint8_t off : fixed) before.push_back(c.read(off, 4));
  for (uint8_t off : fixed) c.write(off, 4, 0xffffffffu);
  for (size_t i = 0; i < fixed.size(); ++i) EXPECT_EQ(c.read(fixed[i], 4), before[i]);
  EXPECT_EQ(c.vendor_id(), 0x1af4);
  EXPECT_EQ(c.device_id(), 0x1000);
  EXPECT_EQ(c.class_code(), 0x020000u);
  EXPECT_EQ(c.revision(), 0x05);
  EXPECT_EQ(c.read(pci::kSubsystemId, 2), 0x0001u);
  EXPECT_EQ(c.read(pci::kClassCode + 2, 1), 0x02u);  // base class byte
}

TEST(ConfigSpaceTest, CommandKeepsOnlyImplementedBits) {
  ConfigSpace c = make();
  c.write(pci::kCommand, 2, 0xffff);
  const uint16_t implemented = pci::kCommandIoSpace | pci::kCommandMemorySpace |
                               pci::kCommandBusMaster | pci::kCommandInterruptDisable;
  EXPECT_EQ(c.command(), implemented);
  c.write(pci::kCommand, 1, 0x00);  // low byte only: the interrupt disable bit stays
  EXPECT_EQ(c.command(), pci::kCommandInterruptDisable);
}

TEST(ConfigSpaceTest, StatusErrorBitsAreWriteOneToClear) {
  ConfigSpace c = make();
  const std::array<uint8_t, 6> error_bits = {8, 11, 12, 13, 14, 15};
  uint16_t all = pci::kStatusCapabilitiesList;
  for (uint8_t b : error_bits) all |= static_cast<uint16_t>(1u << b);
  c.set_u16(pci::kStatus, all);

  c.write(pci::kStatus, 2, 0);  // writing 0 clears nothing
  EXPECT_EQ(c.status(), all);
  for (uint8_t b : error_bits) {
    c.write(pci::kStatus, 2, 1u << b);
    all = static_cast<uint16_t>(all & ~(1u << b));
    EXPECT_EQ(c.status(), all) << "bit " << int{b};
  }
  // The capabilities bit is read-only: writing 1 neither clears nor sets anything.
  c.write(pci::kStatus, 2, 0xffff);
  EXPECT_EQ(c.status(), pci::kStatusCapabilitiesList);
}

TEST(ConfigSpaceTest, DwordWriteSetsCommandAndClearsStatusTogether) {
  ConfigSpace c = make();
  c.set_u16(pci::kStatus, 1u << 13);  // received master abort
  c.write(pci::kCommand, 4, (1u << 13) << 16 | pci::kCommandMemorySpace);
  EXPECT_EQ(c.command(), pci::kCommandMemorySpace);
  EXPECT_EQ(c.status(), 0);
}

TEST(ConfigSpaceTest, InterruptLineIsWritablePinIsNot) {
  ConfigSpace c = make();
  c.set_interrupt_pin(2);
  c.write(pci::kInterruptLine, 2, 0x040b);
  EXPECT_EQ(c.interrupt_line(), 0x0b);
  EXPECT_EQ(c.interrupt_pin(), 2);
  EXPECT_THROW(c.set_interrupt_pin(5), std::invalid_argument);
}

TEST(ConfigSpaceTest, MultifunctionBitInHeaderType) {
  ConfigSpace c = make();
  EXPECT_FALSE(c.multifunction());
  c.set_multifunction(true);
  EXPECT_TRUE(c.multifunction());
  EXPECT_EQ(c.read(pci::kHeaderType, 1), 0x80u);
  c.write(pci::kHeaderType, 1, 0);  // read-only to the guest
  EXPECT_TRUE(c.multifunction());
  c.set_multifunction(false);
  EXPECT_EQ(c.read(pci::kHeaderType, 1), 0x00u);
}

TEST(ConfigSpaceTest, DeviceRegistersFollowTheirMasks) {
  ConfigSpace c = make();
  c.set_u32(0x40, 0x12345678);
  c.set_writable(0x40, 2, 0x0ff0);
  c.write(0x40, 4, 0xffffffffu);
  EXPECT_EQ(c.u32(0x40), 0x12345ff8u);  // only bits 11:4 took the ones
  c.set_write_1_to_clear(0x44, 1, 0x03);
  c.set_u8(0x44, 0x07);
  c.write(0x44, 1, 0x06);
  EXPECT_EQ(c.u8(0x44), 0x05);  // bit 1 cleared, bit 2 (not W1C) untouched
}

TEST(ConfigSpaceTest, UnalignedAndBadAccesses) {
  ConfigSpace c = make();
  c.set_u32(0x40, 0xaabbccdd);
  EXPECT_EQ(c.read(0x41, 2), 0xbbccu);
  EXPECT_EQ(c.read(0x43, 1), 0xaau);
  EXPECT_EQ(c.read(0xfe, 4), 0xffffffffu);  // runs past the space
  EXPECT_EQ(c.read(0x40, 3), 0xffffffffu);
  c.set_writable(0xfc, 4, 0xffffffffu);
  c.write(0xfe, 4, 0);  // ignored
  EXPECT_EQ(c.u32(0xfc), 0u);
  EXPECT_THROW(c.set_u32(0xfe, 0), std::out_of_range);
}

TEST(ConfigSpaceTest, CapabilityListChainsInOrder) {
  ConfigSpace c = make();
  EXPECT_EQ(c.status() & pci::kStatusCapabilitiesList, 0);
  const std::vector<uint8_t> msix_body = {0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0, 0};
  const std::vector<uint8_t> vendor_body = {0x10, 0x01, 0x02, 0x03, 0x04};
  const uint8_t first = c.add_capability(0x11, msix_body);
  const uint8_t second = c.add_capability(0x09, vendor_body);
  EXPECT_NE(c.status() & pci::kStatusCapabilitiesList, 0);

  // Walk the list as a driver does, bounded by the number of dwords in the space.
  std::vector<std::pair<uint8_t, uint8_t>> found;  // (offset, id)
  uint8_t at = static_cast<uint8_t>(c.read(pci::kCapabilitiesPointer, 1));
  for (int guard = 0; at != 0 && guard < 64; ++guard) {
    EXPECT_EQ(at % 4, 0);
    EXPECT_GE(at, 0x40);
    found.emplace_back(at, c.read(at, 1));
    at = static_cast<uint8_t>(c.read(at + 1, 1));
  }
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], std::make_pair(first, uint8_t{0x11}));
  EXPECT_EQ(found[1], std::make_pair(second, uint8_t{0x09}));
  EXPECT_GE(second, first + 2 + msix_body.size());  // no overlap
  for (size_t i = 0; i < vendor_body.size(); ++i)
    EXPECT_EQ(c.read(static_cast<uint8_t>(second + 2 + i), 1), vendor_body[i]);

  // Bodies are read-only until the device says otherwise.
  c.write(first + 2, 2, 0xffff);
  EXPECT_EQ(c.read(first + 2, 2), 0x0002u);
  c.set_writable(first + 2, 2, 0xc000);
  c.write(first + 2, 2, 0xffff);
  EXPECT_EQ(c.read(first + 2, 2), 0xc002u);

  EXPECT_THROW(c.add_capability(0x09, std::vector<uint8_t>(200)), std::length_error);
}

struct ProbeCase {
  BarKind kind;
  uint64_t size;
  bool prefetchable;
};

class BarProbeTest : public testing::TestWithParam<ProbeCase> {};

TEST_P(BarProbeTest, AllOnesReadsBackSizeAndFlags) {
  const ProbeCase p = GetParam();
  ConfigSpace c = make();
  const int index = 2;
  c.define_bar(index, p.kind, p.size, p.prefetchable);
  const uint8_t reg = static_cast<uint8_t>(pci::kBar0 + 4 * index);
  const uint32_t flags = c.read(reg, 4);  // a fresh BAR holds only its flags

  c.write(reg, 4, 0xffffffffu);
  const uint32_t low = c.read(reg, 4);
  const uint32_t flag_mask = p.kind == BarKind::kIo ? 0x3u : 0xfu;
  EXPECT_EQ(low & flag_mask, flags) << "flag bits are read-only";
  if (p.kind == BarKind::kIo) {
    EXPECT_EQ(flags, 0x1u);
    EXPECT_EQ(low, static_cast<uint32_t>(~(p.size - 1)) | 0x1u);
    EXPECT_EQ(probed_size(0xffffffff00000000ull | low, 0x3), p.size);
  } else if (p.kind == BarKind::kMemory32) {
    EXPECT_EQ(flags, p.prefetchable ? 0x8u : 0x0u);
    EXPECT_EQ(low, static_cast<uint32_t>(~(p.size - 1)) | flags);
    EXPECT_EQ(probed_size(0xffffffff00000000ull | low, 0xf), p.size);
  } else {
    EXPECT_EQ(flags, p.prefetchable ? 0xcu : 0x4u);
    c.write(reg + 4, 4, 0xffffffffu);
    const uint64_t both = uint64_t{c.read(reg + 4, 4)} << 32 | c.read(reg, 4);
    EXPECT_EQ(both, ~(p.size - 1) | flags);
    EXPECT_EQ(probed_size(both, 0xf), p.size);
    EXPECT_FALSE(c.bar(index + 1)) << "upper half is not a BAR of its own";
  }
  auto bar = c.bar(index);
  ASSERT_TRUE(bar);
  EXPECT_EQ(bar->kind, p.kind);
  EXPECT_EQ(bar->size, p.size);
}

INSTANTIATE_TEST_SUITE_P(Kinds, BarProbeTest,
                         testing::Values(ProbeCase{BarKind::kIo, 4, false},
                                         ProbeCase{BarKind::kIo, 0x40, false},
                                         ProbeCase{BarKind::kIo, 0x100, false},
                                         ProbeCase{BarKind::kMemory32, 0x10, false},
                                         ProbeCase{BarKind::kMemory32, 0x20000, false},
                                         ProbeCase{BarKind::kMemory32, 0x1000, true},
                                         ProbeCase{BarKind::kMemory32, 1ull << 31, false},
                                         ProbeCase{BarKind::kMemory64, 0x4000, false},
                                         ProbeCase{BarKind::kMemory64, 1ull << 33, true}));

TEST(ConfigSpaceTest, BarAddressDecodesWhatTheGuestWrote) {
  ConfigSpace c = make();
  c.define_bar(0, BarKind::kIo, 0x20);
  c.define_bar(1, BarKind::kMemory32, 0x1000);
  c.define_bar(2, BarKind::kMemory64, 0x4000, true);
  c.write(pci::kBar0, 4, 0xc03f);  // low bits below the size are dropped
  c.write(pci::kBar0 + 4, 4, 0xfebf1fff);
  c.write(pci::kBar0 + 8, 4, 0x00008000);
  c.write(pci::kBar0 + 12, 4, 0x00000001);
  EXPECT_EQ(c.bar(0)->address, 0xc020u);
  EXPECT_EQ(c.read(pci::kBar0, 4), 0xc021u);
  EXPECT_EQ(c.bar(1)->address, 0xfebf1000u);
  EXPECT_EQ(c.bar(2)->address, 0x100008000ull);
  EXPECT_EQ(c.read(pci::kBar0 + 8, 4), 0x0000800cu);
}

TEST(ConfigSpaceTest, UnusedBarsReadZeroEvenAfterAllOnes) {
  ConfigSpace c = make();
  c.define_bar(1, BarKind::kMemory32, 0x1000);
  for (int i : {0, 2, 3, 4, 5}) {
    const uint8_t reg = static_cast<uint8_t>(pci::kBar0 + 4 * i);
    c.write(reg, 4, 0xffffffffu);
    EXPECT_EQ(c.read(reg, 4), 0u) << "BAR" << i;
    EXPECT_FALSE(c.bar(i));
  }
}

TEST(ConfigSpaceTest, RejectsBadBarDefinitions) {
  ConfigSpace c = make();
  EXPECT_THROW(c.define_bar(6, BarKind::kIo, 16), std::invalid_argument);
  EXPECT_THROW(c.define_bar(-1, BarKind::kIo, 16), std::invalid_argument);
  EXPECT_THROW(c.define_bar(5, BarKind::kMemory64, 0x1000), std::invalid_argument);
  EXPECT_THROW(c.define_bar(0, BarKind::kMemory32, 0x1800), std::invalid_argument);
  EXPECT_THROW(c.define_bar(0, BarKind::kIo, 512), std::invalid_argument);
  EXPECT_THROW(c.define_bar(0, BarKind::kIo, 16, true), std::invalid_argument);
  EXPECT_THROW(c.define_bar(0, BarKind::kMemory32, 8), std::invalid_argument);
  EXPECT_THROW(c.define_bar(0, BarKind::kMemory32, 1ull << 32), std::invalid_argument);
  c.define_bar(0, BarKind::kMemory64, 0x1000);
  EXPECT_THROW(c.define_bar(1, BarKind::kIo, 16), std::invalid_argument);  // upper half
  EXPECT_THROW(c.define_bar(0, BarKind::kIo, 16), std::invalid_argument);
  EXPECT_NO_THROW(c.define_bar(2, BarKind::kIo, 16));
}

TEST(ConfigSpaceTest, GenerationCountsChanges) {
  ConfigSpace c = make();
  const uint64_t g0 = c.generation();
  c.write(pci::kCommand, 2, pci::kCommandIoSpace);
  const uint64_t g1 = c.generation();
  EXPECT_GT(g1, g0);
  c.set_u8(0x40, 1);
  EXPECT_GT(c.generation(), g1);
}

}  // namespace
