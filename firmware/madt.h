// The Multiple APIC Description Table: local APICs, the IOAPIC and ISA interrupt overrides.
#pragma once

#include <cstddef>
#include <vector>

#include "firmware/acpi_tables.h"

namespace firmware {

// A finished MADT for `cfg`.
std::vector<std::byte> build_madt(const AcpiConfig& cfg);

}  // namespace firmware
