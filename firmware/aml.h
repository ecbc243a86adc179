// A small builder for ACPI Machine Language (ACPI 6.x chapter 20): enough to describe a static
// namespace of names, scopes and devices holding integers, strings, packages and resource
// templates. No methods: every object is a constant the guest reads.
//
// Each function returns the complete encoding of one term; compose them by passing the results
// to the enclosing term. Invalid input (a bad name, an out-of-range value) throws
// std::invalid_argument, so a mistake shows at build time instead of in the guest's parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace firmware::aml {

using Bytes = std::vector<std::byte>;

// PkgLength (section 20.2.4) for a package whose contents after the PkgLength are `body_size`
// bytes: the shortest of the 1- to 4-byte forms, counting its own bytes as the spec requires.
Bytes pkg_length(size_t body_size);

// ComputationalData integer (section 20.2.3) in the shortest form: ZeroOp, OneOp, or a
// Byte/Word/DWord/QWord prefix.
Bytes integer(uint64_t value);

// String (section 20.2.3): ASCII 0x01-0x7F, NUL-terminated.
Bytes string(std::string_view text);

// NameString (section 20.2.2): an optional '\' root or '^' parent prefixes, then segments
// separated by '.'. Segments shorter than 4 characters are padded with '_' as ASL does.
Bytes name_string(std::string_view path);

// The ASL EISAID("PNP0A03") macro (section 19.6): the compressed 32-bit ID, and its encoding as an
// integer.
uint32_t eisa_id_value(std::string_view id);
Bytes eisa_id(std::string_view id);

// DefBuffer (section 20.2.5.4) holding `data`.
Bytes buffer(std::span<const std::byte> data);

// DefPackage (section 20.2.5.4) of at most 255 already-encoded data objects.
Bytes package(const std::vector<Bytes>& elements);

// DefName, DefScope and DefDevice (sections 20.2.5.1 and 20.2.5.2).
Bytes name(std::string_view path, const Bytes& object);
Bytes scope(std::string_view path, const std::vector<Bytes>& terms);
Bytes device(std::string_view path, const std::vector<Bytes>& terms);

// Resource descriptors (section 6.4). The address-space descriptors describe windows a bridge
// produces (ResourceProducer, MinFixed, MaxFixed, PosDecode); memory is cacheable read-write and
// I/O covers the entire range. `max` is inclusive and must not be below `min`.
Bytes word_bus_number(uint16_t min, uint16_t max);
Bytes io(uint16_t base, uint8_t length);  // IO(Decode16, base, base, 1, length)
Bytes dword_io(uint32_t min, uint32_t max);
Bytes dword_memory(uint32_t min, uint32_t max);
Bytes qword_memory(uint64_t min, uint64_t max);
Bytes irq_no_flags(uint8_t irq);  // IRQNoFlags(){irq}, irq < 16

// ResourceTemplate: the descriptors followed by an End Tag, wrapped in a Buffer.
Bytes resource_template(const std::vector<Bytes>& descriptors);

}  // namespace firmware::aml
