// The Differentiated System Description Table: the AML namespace of the PC.
#pragma once

#include <cstddef>
#include <vector>

#include "firmware/acpi_tables.h"

namespace firmware {

// A finished DSDT (header, AML, length and checksum) for `cfg`.
std::vector<std::byte> build_dsdt(const AcpiConfig& cfg);

}  // namespace firmware
