// A test-side decoder for the subset of AML and resource descriptors that firmware/ emits,
// written from ACPI 6.x chapter 20 and section 6.4 independently of the builder, so that tests
// check the bytes a guest's interpreter would see rather than the builder's own view of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace firmware::testing {

struct AmlObject {
  enum class Kind { kInteger, kString, kBuffer, kPackage };
  Kind kind = Kind::kInteger;
  uint64_t integer = 0;
  std::string string;
  std::vector<std::byte> buffer;
  std::vector<AmlObject> elements;
};

struct AmlNamespace {
  // Absolute paths with 4-character segments, e.g. "\_SB_.PCI0._HID".
  std::map<std::string, AmlObject> names;
  std::vector<std::string> devices;  // in the order they appear
};

// Decodes a TermList of Name, Scope and Device terms holding constant data. Throws
// std::runtime_error on any other opcode, a malformed PkgLength, a term overrunning its
// package, a package whose NumElements disagrees with its contents, or a duplicate name.
AmlNamespace decode_aml(std::span<const std::byte> aml);

// Decodes a PkgLength at the start of `bytes`: {encoded length, bytes the encoding takes}.
std::pair<uint64_t, size_t> decode_pkg_length(std::span<const std::byte> bytes);

struct Resource {
  enum class Kind { kIo, kIrq, kBusNumber, kIoRange, kMemoryRange, kEndTag };
  Kind kind;
  uint64_t min = 0, max = 0, length = 0;  // kIrq: min = max = the IRQ
  unsigned width = 0;                     // address descriptors: 16, 32 or 64
  uint8_t general_flags = 0, type_flags = 0;
};

// Decodes a resource template (a Buffer's contents): every descriptor up to and including
// the End Tag, which must be the last bytes. Throws std::runtime_error when malformed.
std::vector<Resource> decode_resources(std::span<const std::byte> data);

}  // namespace firmware::testing
