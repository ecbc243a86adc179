// The System Resource Affinity Table: which proximity domain (guest NUMA node) each vCPU and
// each range of guest RAM belongs to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace firmware {

// One vCPU: its local APIC ID and its guest NUMA node.
struct SratCpu {
  uint32_t apic_id;  // < 255: only xAPIC affinity entries are built, as the MADT only has xAPICs
  uint32_t node;
};

// One guest-physical RAM range of a node, already cut around the PCI hole by the caller.
struct SratMemory {
  uint64_t base;
  uint64_t size;
  uint32_t node;
};

struct SratConfig {
  std::vector<SratCpu> cpus;
  std::vector<SratMemory> memory;  // non-empty, non-overlapping; any order
  std::string oem_id = "MINVMM";   // at most 6 characters
};

// A finished SRAT (ACPI 6.5 section 5.2.16, revision 3) with one Processor Local APIC Affinity
// structure per vCPU and one Memory Affinity structure per range, all enabled. A range crossing
// the legacy hole [640 KiB, 1 MiB) is split around it, as QEMU does: that hole is not RAM in the
// e820 map, and Linux only needs the RAM it reports to be covered. Throws std::invalid_argument
// for no CPUs or memory, an APIC ID above 254, an empty, overflowing or overlapping range.
std::vector<std::byte> build_srat(const SratConfig& cfg);

}  // namespace firmware
