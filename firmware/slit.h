// The System Locality Information Table: the relative memory latency between guest NUMA nodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace firmware {

// ACPI 6.5 section 5.2.17: a node's distance to itself is 10; 255 means unreachable.
inline constexpr uint8_t kSlitLocalDistance = 10;
inline constexpr uint8_t kSlitUnreachable = 255;

// A finished SLIT (revision 1) where distances[i][j] is the distance from node i to node j.
// The matrix must be non-empty and square, with 10 on the diagonal and values above 10
// elsewhere (Linux's slit_valid() discards the table otherwise; asymmetric is allowed). Throws
// std::invalid_argument naming the offending entry.
std::vector<std::byte> build_slit(const std::vector<std::vector<uint8_t>>& distances,
                                  std::string_view oem_id = "MINVMM");

}  // namespace firmware
