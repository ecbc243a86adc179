#include "firmware/srat.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "firmware/acpi_table.h"
#include "firmware/byte_writer.h"

namespace firmware {
namespace {

// ACPI 6.5 section 5.2.16: after the header, a 4-byte field that must be 1 "for backward
// compatibility" and 8 reserved bytes.
constexpr uint8_t kSratRevision = 3;
constexpr uint32_t kSratTableRevision = 1;

// Sections 5.2.16.1 (Processor Local APIC/SAPIC Affinity) and 5.2.16.2 (Memory Affinity).
constexpr uint8_t kTypeLapicAffinity = 0, kLenLapicAffinity = 16;
constexpr uint8_t kTypeMemoryAffinity = 1, kLenMemoryAffinity = 40;
constexpr uint32_t kFlagEnabled = 1u << 0;

// x2APIC affinity structures (type 2, section 5.2.16.3) would be needed above 254; the MADT builds
// no x2APIC entries either, so such IDs are refused rather than half-described.
constexpr uint32_t kMaxXapicId = 254;

// The PC's legacy hole: VGA memory, option ROMs and the BIOS.
constexpr uint64_t kHole640K = 640 * 1024;
constexpr uint64_t kHole1M = 1024 * 1024;

void append_cpu(std::vector<std::byte>& t, const SratCpu& cpu) {
  append_le<uint8_t>(t, kTypeLapicAffinity);
  append_le<uint8_t>(t, kLenLapicAffinity);
  append_le<uint8_t>(t, static_cast<uint8_t>(cpu.node));  // Proximity Domain [7:0]
  append_le<uint8_t>(t, static_cast<uint8_t>(cpu.apic_id));
  append_le<uint32_t>(t, kFlagEnabled);
  append_le<uint8_t>(t, 0);  // Local SAPIC EID (Itanium only)
  for (int shift : {8, 16, 24}) {
    append_le<uint8_t>(t, static_cast<uint8_t>(cpu.node >> shift));  // Proximity Domain [31:8]
  }
  append_le<uint32_t>(t, 0);  // Clock Domain: one clock for every vCPU
}

void append_memory(std::vector<std::byte>& t, uint64_t base, uint64_t size, uint32_t node) {
  append_le<uint8_t>(t, kTypeMemoryAffinity);
  append_le<uint8_t>(t, kLenMemoryAffinity);
  append_le<uint32_t>(t, node);
  append_le<uint16_t>(t, 0);             // reserved
  append_le<uint64_t>(t, base);          // Base Address Low and High
  append_le<uint64_t>(t, size);          // Length Low and High
  append_le<uint32_t>(t, 0);             // reserved
  append_le<uint32_t>(t, kFlagEnabled);  // not hot-pluggable, not non-volatile
  append_le<uint64_t>(t, 0);             // reserved
}

void check_memory(std::vector<SratMemory> ranges) {
  if (ranges.empty()) throw std::invalid_argument("SRAT needs at least one memory range");
  for (const SratMemory& m : ranges) {
    if (m.size == 0 || m.base + m.size < m.base) {
      throw std::invalid_argument("SRAT memory range at " + std::to_string(m.base) +
                                  " is empty or overflows");
    }
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const SratMemory& a, const SratMemory& b) { return a.base < b.base; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].base < ranges[i - 1].base + ranges[i - 1].size) {
      throw std::invalid_argument("SRAT memory ranges overlap at " +
                                  std::to_string(ranges[i].base));
    }
  }
}

}  // namespace

std::vector<std::byte> build_srat(const SratConfig& cfg) {
  if (cfg.cpus.empty()) throw std::invalid_argument("SRAT needs at least one CPU");
  for (const SratCpu& cpu : cfg.cpus) {
    if (cpu.apic_id > kMaxXapicId) {
      throw std::invalid_argument("SRAT: APIC id " + std::to_string(cpu.apic_id) +
                                  " needs an x2APIC affinity entry, which is not built");
    }
  }
  check_memory(cfg.memory);

  std::vector<std::byte> t = make_table_header("SRAT", kSratRevision, cfg.oem_id);
  append_le<uint32_t>(t, kSratTableRevision);
  append_le<uint64_t>(t, 0);  // reserved
  for (const SratCpu& cpu : cfg.cpus) append_cpu(t, cpu);
  for (const SratMemory& m : cfg.memory) {
    const uint64_t end = m.base + m.size;
    if (m.base < kHole1M && end > kHole640K) {
      if (m.base < kHole640K) append_memory(t, m.base, kHole640K - m.base, m.node);
      if (end > kHole1M) append_memory(t, kHole1M, end - kHole1M, m.node);
    } else {
      append_memory(t, m.base, m.size, m.node);
    }
  }
  finish_table(t);
  return t;
}

}  // namespace firmware
