// The Fixed ACPI Description Table and the Firmware ACPI Control Structure it points to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "firmware/acpi_tables.h"

namespace firmware {

// FACS (ACPI 6.x section 5.2.10): 64 bytes, to be placed on a 64-byte boundary.
std::vector<std::byte> build_facs();

// A finished FADT (revision 6) describing the PIIX4 power-management blocks of `cfg`, pointing
// at the FACS and DSDT placed at the given guest addresses (both below 4 GiB).
std::vector<std::byte> build_fadt(const AcpiConfig& cfg, uint64_t facs_gpa, uint64_t dsdt_gpa);

}  // namespace firmware
