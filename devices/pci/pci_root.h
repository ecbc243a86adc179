// The PCI root: configuration mechanism #1 for bus 0 (PCI 3.0 section 3.2.2.3.2), the PIIX3 reset
// control register that shares its ports, and the placement of the functions' BARs on the buses.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "devices/bus/bus.h"
#include "devices/pci/pci_device.h"

namespace devices::pci {

// The fixed INTx routing of this machine, which the ACPI _PRT describes too: pin 0..3 (INTA#..
// INTD#, i.e. the interrupt pin register minus one) of slot `slot` on bus 0 drives IOAPIC
// GSI 16 + ((slot + pin) % 4), the usual swizzle that spreads functions over the four lines.
// Throws std::invalid_argument for slot > 31 or pin > 3.
uint32_t pci_intx_gsi(uint8_t slot, uint8_t pin);

// A BusDevice for the PIO range [kBase, kBase + kLength) = 0xCF8..0xCFF:
//   0xCF8, 4 bytes        CONFIG_ADDRESS (only dword accesses, as the specification requires)
//   0xCF9, 1 byte         PIIX3 reset control register (RCR)
//   0xCFC..0xCFF, 1/2/4   CONFIG_DATA, any offset that keeps the access inside the dword
// Other accesses in the range read all ones and are ignored on write.
class PciRoot : public BusDevice {
 public:
  static constexpr uint64_t kBase = 0xcf8;
  static constexpr uint64_t kLength = 8;

  // Told where a function's queued-write ranges (PciDevice::queued_writes) now are on the MMIO
  // bus (`on`) or are no longer. Called with the root's placement lock held: it must not call
  // into the root or a device.
  using QueueWrites = std::function<void(uint64_t gpa, uint64_t length, bool on)>;

  // BARs of attached functions are placed on `pio` (I/O BARs) and `mmio` (memory BARs), which
  // must outlive the root. `reset` runs (on the vCPU thread, no lock held) when the guest asks
  // the RCR for a reset. Without `queue_writes`, every write reaches its device at once.
  PciRoot(Bus& pio, Bus& mmio, std::function<void()> reset, QueueWrites queue_writes = {});

  // Attaches `function` as bus 0, device `dev` (0..31), function `fn` (0..7) and maps the BARs
  // it already decodes. Throws std::invalid_argument when out of range, null or taken.
  void attach(uint8_t dev, uint8_t fn, std::shared_ptr<PciDevice> function);

  // A configuration access to bus 0 by the VMM (e.g. to preassign BARs), with the same effects as
  // one through CONFIG_DATA. Absent functions read all ones.
  uint32_t config_read(uint8_t dev, uint8_t fn, uint8_t offset, size_t size);
  void config_write(uint8_t dev, uint8_t fn, uint8_t offset, size_t size, uint32_t value);

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

 private:
  struct BarMapping {
    std::shared_ptr<BusDevice> window;  // created on first use
    std::optional<uint64_t> mapped;     // base the range sits at on its bus now
    std::optional<uint64_t> wanted;     // base the guest's programming asks for
    uint64_t size = 0;
    bool io = false;
    bool warned = false;
    std::vector<PciDevice::QueuedRange> queued;  // the function's, for a memory BAR
  };
  struct Function {
    std::shared_ptr<PciDevice> device;
    std::array<BarMapping, kBarCount> bars;
    uint64_t applied_generation = 0;
    bool applied = false;
  };

  std::shared_ptr<PciDevice> function_at(uint8_t devfn) const;
  void config_access_done(uint8_t devfn, const std::shared_ptr<PciDevice>& device);
  void reconcile_locked();
  bool place_locked(uint8_t devfn, Function& f, int bar);
  static void warn_overlap(uint8_t devfn, int bar, BarMapping& m);
  void queue_writes_locked(const BarMapping& m, uint64_t base, bool on) const;
  void reset_control_write(uint8_t value);

  Bus& pio_;
  Bus& mmio_;
  const std::function<void()> reset_;
  const QueueWrites queue_writes_;

  // Guards the registers and the function table. Never held while a device runs.
  mutable std::mutex mutex_;
  uint32_t config_address_ = 0;
  uint8_t reset_control_ = 0;
  std::array<std::shared_ptr<PciDevice>, 256> functions_;  // by devfn = dev << 3 | fn

  // Guards the BAR placement. Held across Bus updates (a Bus never calls a device with its own
  // lock held) but never across a call into a device.
  std::mutex mapping_mutex_;
  std::map<uint8_t, Function> mappings_;  // by devfn
};

}  // namespace devices::pci
