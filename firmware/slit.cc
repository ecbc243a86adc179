#include "firmware/slit.h"

#include <stdexcept>
#include <string>

#include "firmware/acpi_table.h"
#include "firmware/byte_writer.h"

namespace firmware {
namespace {

constexpr uint8_t kSlitRevision = 1;

std::string entry(size_t i, size_t j) {
  return "SLIT distance[" + std::to_string(i) + "][" + std::to_string(j) + "]";
}

}  // namespace

std::vector<std::byte> build_slit(const std::vector<std::vector<uint8_t>>& distances,
                                  std::string_view oem_id) {
  const size_t n = distances.size();
  if (n == 0) throw std::invalid_argument("SLIT needs at least one locality");
  for (size_t i = 0; i < n; ++i) {
    if (distances[i].size() != n) {
      throw std::invalid_argument("SLIT row " + std::to_string(i) + " has " +
                                  std::to_string(distances[i].size()) + " entries, not " +
                                  std::to_string(n));
    }
    for (size_t j = 0; j < n; ++j) {
      const unsigned d = distances[i][j];
      if (i == j && d != kSlitLocalDistance) {
        throw std::invalid_argument(entry(i, j) + " is " + std::to_string(d) + ", must be 10");
      }
      if (i != j && d <= kSlitLocalDistance) {
        throw std::invalid_argument(entry(i, j) + " is " + std::to_string(d) +
                                    ", must be above 10");
      }
    }
  }
  std::vector<std::byte> t = make_table_header("SLIT", kSlitRevision, oem_id);
  append_le<uint64_t>(t, n);  // Number of System Localities
  for (const auto& row : distances) {
    for (uint8_t d : row) append_le<uint8_t>(t, d);
  }
  finish_table(t);
  return t;
}

}  // namespace firmware
