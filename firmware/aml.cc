#include "firmware/aml.h"

#include <limits>
#include <stdexcept>
#include <string>

#include "firmware/byte_writer.h"

namespace firmware::aml {
namespace {

// Opcodes and prefixes, ACPI 6.x section 20.2.
constexpr std::byte kZeroOp{0x00};
constexpr std::byte kOneOp{0x01};
constexpr std::byte kNameOp{0x08};
constexpr std::byte kBytePrefix{0x0A};
constexpr std::byte kWordPrefix{0x0B};
constexpr std::byte kDWordPrefix{0x0C};
constexpr std::byte kStringPrefix{0x0D};
constexpr std::byte kQWordPrefix{0x0E};
constexpr std::byte kScopeOp{0x10};
constexpr std::byte kBufferOp{0x11};
constexpr std::byte kPackageOp{0x12};
constexpr std::byte kDualNamePrefix{0x2E};
constexpr std::byte kMultiNamePrefix{0x2F};
constexpr std::byte kExtOpPrefix{0x5B};
constexpr std::byte kDeviceOp{0x82};  // after kExtOpPrefix
constexpr char kRootChar = '\\';
constexpr char kParentPrefixChar = '^';

// Resource descriptor tags and fields, ACPI 6.x section 6.4.
constexpr uint8_t kSmallIrqNoFlags = 0x22;  // IRQ descriptor, type 0x04, length 2
constexpr uint8_t kSmallIo = 0x47;          // I/O port descriptor, type 0x08, length 7
constexpr uint8_t kSmallEndTag = 0x79;      // End Tag, type 0x0F, length 1
constexpr uint8_t kIoDecode16 = 0x01;
constexpr uint8_t kLargeDWordAddress = 0x87;
constexpr uint8_t kLargeWordAddress = 0x88;
constexpr uint8_t kLargeQWordAddress = 0x8A;
constexpr uint8_t kSpaceMemory = 0;
constexpr uint8_t kSpaceIo = 1;
constexpr uint8_t kSpaceBusNumber = 2;
// General flags (section 6.4.3.5): _MAF and _MIF set, _DEC positive, bit 0 clear
// for a producer. A host bridge produces its windows for the devices below it.
constexpr uint8_t kProducerFixedRange = 0x0C;
constexpr uint8_t kMemoryCacheableReadWrite = 0x03;  // _MEM = 1 (cacheable), _RW = 1
constexpr uint8_t kIoEntireRange = 0x03;             // _RNG = 3

bool is_lead_name_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_lead_name_char(c) || (c >= '0' && c <= '9'); }

// One NameSeg: 1-4 characters, padded to 4 with '_' (section 20.2.2).
void append_name_seg(Bytes& out, std::string_view seg) {
  if (seg.empty() || seg.size() > 4 || !is_lead_name_char(seg[0])) {
    throw std::invalid_argument("bad AML name segment: '" + std::string(seg) + "'");
  }
  for (size_t i = 0; i < 4; ++i) {
    char c = i < seg.size() ? seg[i] : '_';
    if (!is_name_char(c)) throw std::invalid_argument("bad AML name segment: " + std::string(seg));
    out.push_back(static_cast<std::byte>(c));
  }
}

// An opcode followed by PkgLength and `body`: the shape of every variable-length term.
Bytes with_pkg_length(std::span<const std::byte> opcode, const Bytes& body) {
  Bytes out(opcode.begin(), opcode.end());
  append_bytes(out, pkg_length(body.size()));
  append_bytes(out, body);
  return out;
}

Bytes named_container(std::span<const std::byte> opcode, std::string_view path,
                      const std::vector<Bytes>& terms) {
  Bytes body = name_string(path);
  for (const Bytes& term : terms) append_bytes(body, term);
  return with_pkg_length(opcode, body);
}

// Large Address Space Descriptor header shared by the Word, DWord and QWord forms (section
// 6.4.3.5): tag, length, resource type, general flags, type-specific flags.
Bytes address_header(uint8_t tag, uint16_t length, uint8_t space, uint8_t type_flags) {
  Bytes out{static_cast<std::byte>(tag)};
  append_le<uint16_t>(out, length);
  out.push_back(static_cast<std::byte>(space));
  out.push_back(static_cast<std::byte>(kProducerFixedRange));
  out.push_back(static_cast<std::byte>(type_flags));
  return out;
}

// Granularity, minimum, maximum, translation offset and length, each of width T.
template <std::unsigned_integral T>
Bytes address_descriptor(uint8_t tag, uint8_t space, uint8_t type_flags, T min, T max) {
  // The length field must hold max - min + 1, so a range spanning the whole width is refused.
  if (max < min || static_cast<T>(max - min) == std::numeric_limits<T>::max()) {
    throw std::invalid_argument("resource range empty or too large for its descriptor");
  }
  // The descriptor's length field counts the bytes after itself: 3 flag bytes + 5 fields.
  Bytes out = address_header(tag, static_cast<uint16_t>(3 + 5 * sizeof(T)), space, type_flags);
  append_le<T>(out, 0);  // granularity: no alignment constraint beyond the fixed bounds
  append_le<T>(out, min);
  append_le<T>(out, max);
  append_le<T>(out, 0);  // translation offset: CPU and PCI addresses are the same
  append_le<T>(out, static_cast<T>(max - min + 1));
  return out;
}

}  // namespace

Bytes pkg_length(size_t body_size) {
  // The encoded length includes the PkgLength bytes themselves. A one-byte PkgLength holds 6
  // bits; the n-byte forms hold 4 bits in the lead byte plus 8 per following byte.
  for (size_t n = 1; n <= 4; ++n) {
    const uint64_t limit = n == 1 ? 0x3F : (uint64_t{1} << (4 + 8 * (n - 1))) - 1;
    const uint64_t total = uint64_t{body_size} + n;
    if (total > limit) continue;
    Bytes out;
    if (n == 1) {
      out.push_back(static_cast<std::byte>(total));
      return out;
    }
    out.push_back(static_cast<std::byte>(((n - 1) << 6) | (total & 0x0F)));
    for (size_t i = 1; i < n; ++i)
      out.push_back(static_cast<std::byte>(total >> (4 + 8 * (i - 1))));
    return out;
  }
  throw std::invalid_argument("AML package longer than PkgLength can encode");
}

Bytes integer(uint64_t value) {
  Bytes out;
  if (value == 0) {
    out.push_back(kZeroOp);
  } else if (value == 1) {
    out.push_back(kOneOp);
  } else if (value <= 0xFF) {
    out.push_back(kBytePrefix);
    append_le<uint8_t>(out, static_cast<uint8_t>(value));
  } else if (value <= 0xFFFF) {
    out.push_back(kWordPrefix);
    append_le<uint16_t>(out, static_cast<uint16_t>(value));
  } else if (value <= 0xFFFFFFFF) {
    out.push_back(kDWordPrefix);
    append_le<uint32_t>(out, static_cast<uint32_t>(value));
  } else {
    out.push_back(kQWordPrefix);
    append_le<uint64_t>(out, value);
  }
  return out;
}

Bytes string(std::string_view text) {
  Bytes out{kStringPrefix};
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x01 || u > 0x7F) throw std::invalid_argument("AML strings hold ASCII 0x01-0x7F");
    out.push_back(static_cast<std::byte>(c));
  }
  out.push_back(std::byte{0});
  return out;
}

Bytes name_string(std::string_view path) {
  Bytes out;
  if (!path.empty() && path[0] == kRootChar) {
    out.push_back(static_cast<std::byte>(kRootChar));
    path.remove_prefix(1);
  } else {
    while (!path.empty() && path[0] == kParentPrefixChar) {
      out.push_back(static_cast<std::byte>(kParentPrefixChar));
      path.remove_prefix(1);
    }
  }
  if (path.empty()) {
    if (out.empty()) throw std::invalid_argument("empty AML name");
    out.push_back(std::byte{0});  // NullName: the root itself ("\")
    return out;
  }
  std::vector<std::string_view> segs;
  for (size_t start = 0;;) {
    size_t dot = path.find('.', start);
    segs.push_back(path.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (segs.size() > 255) throw std::invalid_argument("AML name has too many segments");
  if (segs.size() == 2) {
    out.push_back(kDualNamePrefix);
  } else if (segs.size() > 2) {
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<std::byte>(segs.size()));
  }
  for (std::string_view seg : segs) append_name_seg(out, seg);
  return out;
}

uint32_t eisa_id_value(std::string_view id) {
  // Three uppercase letters packed 5 bits each ('A' = 1) into a big-endian 16-bit vendor word,
  // then four hex digits as a big-endian product word; the four bytes are read little-endian.
  auto bad = [&] { return std::invalid_argument("bad EISA ID: " + std::string(id)); };
  if (id.size() != 7) throw bad();
  uint32_t vendor = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (id[i] < 'A' || id[i] > 'Z') throw bad();
    vendor = (vendor << 5) | static_cast<uint32_t>(id[i] - 'A' + 1);
  }
  uint32_t product = 0;
  for (size_t i = 3; i < 7; ++i) {
    char c = id[i];
    uint32_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      throw bad();
    }
    product = (product << 4) | digit;
  }
  const uint32_t byte0 = vendor >> 8, byte1 = vendor & 0xFF;
  const uint32_t byte2 = product >> 8, byte3 = product & 0xFF;
  return byte0 | (byte1 << 8) | (byte2 << 16) | (byte3 << 24);
}

Bytes eisa_id(std::string_view id) { return integer(eisa_id_value(id)); }

Bytes buffer(std::span<const std::byte> data) {
  Bytes body = integer(data.size());
  append_bytes(body, data);
  return with_pkg_length(std::span(&kBufferOp, 1), body);
}

Bytes package(const std::vector<Bytes>& elements) {
  // NumElements is a single byte; longer lists would need VarPackageOp, which nothing here needs.
  if (elements.size() > 255) throw std::invalid_argument("AML package with over 255 elements");
  Bytes body{static_cast<std::byte>(elements.size())};
  for (const Bytes& e : elements) append_bytes(body, e);
  return with_pkg_length(std::span(&kPackageOp, 1), body);
}

Bytes name(std::string_view path, const Bytes& object) {
  Bytes out{kNameOp};
  append_bytes(out, name_string(path));
  append_bytes(out, object);
  return out;
}

Bytes scope(std::string_view path, const std::vector<Bytes>& terms) {
  return named_container(std::span(&kScopeOp, 1), path, terms);
}

Bytes device(std::string_view path, const std::vector<Bytes>& terms) {
  constexpr std::byte kOpcode[] = {kExtOpPrefix, kDeviceOp};
  return named_container(kOpcode, path, terms);
}

Bytes word_bus_number(uint16_t min, uint16_t max) {
  return address_descriptor<uint16_t>(kLargeWordAddress, kSpaceBusNumber, 0, min, max);
}

Bytes io(uint16_t base, uint8_t length) {
  // I/O Port Descriptor (section 6.4.2.5): decode, min base, max base, alignment, length.
  Bytes out{static_cast<std::byte>(kSmallIo), static_cast<std::byte>(kIoDecode16)};
  append_le<uint16_t>(out, base);
  append_le<uint16_t>(out, base);
  append_le<uint8_t>(out, 1);
  append_le<uint8_t>(out, length);
  return out;
}

Bytes dword_io(uint32_t min, uint32_t max) {
  return address_descriptor<uint32_t>(kLargeDWordAddress, kSpaceIo, kIoEntireRange, min, max);
}

Bytes dword_memory(uint32_t min, uint32_t max) {
  return address_descriptor<uint32_t>(kLargeDWordAddress, kSpaceMemory, kMemoryCacheableReadWrite,
                                      min, max);
}

Bytes qword_memory(uint64_t min, uint64_t max) {
  return address_descriptor<uint64_t>(kLargeQWordAddress, kSpaceMemory, kMemoryCacheableReadWrite,
                                      min, max);
}

Bytes irq_no_flags(uint8_t irq) {
  // IRQ Descriptor without the optional flags byte (section 6.4.2.1): a 16-bit IRQ mask.
  if (irq >= 16) throw std::invalid_argument("IRQNoFlags takes an ISA IRQ (0-15)");
  Bytes out{static_cast<std::byte>(kSmallIrqNoFlags)};
  append_le<uint16_t>(out, static_cast<uint16_t>(1u << irq));
  return out;
}

Bytes resource_template(const std::vector<Bytes>& descriptors) {
  Bytes body;
  for (const Bytes& d : descriptors) append_bytes(body, d);
  // End Tag (section 6.4.2.9); a zero checksum means "treat as correct".
  body.push_back(static_cast<std::byte>(kSmallEndTag));
  body.push_back(std::byte{0});
  return buffer(body);
}

}  // namespace firmware::aml
