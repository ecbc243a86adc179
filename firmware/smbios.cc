#include "firmware/smbios.h"

#include <algorithm>
#include <concepts>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "firmware/byte_writer.h"

namespace firmware {
namespace {

// The specification version the structures follow: each structure below has exactly the
// fields DSP0134 3.0.0 defines for it.
constexpr uint8_t kMajor = 3, kMinor = 0, kDocRev = 0;

constexpr std::string_view kVendor = "minivmm";
// minivmm loads the kernel itself and has no BIOS image; these name the table layout.
constexpr std::string_view kBiosVersion = "1.0";
constexpr uint8_t kBiosMajor = 1, kBiosMinor = 0;
constexpr std::string_view kBiosDate = "01/01/2025";  // mm/dd/yyyy (DSP0134 7.1)
constexpr std::string_view kPlatform = "Standard PC (i440FX + PIIX, 1996)";

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
constexpr uint64_t kMaxDeviceSize = 16 * GiB;  // per type 17 device, as QEMU splits RAM
constexpr uint16_t kMaxSpeedMhz = 2000;

constexpr uint16_t kNoHandle = 0xFFFF;       // a cache handle "not provided"
constexpr uint16_t kNoErrorHandle = 0xFFFE;  // "no error information structure"

// One structure (DSP0134 6.1.2): a formatted area starting with type, length and handle,
// then its strings, each NUL-terminated, the set ended by one more NUL (two NULs when empty).
class Structure {
 public:
  Structure(uint8_t type, uint16_t handle) {
    put<uint8_t>(type);
    put<uint8_t>(0);  // Length, known at finish()
    put<uint16_t>(handle);
  }

  template <std::unsigned_integral T>
  void put(T value) {
    append_le<T>(formatted_, value);
  }

  // The string's number for a STRING field; an empty string is "no string" (number 0), as
  // DSP0134 6.1.3 forbids empty strings in the set.
  uint8_t str(std::string_view s) {
    if (s.empty()) return 0;
    if (s.find('\0') != std::string_view::npos) {
      throw std::invalid_argument("SMBIOS string contains a NUL");
    }
    strings_.emplace_back(s);
    return static_cast<uint8_t>(strings_.size());
  }

  std::vector<std::byte> finish() {
    std::vector<std::byte> out = formatted_;
    out[1] = static_cast<std::byte>(formatted_.size());
    for (const std::string& s : strings_) {
      for (char c : s) out.push_back(static_cast<std::byte>(c));
      out.push_back(std::byte{0});
    }
    if (strings_.empty()) out.push_back(std::byte{0});
    out.push_back(std::byte{0});
    return out;
  }

 private:
  std::vector<std::byte> formatted_;
  std::vector<std::string> strings_;
};

// Type 0, BIOS Information (7.1), 3.0 layout: 24 bytes.
std::vector<std::byte> bios_information(uint16_t handle) {
  Structure s(0, handle);
  s.put<uint8_t>(s.str(kVendor));
  s.put<uint8_t>(s.str(kBiosVersion));
  s.put<uint16_t>(0xF000);  // Starting Address Segment: the F segment, 64 KiB
  s.put<uint8_t>(s.str(kBiosDate));
  s.put<uint8_t>(0);           // ROM Size: 64 KiB * (n + 1)
  s.put<uint64_t>(1u << 3);    // Characteristics: "BIOS Characteristics are not supported"
  s.put<uint8_t>(1u << 0);     // Extension Byte 1 (7.1.2.1): ACPI is supported
  s.put<uint8_t>(1u << 4);     // Extension Byte 2 (7.1.2.2): this is a virtual machine
  s.put<uint8_t>(kBiosMajor);  // System BIOS Major Release
  s.put<uint8_t>(kBiosMinor);  // System BIOS Minor Release
  s.put<uint8_t>(0xFF);        // Embedded Controller Firmware Major: no such controller
  s.put<uint8_t>(0xFF);        // Embedded Controller Firmware Minor
  return s.finish();
}

// Type 1, System Information (7.2), 3.0 layout: 27 bytes.
std::vector<std::byte> system_information(const SmbiosConfig& cfg, uint16_t handle) {
  Structure s(1, handle);
  s.put<uint8_t>(s.str(kVendor));      // Manufacturer
  s.put<uint8_t>(s.str(cfg.vm_name));  // Product Name
  s.put<uint8_t>(0);                   // Version
  s.put<uint8_t>(0);                   // Serial Number
  // 7.2.1: time_low, time_mid and time_hi_and_version are stored little-endian; the clock
  // sequence and node bytes in text order.
  const std::array<uint8_t, 16> u = cfg.uuid.value_or(std::array<uint8_t, 16>{});
  for (size_t i : {3, 2, 1, 0, 5, 4, 7, 6}) s.put<uint8_t>(u[i]);
  for (size_t i = 8; i < 16; ++i) s.put<uint8_t>(u[i]);
  s.put<uint8_t>(0x06);              // Wake-up Type: Power Switch
  s.put<uint8_t>(0);                 // SKU Number
  s.put<uint8_t>(s.str(kPlatform));  // Family
  return s.finish();
}

// Type 3, System Enclosure or Chassis (7.4), no contained elements: 22 bytes.
std::vector<std::byte> chassis(uint16_t handle) {
  Structure s(3, handle);
  s.put<uint8_t>(s.str(kVendor));  // Manufacturer
  s.put<uint8_t>(0x01);            // Type: Other, no chassis lock
  s.put<uint8_t>(0);               // Version
  s.put<uint8_t>(0);               // Serial Number
  s.put<uint8_t>(0);               // Asset Tag
  // Boot-up, power supply and thermal state: Safe.
  for (int state = 0; state < 3; ++state) s.put<uint8_t>(0x03);
  s.put<uint8_t>(0x02);  // Security Status: Unknown
  s.put<uint32_t>(0);    // OEM-defined
  s.put<uint8_t>(0);     // Height: unspecified
  s.put<uint8_t>(0);     // Number of Power Cords: unspecified
  s.put<uint8_t>(0);     // Contained Element Count
  s.put<uint8_t>(0);     // Contained Element Record Length
  s.put<uint8_t>(0);     // SKU Number
  return s.finish();
}

// Type 4, Processor Information (7.5), 3.0 layout: 48 bytes.
std::vector<std::byte> processor(const SmbiosConfig& cfg, uint32_t socket, uint16_t handle) {
  const uint32_t threads = cfg.cores * cfg.threads;  // per socket
  // 7.5.6-7.5.8: a count above 255 is 0xFF in the byte field and exact in the 3.0 word field.
  auto byte_count = [](uint32_t n) { return static_cast<uint8_t>(std::min<uint32_t>(n, 0xFF)); };
  uint16_t characteristics = 1u << 2;               // 7.5.9: 64-bit capable
  if (cfg.cores > 1) characteristics |= 1u << 3;    // multi-core
  if (cfg.threads > 1) characteristics |= 1u << 4;  // hardware threads
  Structure s(4, handle);
  s.put<uint8_t>(s.str("CPU " + std::to_string(socket)));  // Socket Designation
  s.put<uint8_t>(0x03);                                    // Processor Type: Central Processor
  s.put<uint8_t>(0xFE);            // Processor Family: see Processor Family 2
  s.put<uint8_t>(s.str(kVendor));  // Processor Manufacturer
  s.put<uint64_t>(0);              // Processor ID: the guest reads CPUID itself
  s.put<uint8_t>(0);               // Processor Version
  s.put<uint8_t>(0);               // Voltage: unknown
  s.put<uint16_t>(0);              // External Clock: unknown
  s.put<uint16_t>(kMaxSpeedMhz);   // Max Speed
  s.put<uint16_t>(kMaxSpeedMhz);   // Current Speed
  s.put<uint8_t>(0x41);            // Status: socket populated, CPU enabled
  s.put<uint8_t>(0x01);            // Processor Upgrade: Other
  for (int level = 0; level < 3; ++level) s.put<uint16_t>(kNoHandle);  // L1-L3 cache handles
  s.put<uint8_t>(0);                                                   // Serial Number
  s.put<uint8_t>(0);                                                   // Asset Tag
  s.put<uint8_t>(0);                                                   // Part Number
  s.put<uint8_t>(byte_count(cfg.cores));                               // Core Count
  s.put<uint8_t>(byte_count(cfg.cores));                               // Core Enabled
  s.put<uint8_t>(byte_count(threads));                                 // Thread Count
  s.put<uint16_t>(characteristics);
  s.put<uint16_t>(0x01);  // Processor Family 2: Other (the guest's CPUID names the real one)
  s.put<uint16_t>(static_cast<uint16_t>(cfg.cores));  // Core Count 2
  s.put<uint16_t>(static_cast<uint16_t>(cfg.cores));  // Core Enabled 2
  s.put<uint16_t>(static_cast<uint16_t>(threads));    // Thread Count 2
  return s.finish();
}

// Type 16, Physical Memory Array (7.17), 2.7+ layout: 23 bytes.
std::vector<std::byte> memory_array(uint64_t ram_size, uint16_t devices, uint16_t handle) {
  // 7.17.4: capacities of 2 TiB (0x80000000 KiB) and above go in Extended Maximum Capacity.
  constexpr uint64_t kUseExtended = 0x80000000;
  const uint64_t kib = (ram_size + KiB - 1) / KiB;
  Structure s(16, handle);
  s.put<uint8_t>(0x03);  // Location: System board or motherboard
  s.put<uint8_t>(0x03);  // Use: System memory
  s.put<uint8_t>(0x03);  // Memory Error Correction: None
  s.put<uint32_t>(static_cast<uint32_t>(std::min(kib, kUseExtended)));
  s.put<uint16_t>(kNoErrorHandle);
  s.put<uint16_t>(devices);
  s.put<uint64_t>(kib >= kUseExtended ? ram_size : 0);  // Extended Maximum Capacity, bytes
  return s.finish();
}

// Type 17, Memory Device (7.18), 2.8+ layout: 40 bytes. `size` is at most 16 GiB, so the Size
// word in MiB always suffices and Extended Size (for 32 GiB - 1 MiB and above) stays 0.
std::vector<std::byte> memory_device(uint64_t size, uint32_t index, uint16_t array,
                                     uint16_t handle) {
  Structure s(17, handle);
  s.put<uint16_t>(array);           // Physical Memory Array Handle
  s.put<uint16_t>(kNoErrorHandle);  // Memory Error Information Handle
  s.put<uint16_t>(0xFFFF);          // Total Width: unknown
  s.put<uint16_t>(0xFFFF);          // Data Width: unknown
  s.put<uint16_t>(static_cast<uint16_t>((size + MiB - 1) / MiB));  // Size, MiB (bit 15 clear)
  s.put<uint8_t>(0x09);                                            // Form Factor: DIMM
  s.put<uint8_t>(0);                                               // Device Set: none
  s.put<uint8_t>(s.str("DIMM " + std::to_string(index)));          // Device Locator
  s.put<uint8_t>(0);                                               // Bank Locator
  s.put<uint8_t>(0x07);                                            // Memory Type: RAM
  s.put<uint16_t>(1u << 1);                                        // Type Detail: Other
  s.put<uint16_t>(0);                                              // Speed: unknown
  s.put<uint8_t>(s.str(kVendor));                                  // Manufacturer
  s.put<uint8_t>(0);                                               // Serial Number
  s.put<uint8_t>(0);                                               // Asset Tag
  s.put<uint8_t>(0);                                               // Part Number
  s.put<uint8_t>(0);                                               // Attributes: rank unknown
  s.put<uint32_t>(0);                                              // Extended Size
  s.put<uint16_t>(0);                                              // Configured Memory Speed
  for (int v = 0; v < 3; ++v) s.put<uint16_t>(0);                  // min, max, configured voltage
  return s.finish();
}

// Type 19, Memory Array Mapped Address (7.20), 2.7+ layout: 31 bytes.
std::vector<std::byte> mapped_address(uint64_t base, uint64_t size, uint16_t array,
                                      uint16_t handle) {
  // 7.20: the KiB fields cover 4 TiB; beyond that both read 0xFFFFFFFF and the byte-granular
  // Extended Starting/Ending Address fields hold the range.
  const uint64_t start_kib = base / KiB;
  const uint64_t end_kib = (base + size) / KiB - 1;  // inclusive
  const bool extended = end_kib >= 0xFFFFFFFF;
  Structure s(19, handle);
  s.put<uint32_t>(extended ? 0xFFFFFFFF : static_cast<uint32_t>(start_kib));
  s.put<uint32_t>(extended ? 0xFFFFFFFF : static_cast<uint32_t>(end_kib));
  s.put<uint16_t>(array);
  s.put<uint8_t>(1);  // Partition Width
  s.put<uint64_t>(extended ? base : 0);
  s.put<uint64_t>(extended ? base + size - 1 : 0);
  return s.finish();
}

// Type 32, System Boot Information (7.33): 11 bytes.
std::vector<std::byte> boot_information(uint16_t handle) {
  Structure s(32, handle);
  for (int i = 0; i < 6; ++i) s.put<uint8_t>(0);  // reserved
  s.put<uint8_t>(0);                              // Boot Status: no errors detected
  return s.finish();
}

void check_config(const SmbiosConfig& cfg) {
  if (cfg.sockets == 0 || cfg.cores == 0 || cfg.threads == 0) {
    throw std::invalid_argument("SMBIOS: sockets, cores and threads must be at least 1");
  }
  // Core Count 2 and Thread Count 2 are words, 0xFFFF reserved.
  if (uint64_t{cfg.cores} * cfg.threads >= 0xFFFF) {
    throw std::invalid_argument("SMBIOS: too many cores or threads per socket");
  }
  if (cfg.ram_size == 0) throw std::invalid_argument("SMBIOS: RAM size must not be 0");
  if (cfg.ram_ranges.empty()) throw std::invalid_argument("SMBIOS: no RAM ranges");
  uint64_t prev_end = 0;
  for (size_t i = 0; i < cfg.ram_ranges.size(); ++i) {
    const auto [base, size] = cfg.ram_ranges[i];
    const std::string name = "SMBIOS RAM range " + std::to_string(i);
    if (size == 0 || base % KiB != 0 || size % KiB != 0) {
      throw std::invalid_argument(name + " is empty or not a multiple of 1 KiB");
    }
    if (base + size < base) throw std::invalid_argument(name + " overflows");
    if (i > 0 && base < prev_end) {
      throw std::invalid_argument(name + " overlaps or precedes the one before");
    }
    prev_end = base + size;
  }
}

// Sets the byte at `checksum_at` so that out[offset, offset + length) sums to zero.
void store_checksum(std::vector<std::byte>& out, size_t offset, size_t length, size_t checksum_at) {
  uint8_t sum = 0;
  for (size_t i = offset; i < offset + length; ++i) sum += static_cast<uint8_t>(out[i]);
  out[checksum_at] = static_cast<std::byte>(static_cast<uint8_t>(-sum));
}

// 64-bit entry point (DSP0134 5.2.2): 24 bytes summing to zero.
void append_entry_point3(std::vector<std::byte>& out, uint64_t table_gpa, uint32_t table_size) {
  const size_t at = out.size();
  append_padded_ascii(out, "_SM3_", 5);
  append_le<uint8_t>(out, 0);   // Entry Point Structure Checksum, below
  append_le<uint8_t>(out, 24);  // Entry Point Length
  append_le<uint8_t>(out, kMajor);
  append_le<uint8_t>(out, kMinor);
  append_le<uint8_t>(out, kDocRev);
  append_le<uint8_t>(out, 1);            // Entry Point Revision: 3.0 format
  append_le<uint8_t>(out, 0);            // reserved
  append_le<uint32_t>(out, table_size);  // Structure Table Maximum Size
  append_le<uint64_t>(out, table_gpa);
  store_checksum(out, at, 24, at + 5);
}

// 32-bit entry point (DSP0134 5.2.1): 31 bytes summing to zero, and the 15 bytes from the
// intermediate anchor "_DMI_" summing to zero too.
void append_entry_point21(std::vector<std::byte>& out, uint64_t table_gpa, uint16_t table_size,
                          uint16_t count, uint16_t max_structure) {
  const size_t at = out.size();
  append_padded_ascii(out, "_SM_", 4);
  append_le<uint8_t>(out, 0);     // Entry Point Structure Checksum, below
  append_le<uint8_t>(out, 0x1F);  // Entry Point Length
  append_le<uint8_t>(out, kMajor);
  append_le<uint8_t>(out, kMinor);
  append_le<uint16_t>(out, max_structure);
  append_le<uint8_t>(out, 0);                              // Entry Point Revision: 2.1 format
  for (int i = 0; i < 5; ++i) append_le<uint8_t>(out, 0);  // Formatted Area
  append_padded_ascii(out, "_DMI_", 5);
  append_le<uint8_t>(out, 0);  // Intermediate Checksum, below
  append_le<uint16_t>(out, table_size);
  append_le<uint32_t>(out, static_cast<uint32_t>(table_gpa));
  append_le<uint16_t>(out, count);
  append_le<uint8_t>(out, (kMajor << 4) | kMinor);  // SMBIOS BCD Revision
  store_checksum(out, at + 0x10, 15, at + 0x15);
  store_checksum(out, at, 0x1F, at + 4);
}

}  // namespace

SmbiosBlob build_smbios(const SmbiosConfig& cfg, uint64_t table_gpa) {
  check_config(cfg);
  const uint64_t device_count = (cfg.ram_size + kMaxDeviceSize - 1) / kMaxDeviceSize;
  // Bounded so that the handle numbering below stays within 16 bits; the 64 KiB limit checked
  // at the end is far tighter anyway.
  if (device_count + cfg.ram_ranges.size() + cfg.sockets >= 0xFF00) {
    throw std::invalid_argument("SMBIOS: too many structures");
  }

  std::vector<std::vector<std::byte>> structures;
  uint16_t handle = 0;
  structures.push_back(bios_information(handle++));
  structures.push_back(system_information(cfg, handle++));
  structures.push_back(chassis(handle++));
  for (uint32_t socket = 0; socket < cfg.sockets; ++socket) {
    structures.push_back(processor(cfg, socket, handle++));
  }
  const uint16_t array = handle++;
  structures.push_back(memory_array(cfg.ram_size, static_cast<uint16_t>(device_count), array));
  for (uint64_t i = 0; i < device_count; ++i) {
    const uint64_t size = std::min(kMaxDeviceSize, cfg.ram_size - i * kMaxDeviceSize);
    structures.push_back(memory_device(size, static_cast<uint32_t>(i), array, handle++));
  }
  for (const auto& [base, size] : cfg.ram_ranges) {
    structures.push_back(mapped_address(base, size, array, handle++));
  }
  structures.push_back(boot_information(handle++));
  structures.push_back(Structure(127, handle++).finish());  // End-of-Table (7.45)

  SmbiosBlob blob;
  size_t max_structure = 0;
  for (const auto& s : structures) {
    append_bytes(blob.table, s);
    max_structure = std::max(max_structure, s.size());
  }
  if (kSmbiosEntryPointSize + blob.table.size() > kSmbiosMaxSize) {
    throw std::invalid_argument("SMBIOS tables exceed 64 KiB");
  }
  if (table_gpa > std::numeric_limits<uint32_t>::max() - blob.table.size()) {
    throw std::invalid_argument("SMBIOS table must end below 4 GiB");
  }
  const auto table_size = static_cast<uint16_t>(blob.table.size());
  append_entry_point3(blob.entry_point, table_gpa, table_size);
  blob.entry_point.resize(kSmbios21EntryOffset);
  append_entry_point21(blob.entry_point, table_gpa, table_size,
                       static_cast<uint16_t>(structures.size()),
                       static_cast<uint16_t>(max_structure));
  blob.entry_point.resize(kSmbiosEntryPointSize);
  return blob;
}

}  // namespace firmware
