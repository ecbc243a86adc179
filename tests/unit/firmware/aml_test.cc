// The AML builder against the encodings of ACPI 6.x chapter 20 and the resource descriptors of
// section 6.4. Expected bytes are worked out by hand from the spec's grammar.
#include "firmware/aml.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "tests/unit/firmware/aml_reader.h"

namespace firmware::aml {
namespace {

using testing::AmlObject;
using testing::decode_aml;
using testing::decode_resources;
using testing::Resource;

Bytes b(std::initializer_list<int> values) {
  Bytes out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

Bytes ascii(std::string_view text) {
  Bytes out;
  for (char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(AmlPkgLength, UsesOneByteUpTo63) {
  EXPECT_EQ(pkg_length(0), b({0x01}));   // counts its own byte
  EXPECT_EQ(pkg_length(62), b({0x3F}));  // 63: the largest one-byte form
}

TEST(AmlPkgLength, UsesTwoBytesUpTo4095) {
  // 63 + 2 = 65 = 0x041: low nibble in the lead byte (with ByteCount 1 in bits 7:6), then 0x04.
  EXPECT_EQ(pkg_length(63), b({0x41, 0x04}));
  EXPECT_EQ(pkg_length(0xFFD), b({0x4F, 0xFF}));  // 0xFFF
}

TEST(AmlPkgLength, UsesThreeBytesUpTo20Bits) {
  // 0xFFE + 2 = 0x1000 no longer fits two bytes; with three the total is 0x1001.
  EXPECT_EQ(pkg_length(0xFFE), b({0x81, 0x00, 0x01}));
  EXPECT_EQ(pkg_length(0xFFFFC), b({0x8F, 0xFF, 0xFF}));  // 0xFFFFF
}

TEST(AmlPkgLength, UsesFourBytesUpTo28Bits) {
  EXPECT_EQ(pkg_length(0xFFFFD), b({0xC1, 0x00, 0x00, 0x01}));    // 0x100001
  EXPECT_EQ(pkg_length(0xFFFFFFB), b({0xCF, 0xFF, 0xFF, 0xFF}));  // 0xFFFFFFF
  EXPECT_THROW(pkg_length(0xFFFFFFC), std::invalid_argument);
}

TEST(AmlPkgLength, DecodesToBodyPlusItsOwnBytes) {
  for (size_t body :
       {0, 1, 61, 62, 63, 64, 300, 4093, 4094, 4095, 70000, 1048572, 1048573, 5000000}) {
    const Bytes enc = pkg_length(body);
    const auto [length, size] = testing::decode_pkg_length(enc);
    EXPECT_EQ(size, enc.size()) << body;
    EXPECT_EQ(length, body + enc.size()) << body;
  }
}

TEST(AmlInteger, PicksTheShortestEncoding) {
  EXPECT_EQ(integer(0), b({0x00}));        // ZeroOp
  EXPECT_EQ(integer(1), b({0x01}));        // OneOp
  EXPECT_EQ(integer(2), b({0x0A, 0x02}));  // BytePrefix
  EXPECT_EQ(integer(0xFF), b({0x0A, 0xFF}));
  EXPECT_EQ(integer(0x100), b({0x0B, 0x00, 0x01}));  // WordPrefix
  EXPECT_EQ(integer(0xFFFF), b({0x0B, 0xFF, 0xFF}));
  EXPECT_EQ(integer(0x10000), b({0x0C, 0x00, 0x00, 0x01, 0x00}));  // DWordPrefix
  EXPECT_EQ(integer(0xFFFFFFFF), b({0x0C, 0xFF, 0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(integer(0x100000000), b({0x0E, 0, 0, 0, 0, 1, 0, 0, 0}));  // QWordPrefix
  EXPECT_EQ(integer(0x8877665544332211), b({0x0E, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}));
}

TEST(AmlString, IsNulTerminatedAscii) {
  EXPECT_EQ(string("ab"), b({0x0D, 'a', 'b', 0x00}));
  EXPECT_EQ(string(""), b({0x0D, 0x00}));
  EXPECT_THROW(string("a\x80"), std::invalid_argument);
  EXPECT_THROW(string(std::string_view("a\0b", 3)), std::invalid_argument);
}

TEST(AmlNameString, PadsSegmentsAndUsesPrefixes) {
  EXPECT_EQ(name_string("_HID"), ascii("_HID"));
  EXPECT_EQ(name_string("RTC"), ascii("RTC_"));
  EXPECT_EQ(name_string("\\_SB"), ascii("\\_SB_"));
  EXPECT_EQ(name_string("^PCI0"), ascii("^PCI0"));
  EXPECT_EQ(name_string("^^A1"), ascii("^^A1__"));
  EXPECT_EQ(name_string("\\"), b({'\\', 0x00}));  // NullName after the root
  EXPECT_EQ(name_string("\\_SB.PCI0"), cat({b({'\\', 0x2E}), ascii("_SB_PCI0")}));  // DualName
  EXPECT_EQ(name_string("\\_SB.PCI0.ISA.COM1"),
            cat({b({'\\', 0x2F, 4}), ascii("_SB_PCI0ISA_COM1")}));  // MultiName, 4 segments
}

TEST(AmlNameString, RejectsInvalidNames) {
  for (std::string_view bad : {"", "1ABC", "ABCDE", "abc", "A..B", "A.", ".A", "A-B", "\\^A"}) {
    EXPECT_THROW(name_string(bad), std::invalid_argument) << bad;
  }
}

TEST(AmlEisaId, CompressesVendorAndProduct) {
  // 'P','N','P' = 16,14,16 in 5 bits each -> 0x41D0 stored big-endian, then 0x0A 0x03.
  EXPECT_EQ(eisa_id_value("PNP0A03"), 0x030AD041u);
  EXPECT_EQ(eisa_id_value("PNP0501"), 0x0105D041u);
  EXPECT_EQ(eisa_id_value("PNP0B00"), 0x000BD041u);
  EXPECT_EQ(eisa_id("PNP0A03"), b({0x0C, 0x41, 0xD0, 0x0A, 0x03}));
  for (std::string_view bad : {"pnp0a03", "PNP0A0", "PNP0A033", "PNP0A0G", "P1P0A03"}) {
    EXPECT_THROW(eisa_id_value(bad), std::invalid_argument) << bad;
  }
}

TEST(AmlBuffer, HoldsSizeThenBytes) {
  // BufferOp, PkgLength 6 (itself + BytePrefix 3 + 3 bytes), BufferSize, data.
  EXPECT_EQ(buffer(b({1, 2, 3})), b({0x11, 0x06, 0x0A, 0x03, 1, 2, 3}));
  EXPECT_EQ(buffer({}), b({0x11, 0x02, 0x00}));
}

TEST(AmlPackage, HoldsCountThenElements) {
  EXPECT_EQ(package({integer(0), integer(1)}), b({0x12, 0x04, 0x02, 0x00, 0x01}));
  EXPECT_EQ(package({}), b({0x12, 0x02, 0x00}));
  EXPECT_NO_THROW(package(std::vector<Bytes>(255, integer(0))));
  EXPECT_THROW(package(std::vector<Bytes>(256, integer(0))), std::invalid_argument);
}

TEST(AmlNamedObjects, EncodeNameScopeAndDevice) {
  EXPECT_EQ(name("_UID", integer(1)), cat({b({0x08}), ascii("_UID"), b({0x01})}));
  EXPECT_EQ(scope("\\_SB", {}), cat({b({0x10, 0x06}), ascii("\\_SB_")}));
  EXPECT_EQ(device("COM1", {}), cat({b({0x5B, 0x82, 0x05}), ascii("COM1")}));
}

TEST(AmlNamedObjects, NestedTermsDecodeWithLongPkgLengths) {
  // A device big enough for a two-byte PkgLength inside a scope needing one too.
  const Bytes big(200, std::byte{0x5A});
  const Bytes aml =
      scope("\\_SB", {device("DEV", {name("_HID", eisa_id("PNP0501")), name("BIG", buffer(big)),
                                     name("PKG", package({string("x"), integer(7)}))}),
                      name("^TOP", integer(0x1234))});
  const auto ns = decode_aml(aml);
  ASSERT_EQ(ns.devices, std::vector<std::string>{"\\_SB_.DEV_"});
  EXPECT_EQ(ns.names.at("\\_SB_.DEV_._HID").integer, 0x0105D041u);
  EXPECT_EQ(ns.names.at("\\_SB_.DEV_.BIG_").buffer, big);
  const AmlObject& pkg = ns.names.at("\\_SB_.DEV_.PKG_");
  ASSERT_EQ(pkg.kind, AmlObject::Kind::kPackage);
  ASSERT_EQ(pkg.elements.size(), 2u);
  EXPECT_EQ(pkg.elements[0].string, "x");
  EXPECT_EQ(pkg.elements[1].integer, 7u);
  EXPECT_EQ(ns.names.at("\\TOP_").integer, 0x1234u);  // '^' from \_SB goes to the root
}

TEST(AmlResources, SmallDescriptorsMatchTheSpecLayout) {
  // I/O port descriptor: 0x47, Decode16, min, max (little-endian), alignment, length.
  EXPECT_EQ(io(0x03F8, 8), b({0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08}));
  // IRQ descriptor without flags: 0x22 and the 16-bit mask.
  EXPECT_EQ(irq_no_flags(4), b({0x22, 0x10, 0x00}));
  EXPECT_EQ(irq_no_flags(12), b({0x22, 0x00, 0x10}));
  EXPECT_THROW(irq_no_flags(16), std::invalid_argument);
}

TEST(AmlResources, WordBusNumberMatchesTheSpecLayout) {
  // Tag 0x88, length 13, bus space (2), producer + MinFixed + MaxFixed (0x0C), no type flags,
  // granularity 0, min 0, max 0xFF, translation 0, length 0x100.
  EXPECT_EQ(word_bus_number(0, 0xFF), b({0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00,
                                         0xFF, 0x00, 0x00, 0x00, 0x00, 0x01}));
}

TEST(AmlResources, AddressWindowsDecodeToTheirRanges) {
  const Bytes all = cat({dword_io(0x0D00, 0xFFFF), dword_memory(0xE0000000, 0xFEBFFFFF),
                         qword_memory(0x8000000000, 0x87FFFFFFFF), b({0x79, 0x00})});
  const auto res = decode_resources(all);
  ASSERT_EQ(res.size(), 4u);
  EXPECT_EQ(res[0].kind, Resource::Kind::kIoRange);
  EXPECT_EQ(res[0].width, 32u);
  EXPECT_EQ(res[0].min, 0x0D00u);
  EXPECT_EQ(res[0].max, 0xFFFFu);
  EXPECT_EQ(res[0].length, 0xF300u);
  EXPECT_EQ(res[0].type_flags & 0x03, 0x03);  // _RNG: entire range
  EXPECT_EQ(res[1].kind, Resource::Kind::kMemoryRange);
  EXPECT_EQ(res[1].width, 32u);
  EXPECT_EQ(res[1].length, 0x1EC00000u);
  EXPECT_EQ(res[1].type_flags & 0x01, 0x01);  // _RW: read-write
  EXPECT_EQ(res[2].kind, Resource::Kind::kMemoryRange);
  EXPECT_EQ(res[2].width, 64u);
  EXPECT_EQ(res[2].min, 0x8000000000u);
  EXPECT_EQ(res[2].length, 0x800000000u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(res[i].general_flags, 0x0C) << i;  // producer, MinFixed, MaxFixed, PosDecode
  }
}

TEST(AmlResources, RejectsEmptyAndUnrepresentableRanges) {
  EXPECT_THROW(dword_io(2, 1), std::invalid_argument);
  EXPECT_THROW(word_bus_number(0, 0xFFFF), std::invalid_argument);  // length 0x10000
  EXPECT_THROW(qword_memory(0, ~uint64_t{0}), std::invalid_argument);
  EXPECT_NO_THROW(qword_memory(1, ~uint64_t{0}));
}

TEST(AmlResources, TemplateEndsWithEndTagInsideABuffer) {
  const Bytes rt = resource_template({io(0x70, 2), irq_no_flags(8)});
  const auto ns = decode_aml(name("_CRS", rt));
  const AmlObject& crs = ns.names.at("\\_CRS");
  ASSERT_EQ(crs.kind, AmlObject::Kind::kBuffer);
  ASSERT_GE(crs.buffer.size(), 2u);
  EXPECT_EQ(crs.buffer[crs.buffer.size() - 2], std::byte{0x79});
  const auto res = decode_resources(crs.buffer);
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[0].kind, Resource::Kind::kIo);
  EXPECT_EQ(res[0].min, 0x70u);
  EXPECT_EQ(res[0].length, 2u);
  EXPECT_EQ(res[1].kind, Resource::Kind::kIrq);
  EXPECT_EQ(res[1].min, 8u);
  EXPECT_EQ(res[2].kind, Resource::Kind::kEndTag);
}

}  // namespace
}  // namespace firmware::aml
